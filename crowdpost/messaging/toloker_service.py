"""The Toloker's side: their threads, replies, folders and appeals. No HTTP, no commit.

A Toloker's reply to a composed thread goes to a thread of its own (`parent_id` = the
composed one), one per Toloker: the requester answers there and only that Toloker
sees the answer. Further replies, from either side, land in that same thread.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from crowdpost.errors import ConflictState, DoesNotExist
from crowdpost.kit.bulk import upsert
from crowdpost.kit.ids import format_id, parse_id
from crowdpost.kit.pagination import ListParams
from crowdpost.kit.timefmt import utcnow
from crowdpost.messaging import repository, views
from crowdpost.messaging.repository import ThreadFilters
from crowdpost.messaging.schemas import Folder, InterlocutorRole, ThreadKind
from crowdpost.messaging.service import (
    DEDUPE_WINDOW,
    NewMessage,
    check_texts,
    check_user_folders,
    dedupe_key,
    write_message,
)
from crowdpost.models import Assignment, MessageThread, TolokerThread

APPEALABLE_STATUS = "REJECTED"


def toloker_thread_state(session: Session, user_id: str, public_id: str) -> TolokerThread:
    thread_id = parse_id(public_id)
    state = repository.toloker_state(session, user_id, thread_id) if thread_id is not None else None
    if state is None:
        raise DoesNotExist(f"Message thread {public_id} does not exist")
    return state


def get_toloker_thread(session: Session, user_id: str, public_id: str) -> dict[str, Any]:
    return views.toloker_views(session, [toloker_thread_state(session, user_id, public_id)], user_id)[0]


def list_toloker_threads(session: Session, user_id: str, filters: ThreadFilters, params: ListParams) -> dict[str, Any]:
    states, has_more = repository.toloker_states_page(session, user_id, filters, params)
    return {"items": views.toloker_views(session, states, user_id), "has_more": has_more}


def _land_toloker_message(
    session: Session, thread: MessageThread, user_id: str, text: dict[str, str], key: str
) -> None:
    """Store the message; the requester sees the thread in INBOX, unread."""
    assert thread.requester_id is not None
    write_message(
        session,
        NewMessage(thread.id, thread.requester_id, InterlocutorRole.USER.value, user_id, text, thread.topic, key),
    )
    repository.upsert_requester_state(
        session,
        {
            "requester_id": thread.requester_id,
            "thread_id": thread.id,
            "toloker_id": user_id,
            "interlocutor_role": InterlocutorRole.USER.value,
            "created": thread.created,
            "outbox": False,
            "notification": False,
            "important": False,
        },
        {"inbox": True, "unread": True},
    )
    repository.upsert_toloker_state(
        session,
        {
            "user_id": user_id,
            "thread_id": thread.id,
            "requester_id": thread.requester_id,
            "created": thread.created,
            "inbox": False,
            "notification": False,
            "important": False,
        },
        {"outbox": True, "unread": False},
    )


def do_toloker_reply(session: Session, user_id: str, public_id: str, text: dict[str, str]) -> dict[str, Any]:
    """Returns the thread the reply landed in (the Toloker's own conversation thread)."""
    state = toloker_thread_state(session, user_id, public_id)
    thread = session.get(MessageThread, state.thread_id)
    assert thread is not None
    if not thread.answerable or thread.kind not in (ThreadKind.COMPOSE, ThreadKind.CONVERSATION, ThreadKind.APPEAL):
        raise ConflictState("This thread does not accept replies")
    check_texts(None, text)
    key = dedupe_key("toloker-reply", user_id, thread.id, text)
    first = repository.recent_duplicate(session, key, utcnow() - DEDUPE_WINDOW)
    if first is not None:
        return get_toloker_thread(session, user_id, format_id(first))
    if thread.kind == ThreadKind.COMPOSE:
        target_id = repository.conversation_id(session, thread, user_id, utcnow())
        target = session.get(MessageThread, target_id)
        assert target is not None
    else:
        target = thread
    _land_toloker_message(session, target, user_id, text, key)
    session.expire_all()
    return get_toloker_thread(session, user_id, format_id(target.id))


def do_change_toloker_folders(
    session: Session, user_id: str, public_id: str, folders: list[Folder], *, add: bool
) -> dict[str, Any]:
    columns = check_user_folders(folders)
    state = toloker_thread_state(session, user_id, public_id)
    repository.set_flags(session, TolokerThread, user_id, state.thread_id, dict.fromkeys(columns, add))
    session.expire_all()
    return get_toloker_thread(session, user_id, public_id)


def do_toloker_mark_all_read(session: Session, user_id: str, folder: Folder | None) -> dict[str, Any]:
    return {"marked_read": repository.mark_all_read(session, TolokerThread, user_id, folder)}


def toloker_folder_counts(session: Session, user_id: str) -> dict[str, Any]:
    return repository.folder_counts(session, TolokerThread, user_id)


# --- appeals ----------------------------------------------------------------------------


def do_appeal(session: Session, user_id: str, assignment_public_id: str, text_value: str) -> dict[str, Any]:
    """A REJECTED assignment, within 7 days of the rejection -> a thread in the requester's INBOX."""
    assignment_id = parse_id(assignment_public_id)
    assignment = (
        session.execute(
            select(Assignment).where(Assignment.id == assignment_id, Assignment.user_id == user_id)
        ).scalar_one_or_none()
        if assignment_id is not None
        else None
    )
    if assignment is None:
        raise DoesNotExist(f"Assignment {assignment_public_id} does not exist")
    now = utcnow()
    if assignment.status != APPEALABLE_STATUS or assignment.rejected is None:
        raise ConflictState("Only a rejected assignment can be appealed", code="INAPPROPRIATE_STATUS")
    if now > assignment.rejected + views.APPEAL_WINDOW:
        raise ConflictState("Appeals are accepted within 7 days of the rejection", code="INAPPROPRIATE_STATUS")
    texts = {"EN": text_value}
    check_texts(None, texts)
    topic = {"EN": f"Appeal: assignment {format_id(assignment.id)}"}
    stmt = upsert(session, MessageThread)
    created = session.execute(
        stmt.values(
            requester_id=assignment.requester_id,
            kind=ThreadKind.APPEAL.value,
            topic=topic,
            answerable=True,
            toloker_id=user_id,
            delivered_count=1,
            banned_count=0,
            unknown_count=0,
            pool_id=assignment.pool_id,
            project_id=assignment.project_id,
            assignment_id=assignment.id,
            appeal_deadline=assignment.rejected + views.APPEAL_SETTLE,
            created=now,
        )
        .on_conflict_do_nothing(index_elements=["assignment_id"], index_where=text("kind = 'APPEAL'"))
        .returning(MessageThread.id)
    ).scalar_one_or_none()
    if created is None:
        raise ConflictState("This assignment has been appealed already")
    thread = session.get(MessageThread, created)
    assert thread is not None
    _land_toloker_message(session, thread, user_id, texts, dedupe_key("appeal", user_id, assignment.id))
    session.expire_all()
    return get_toloker_thread(session, user_id, format_id(created))
