"""The Toloker's side: their threads, replies and appeals (folders: `folders.py`). No HTTP, no commit.

A Toloker's reply to a composed thread goes to a thread of its own (`parent_id` = the
composed one), one per Toloker: the requester answers there and only that Toloker
sees the answer. Further replies, from either side, land in that same thread.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from crowdpost.errors import ConflictState
from crowdpost.events import MessagesReceived, publish
from crowdpost.kit.id_order import Claim, keep_id_order
from crowdpost.kit.ids import format_id, load_by_id
from crowdpost.kit.pagination import ListParams
from crowdpost.kit.timefmt import utcnow
from crowdpost.messaging import folders, repository, views
from crowdpost.messaging.repository import Participant, ThreadFilters
from crowdpost.messaging.schemas import InterlocutorRole, ThreadKind
from crowdpost.messaging.service import (
    DEDUPE_WINDOW,
    NewMessage,
    check_texts,
    dedupe_key,
    write_message,
)
from crowdpost.models import MessageThread

APPEALABLE_STATUS = "REJECTED"


def get_toloker_thread(session: Session, user_id: str, public_id: str) -> dict[str, Any]:
    return folders.get_thread(session, Participant.toloker(user_id), public_id)


def list_toloker_threads(session: Session, user_id: str, filters: ThreadFilters, params: ListParams) -> dict[str, Any]:
    states, has_more = repository.toloker_states_page(session, user_id, filters, params)
    return {"items": views.toloker_views(session, states, user_id), "has_more": has_more}


def _land_toloker_message(
    session: Session, thread: MessageThread, user_id: str, text: dict[str, str], key: str
) -> None:
    """Store the message; the requester sees the thread in INBOX, unread."""
    assert thread.requester_id is not None
    message_id = write_message(
        session,
        NewMessage(thread.id, thread.requester_id, InterlocutorRole.USER.value, user_id, text, thread.topic, key),
    )
    repository.upsert_state(
        session,
        Participant.requester(thread.requester_id),
        {
            "thread_id": thread.id,
            "toloker_id": user_id,
            "interlocutor_role": InterlocutorRole.USER.value,
            "created": thread.created,
            **repository.flags(),
        },
        {"inbox": True, "unread": True},
    )
    repository.upsert_state(
        session,
        Participant.toloker(user_id),
        {"thread_id": thread.id, "requester_id": thread.requester_id, "created": thread.created, **repository.flags()},
        {"outbox": True, "unread": False},
    )
    # After the requester's row exists: subscribers join it.
    publish(session, MessagesReceived("REQUESTER", message_id, message_id))


def _both_sides(requester_id: int | None, user_id: str) -> tuple[Claim, Claim]:
    """A new thread between a requester and a Toloker: a row in each one's list, by thread id."""
    return Claim("requester_threads", [requester_id] if requester_id is not None else []), Claim(
        "toloker_threads", [user_id]
    )


def do_toloker_reply(session: Session, user_id: str, public_id: str, text: dict[str, str]) -> dict[str, Any]:
    """Returns the thread the reply landed in (the Toloker's own conversation thread)."""
    state = folders.thread_state(session, Participant.toloker(user_id), public_id)
    thread = repository.get_thread(session, state.thread_id)
    if not thread.answerable or thread.kind not in (ThreadKind.COMPOSE, ThreadKind.CONVERSATION, ThreadKind.APPEAL):
        raise ConflictState("This thread does not accept replies")
    check_texts(None, text)
    key = dedupe_key("toloker-reply", user_id, thread.id, text)
    assert thread.requester_id is not None  # a Toloker's thread always has its requester
    first = repository.recent_duplicate(session, thread.requester_id, key, utcnow() - DEDUPE_WINDOW)
    if first is not None:
        return get_toloker_thread(session, user_id, format_id(first))
    # A first reply makes a conversation thread, whose id pages both lists; later ones upsert rows
    # that exist (claimed anyway: every insert into a listed table holds its claim).
    keep_id_order(session, *_both_sides(thread.requester_id, user_id))
    if thread.kind == ThreadKind.COMPOSE:
        target_id = repository.conversation_id(session, thread, user_id, utcnow())
        target = repository.get_thread(session, target_id)
    else:
        target = thread
    _land_toloker_message(session, target, user_id, text, key)
    session.expire_all()
    return get_toloker_thread(session, user_id, format_id(target.id))


# --- appeals ----------------------------------------------------------------------------


def do_appeal(session: Session, user_id: str, assignment_public_id: str, text_value: str) -> dict[str, Any]:
    """A REJECTED assignment, within 7 days of the rejection -> a thread in the requester's INBOX."""
    assignment = load_by_id(
        assignment_public_id,
        lambda n: repository.toloker_assignment(session, n, user_id),
        f"Assignment {assignment_public_id} does not exist",
    )
    now = utcnow()
    if assignment.status != APPEALABLE_STATUS or assignment.rejected is None:
        raise ConflictState("Only a rejected assignment can be appealed", code="INAPPROPRIATE_STATUS")
    if now > assignment.rejected + views.APPEAL_WINDOW:
        raise ConflictState("Appeals are accepted within 7 days of the rejection", code="INAPPROPRIATE_STATUS")
    texts = {"EN": text_value}
    check_texts(None, texts)
    topic = {"EN": f"Appeal: assignment {format_id(assignment.id)}"}
    keep_id_order(session, *_both_sides(assignment.requester_id, user_id))  # the appeal's id pages both lists
    created = repository.add_appeal_thread(
        session,
        requester_id=assignment.requester_id,
        topic=topic,
        answerable=True,
        toloker_id=user_id,
        delivered_count=1,
        pool_id=assignment.pool_id,
        project_id=assignment.project_id,
        assignment_id=assignment.id,
        appeal_deadline=assignment.rejected + views.APPEAL_SETTLE,
        created=now,
    )
    if created is None:
        raise ConflictState("This assignment has been appealed already")
    thread = repository.get_thread(session, created)
    _land_toloker_message(session, thread, user_id, texts, dedupe_key("appeal", user_id, assignment.id))
    session.expire_all()
    return get_toloker_thread(session, user_id, format_id(created))
