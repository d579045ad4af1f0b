"""Messages nobody answers: the operator's platform messages and automatic notifications.

do_platform_message     ADMINISTRATOR -> requesters' INBOX; "all requesters" is one fan-out
do_system_thread        SYSTEM -> one requester's AUTOMATIC_NOTIFICATION folder
do_note_on_appeal       SYSTEM note on the Toloker's appeal thread (assignment accepted)
do_bonus_threads        a paid bonus's title and message -> its Toloker, set-based
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, String, and_, case, cast, func, insert, literal, select
from sqlalchemy.orm import Session

from crowdpost.errors import ValidationFailed, field_error
from crowdpost.kit.ids import format_id, parse_id
from crowdpost.kit.timefmt import utcnow
from crowdpost.messaging import policy, repository
from crowdpost.messaging.schemas import InterlocutorRole, PlatformMessageForm, ThreadKind
from crowdpost.messaging.service import NewMessage, check_texts, new_thread, write_message
from crowdpost.messaging.views import ADMINISTRATOR_ID, SYSTEM_ID
from crowdpost.models import Bonus, Message, MessageThread, Requester, RequesterThread, TolokerThread
from crowdpost.models.base import JSONType

DEFAULT_BONUS_TOPIC = {"EN": "You received a bonus"}
# Bonus ids per statement when they are not one contiguous run (SQLite: 32,766 parameters).
_ID_CHUNK = 5000


def _raise_unknown(ids: list[str]) -> list[int]:
    raise ValidationFailed({"requester_ids": field_error("ENTITY_DOES_NOT_EXIST", "no such requesters", *ids)})


def do_platform_message(session: Session, form: PlatformMessageForm) -> dict[str, Any]:
    """One thread and one message; one INSERT ... SELECT of requester rows."""
    if form.all_requesters == (form.requester_ids is not None):
        raise ValidationFailed(
            {"requester_ids": field_error("VALUE_REQUIRED", "give requester_ids or all_requesters=true, not both")}
        )
    check_texts(form.topic, form.text)
    audience = select(Requester.id)
    if form.requester_ids is not None:
        numbers = [parse_id(p) for p in form.requester_ids]
        wanted = {n for n in numbers if n is not None}
        known = set(session.execute(select(Requester.id).where(Requester.id.in_(wanted))).scalars())
        unknown = [p for p, n in zip(form.requester_ids, numbers, strict=True) if n not in known]
        if unknown:
            _raise_unknown(unknown)
        audience = audience.where(Requester.id.in_(known))
    now = utcnow()
    topic = policy.sanitize_lang_map(form.topic, markup=False)
    thread = new_thread(session, requester_id=None, kind=ThreadKind.PLATFORM.value, topic=topic, answerable=False)
    rows = select(
        Requester.id,
        literal(thread.id),
        cast(literal(None), String),
        literal(InterlocutorRole.ADMINISTRATOR.value),
        literal(now),
        literal(True, Boolean),
        literal(False, Boolean),
        literal(False, Boolean),
        literal(False, Boolean),
        literal(True, Boolean),
    ).where(Requester.id.in_(audience))
    columns = ["requester_id", "thread_id", "toloker_id", "interlocutor_role", "created"]
    flags = ["inbox", "outbox", "notification", "important", "unread"]
    delivered = repository.rows_written(session, insert(RequesterThread).from_select([*columns, *flags], rows))
    thread.delivered_count = delivered
    write_message(
        session,
        NewMessage(thread.id, None, InterlocutorRole.ADMINISTRATOR.value, ADMINISTRATOR_ID, form.text, topic),
    )
    session.flush()
    return {"id": format_id(thread.id), "recipients_count": delivered, "created": thread.created}


def do_system_thread(
    session: Session,
    requester_id: int,
    topic: dict[str, str],
    text: dict[str, str],
    *,
    pool_id: int | None = None,
    project_id: int | None = None,
) -> int:
    """An automatic notification to one requester, in the caller's transaction."""
    thread = new_thread(
        session,
        requester_id=requester_id,
        kind=ThreadKind.SYSTEM.value,
        topic=topic,
        answerable=False,
        pool_id=pool_id,
        project_id=project_id,
        delivered_count=1,
    )
    write_message(session, NewMessage(thread.id, requester_id, InterlocutorRole.SYSTEM.value, SYSTEM_ID, text, topic))
    session.add(
        RequesterThread(
            requester_id=requester_id,
            thread_id=thread.id,
            interlocutor_role=InterlocutorRole.SYSTEM.value,
            created=thread.created,
            inbox=False,
            outbox=False,
            notification=True,
            important=False,
            unread=True,
        )
    )
    session.flush()
    return thread.id


def do_note_on_appeal(session: Session, assignment_id: int, text: dict[str, str]) -> int | None:
    """A SYSTEM message on the Toloker's appeal thread for this assignment, if there is one."""
    thread = session.execute(
        select(MessageThread).where(
            MessageThread.kind == ThreadKind.APPEAL.value, MessageThread.assignment_id == assignment_id
        )
    ).scalar_one_or_none()
    if thread is None:
        return None
    write_message(
        session,
        NewMessage(thread.id, thread.requester_id, InterlocutorRole.SYSTEM.value, SYSTEM_ID, text, thread.topic),
    )
    repository.notify_recipients(session, thread.id)
    return thread.id


def bonus_id_groups(bonus_ids: tuple[int, ...]) -> list[tuple[int, int] | list[int]]:
    """A contiguous id run as one (first, last) range, else chunks small enough for SQLite's parameter limit."""
    if not bonus_ids:
        return []
    low, high = min(bonus_ids), max(bonus_ids)
    if high - low + 1 == len(set(bonus_ids)):
        return [(low, high)]
    ordered = sorted(set(bonus_ids))
    return [ordered[i : i + _ID_CHUNK] for i in range(0, len(ordered), _ID_CHUNK)]


def _in_group(column: Any, group: tuple[int, int] | list[int]) -> Any:
    return column.between(*group) if isinstance(group, tuple) else column.in_(group)


def do_bonus_threads(session: Session, requester_id: int, bonus_ids: tuple[int, ...]) -> int:
    """One thread per paid bonus that has a message, to its Toloker: three INSERT ... SELECTs per id group.

    Texts keep every language; the Toloker API shows each Toloker theirs when read.
    """
    made = 0
    for group in bonus_id_groups(bonus_ids):
        made += _bonus_threads(session, requester_id, group)
    return made


def _bonus_threads(session: Session, requester_id: int, group: tuple[int, int] | list[int]) -> int:
    now = utcnow()
    paid = (
        select(Bonus)
        .where(
            Bonus.requester_id == requester_id,
            _in_group(Bonus.id, group),
            Bonus.without_message.is_(False),
            _has_value(Bonus.public_message),
        )
        .subquery()
    )
    thread_cols = ["requester_id", "kind", "topic", "answerable", "toloker_id", "bonus_id", "assignment_id"]
    counts = ["delivered_count", "banned_count", "unknown_count", "created"]
    threads = select(
        paid.c.requester_id,
        literal(ThreadKind.BONUS.value),
        case((_has_value(paid.c.public_title), paid.c.public_title), else_=literal(DEFAULT_BONUS_TOPIC, JSONType)),
        literal(False, Boolean),
        paid.c.user_id,
        paid.c.id,
        paid.c.assignment_id,
        literal(1),
        literal(0),
        literal(0),
        literal(now),
    )
    made = repository.rows_written(session, insert(MessageThread).from_select([*thread_cols, *counts], threads))
    if not made:
        return 0
    joined = (
        select(MessageThread.id, MessageThread.requester_id, MessageThread.toloker_id, Bonus.public_message)
        .join(Bonus, Bonus.id == MessageThread.bonus_id)
        .where(_in_group(MessageThread.bonus_id, group), MessageThread.kind == ThreadKind.BONUS.value)
        .where(MessageThread.requester_id == requester_id)
        .subquery()
    )
    session.execute(
        insert(Message).from_select(
            ["thread_id", "requester_id", "sender_role", "sender_id", "text", "created"],
            select(
                joined.c.id,
                joined.c.requester_id,
                literal(InterlocutorRole.REQUESTER.value),
                _requester_public_id(session, joined.c.requester_id),
                joined.c.public_message,
                literal(now),
            ),
        )
    )
    flags = ["inbox", "outbox", "notification", "important", "unread"]
    session.execute(
        insert(TolokerThread).from_select(
            ["user_id", "thread_id", "requester_id", "created", *flags],
            select(
                joined.c.toloker_id,
                joined.c.id,
                joined.c.requester_id,
                literal(now),
                literal(True, Boolean),
                literal(False, Boolean),
                literal(True, Boolean),
                literal(False, Boolean),
                literal(True, Boolean),
            ),
        )
    )
    return made


def _requester_public_id(session: Session, column: Any) -> Any:
    """format_id in SQL: the 12-digit zero-padded requester id."""
    if session.get_bind().dialect.name == "sqlite":
        return func.printf("%012d", column)
    return func.lpad(cast(column, String), 12, "0")


def _has_value(column: Any) -> Any:
    # A JSON column may hold SQL NULL or a JSON null, depending on how the row was written.
    return and_(column.is_not(None), cast(column, String) != "null")
