"""Threads in Toloka's MessageThreadViewV1 shape, as each participant sees them.

A requester sees every language and, on sends, `compose_details`, `delivery` and `outcomes`; a
Toloker sees one language per text (theirs, else EN, else any) and never the audience.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, cast

from sqlalchemy.orm import Session

from crowdpost.kit.ids import format_id
from crowdpost.kit.language_choice import pick_language
from crowdpost.messaging import policy, repository
from crowdpost.messaging.repository import Participant, State
from crowdpost.messaging.schemas import FOLDER_COLUMNS, Folder, InterlocutorRole, Outcome, SelectType, ThreadKind
from crowdpost.models import Message, MessageThread, RequesterThread, TolokerThread

ADMINISTRATOR_ID = "ADMINISTRATOR"
SYSTEM_ID = "SYSTEM"
APPEAL_WINDOW = timedelta(days=7)
APPEAL_SETTLE = timedelta(days=9)


def folders_of(state: RequesterThread | TolokerThread) -> list[str]:
    return [folder.value for folder in Folder if getattr(state, FOLDER_COLUMNS[folder])]


def choose_language(texts: Mapping[str, str], languages: Sequence[str]) -> dict[str, str]:
    """The text in one language: `pick_language`'s (the Toloker's, then EN, then any)."""
    lang = pick_language(texts, languages)
    return {lang: texts[lang]} if lang is not None else {}


def _meta(thread: MessageThread) -> dict[str, str]:
    meta = {}
    for key in ("pool_id", "project_id", "assignment_id"):
        value = getattr(thread, key)
        if value is not None:
            meta[key] = format_id(value)
    return meta


def _sender(message: Message, me: tuple[str, str]) -> dict[str, Any]:
    sender: dict[str, Any] = {"id": message.sender_id, "role": message.sender_role}
    if (message.sender_role, message.sender_id) == me:
        sender["myself"] = True
    return sender


def _base(thread: MessageThread, state: RequesterThread | TolokerThread) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": format_id(thread.id),
        "meta": _meta(thread),
        "answerable": thread.answerable,
        "folders": folders_of(state),
        "created": thread.created,
    }
    if thread.parent_id is not None:
        view["parent_id"] = format_id(thread.parent_id)
    if thread.appeal_deadline is not None:
        view["appeal_deadline"] = thread.appeal_deadline
    return view


def _requester_others(thread: MessageThread, recipients: Sequence[str]) -> tuple[bool, list[dict[str, Any]]]:
    """(inlined, interlocutors other than the requester)."""
    if thread.toloker_id is not None:
        return True, [{"id": thread.toloker_id, "role": InterlocutorRole.USER.value}]
    if thread.kind == ThreadKind.PLATFORM:
        return True, [{"id": ADMINISTRATOR_ID, "role": InterlocutorRole.ADMINISTRATOR.value}]
    if thread.kind == ThreadKind.SYSTEM:
        return True, [{"id": SYSTEM_ID, "role": InterlocutorRole.SYSTEM.value}]
    if thread.select_type == SelectType.DIRECT:
        return True, [{"id": uid, "role": InterlocutorRole.USER.value} for uid in recipients]
    # FILTER and ALL sends may reach 100,000 Tolokers: not inlined.
    return False, []


def requester_view(
    thread: MessageThread,
    state: RequesterThread,
    messages: Sequence[Message],
    recipients: Sequence[str] = (),
) -> dict[str, Any]:
    me = (InterlocutorRole.REQUESTER.value, format_id(state.requester_id))
    inlined, others = _requester_others(thread, recipients)
    interlocutors = [{"id": me[1], "role": me[0], "myself": True}, *others]
    view = _base(thread, state)
    view.update(
        topic=thread.topic,
        interlocutors_inlined=inlined,
        interlocutors=sorted(interlocutors, key=lambda i: str(i["id"])),
        messages_inlined=True,
        messages=[{"text": m.text, "from": _sender(m, me), "created": m.created} for m in messages],
    )
    if thread.kind == ThreadKind.COMPOSE:
        details: dict[str, Any] = {"recipients_select_type": thread.select_type}
        if thread.recipients_ids is not None:
            details["recipients_ids"] = thread.recipients_ids
        if thread.recipients_filter is not None:
            details["recipients_filter"] = thread.recipients_filter
        view["compose_details"] = details
        view["delivery"] = {
            "delivered": thread.delivered_count,
            "banned": thread.banned_count,
            "unknown": thread.unknown_count,
        }
        # Every outcome's count (an extension block: toloka-kit keeps unknown keys aside).
        view["outcomes"] = {
            Outcome.DELIVERED.value: thread.delivered_count,
            Outcome.LEFT_OUT_BANNED.value: thread.banned_count,
            Outcome.LEFT_OUT_UNKNOWN.value: thread.unknown_count,
            Outcome.LEFT_OUT_NOT_YOURS.value: thread.not_yours_count,
            Outcome.LEFT_OUT_CAPPED.value: thread.capped_count,
        }
    return view


def toloker_view(
    thread: MessageThread, state: TolokerThread, messages: Sequence[Message], languages: Sequence[str]
) -> dict[str, Any]:
    me = (InterlocutorRole.USER.value, state.user_id)
    interlocutors: list[dict[str, Any]] = [{"id": state.user_id, "role": me[0], "myself": True}]
    if thread.requester_id is not None:
        interlocutors.append({"id": format_id(thread.requester_id), "role": InterlocutorRole.REQUESTER.value})
    topic = choose_language(thread.topic, languages)
    if thread.kind == ThreadKind.BONUS:
        # Bonus texts are copied in SQL from the bonus row; sanitize them on the way out.
        topic = policy.sanitize_lang_map(topic, markup=False)
    view = _base(thread, state)
    view.update(
        topic=topic,
        interlocutors_inlined=True,
        interlocutors=sorted(interlocutors, key=lambda i: str(i["id"])),
        messages_inlined=True,
        messages=[
            {"text": _toloker_text(thread, m, languages), "from": _sender(m, me), "created": m.created}
            for m in messages
        ],
    )
    return view


def _toloker_text(thread: MessageThread, message: Message, languages: Sequence[str]) -> dict[str, str]:
    text = choose_language(message.text, languages)
    return policy.sanitize_lang_map(text, markup=True) if thread.kind == ThreadKind.BONUS else text


def requester_views(session: Session, states: Sequence[RequesterThread]) -> list[dict[str, Any]]:
    """A page of threads: one query for threads, one for messages, one for DIRECT recipients."""
    ids = [s.thread_id for s in states]
    threads = repository.threads_by_id(session, ids)
    messages = repository.messages_by_thread(session, ids)
    direct = [tid for tid, t in threads.items() if t.kind == ThreadKind.COMPOSE and t.select_type == SelectType.DIRECT]
    recipients = repository.direct_recipients(session, direct)
    return [requester_view(threads[s.thread_id], s, messages[s.thread_id], recipients[s.thread_id]) for s in states]


def toloker_views(session: Session, states: Sequence[TolokerThread], user_id: str) -> list[dict[str, Any]]:
    ids = [s.thread_id for s in states]
    threads = repository.threads_by_id(session, ids)
    messages = repository.messages_by_thread(session, ids)
    languages = repository.toloker_languages(session, user_id)
    return [toloker_view(threads[s.thread_id], s, messages[s.thread_id], languages) for s in states]


def participant_views(session: Session, who: Participant, states: Sequence[State]) -> list[dict[str, Any]]:
    """Threads as this participant sees them."""
    if who.state is RequesterThread:
        return requester_views(session, cast(Sequence[RequesterThread], states))
    return toloker_views(session, cast(Sequence[TolokerThread], states), str(who.owner))


def recipient_view(row: Any) -> dict[str, Any]:
    """One row of `repository.recipients_page`: (id, user_id, outcome, read_at, reply_thread_id)."""
    return {
        "id": format_id(row.id),
        "user_id": row.user_id,
        "outcome": row.outcome,
        "read": row.read_at is not None,
        "read_at": row.read_at,
        "replied": row.reply_thread_id is not None,
        "reply_thread_id": format_id(row.reply_thread_id) if row.reply_thread_id is not None else None,
    }
