"""Messages nobody answers: the operator's platform messages and automatic notifications.

do_platform_message     ADMINISTRATOR -> requesters' INBOX; "all requesters" is one fan-out
do_system_thread        SYSTEM -> one requester's AUTOMATIC_NOTIFICATION folder
do_note_on_appeal       SYSTEM note on the Toloker's appeal thread (assignment accepted)
do_bonus_threads        a paid bonus's title and message -> its Toloker, set-based
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, Integer, String, and_, bindparam, case, cast, insert, literal, select
from sqlalchemy.orm import Session

from crowdpost.errors import ValidationFailed, field_error
from crowdpost.kit.ids import format_id, parse_id
from crowdpost.kit.timefmt import utcnow
from crowdpost.messaging import policy, repository
from crowdpost.messaging.schemas import InterlocutorRole, PlatformMessageForm, ThreadKind
from crowdpost.messaging.service import NewMessage, check_texts, new_thread, write_message
from crowdpost.messaging.views import ADMINISTRATOR_ID, SYSTEM_ID
from crowdpost.models import Bonus, Message, MessageThread, Requester, RequesterThread, TolokerThread
from crowdpost.models.base import JSONType, UTCDateTime

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


def _has_value(column: Any) -> Any:
    # A JSON column may hold SQL NULL or a JSON null, depending on how the row was written.
    return and_(column.is_not(None), cast(column, String) != "null")


def _in_group(column: Any, ranged: bool) -> Any:
    """`column` within the bound id group: `first`..`last` when ranged, else the `ids` list."""
    if ranged:
        return column.between(bindparam("first"), bindparam("last"))
    return column.in_(bindparam("ids", expanding=True))


def _bonus_thread_statements(ranged: bool) -> tuple[Any, Any, Any]:
    """The three INSERT ... SELECTs of `do_bonus_threads`, built once (building a statement
    costs more than running it) with the requester, the time and the id group bound."""
    now = bindparam("now", type_=UTCDateTime)
    requester = bindparam("requester_id", type_=Integer)
    paid = (
        select(Bonus)
        .where(
            Bonus.requester_id == requester,
            _in_group(Bonus.id, ranged),
            Bonus.without_message.is_(False),
            _has_value(Bonus.public_message),
        )
        .subquery()
    )
    thread_cols = ["requester_id", "kind", "topic", "answerable", "toloker_id", "bonus_id", "assignment_id"]
    counts = ["delivered_count", "banned_count", "unknown_count", "created"]
    threads = insert(MessageThread).from_select(
        [*thread_cols, *counts],
        select(
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
            now,
        ),
    )
    # The batch's bonuses and their threads, both found by the id group: by primary key
    # and by `ix_message_threads_bonus_id` (a restriction on `bonus_id` lets both SQLite
    # and PostgreSQL use that partial index). The cost follows the batch, never the number
    # of BONUS threads the requester already has. Only bonus threads carry a `bonus_id`.
    joined = (
        select(MessageThread.id, MessageThread.requester_id, MessageThread.toloker_id, Bonus.public_message)
        .select_from(Bonus)
        .join(MessageThread, MessageThread.bonus_id == Bonus.id)
        .where(Bonus.requester_id == requester, _in_group(Bonus.id, ranged))
        .where(_in_group(MessageThread.bonus_id, ranged), MessageThread.kind == ThreadKind.BONUS.value)
        .subquery()
    )
    messages = insert(Message).from_select(
        ["thread_id", "requester_id", "sender_role", "sender_id", "text", "created"],
        select(
            joined.c.id,
            joined.c.requester_id,
            literal(InterlocutorRole.REQUESTER.value),
            bindparam("sender_id"),
            joined.c.public_message,
            now,
        ),
    )
    flags = ["inbox", "outbox", "notification", "important", "unread"]
    toloker_threads = insert(TolokerThread).from_select(
        ["user_id", "thread_id", "requester_id", "created", *flags],
        select(
            joined.c.toloker_id,
            joined.c.id,
            joined.c.requester_id,
            now,
            literal(True, Boolean),
            literal(False, Boolean),
            literal(True, Boolean),
            literal(False, Boolean),
            literal(True, Boolean),
        ),
    )
    return threads, messages, toloker_threads


_RANGED_STATEMENTS = _bonus_thread_statements(ranged=True)
_LISTED_STATEMENTS = _bonus_thread_statements(ranged=False)


def do_bonus_threads(session: Session, requester_id: int, bonus_ids: tuple[int, ...]) -> int:
    """One thread per paid bonus that has a message, to its Toloker: three INSERT ... SELECTs per id group.

    Texts keep every language; the Toloker API shows each Toloker theirs when read.
    """
    made = 0
    for group in bonus_id_groups(bonus_ids):
        made += _bonus_threads(session, requester_id, group)
    return made


def _bonus_threads(session: Session, requester_id: int, group: tuple[int, int] | list[int]) -> int:
    params: dict[str, Any] = {
        "requester_id": requester_id,
        "now": utcnow(),
        # Every row is this requester's bonus: their public id is the sender.
        "sender_id": format_id(requester_id),
    }
    if isinstance(group, tuple):
        threads, messages, toloker_threads = _RANGED_STATEMENTS
        params["first"], params["last"] = group
    else:
        threads, messages, toloker_threads = _LISTED_STATEMENTS
        params["ids"] = group
    made = repository.rows_written(session, threads, params)
    if not made:
        return 0
    # On the connection: a session would take the parameters for an ORM bulk INSERT.
    connection = session.connection()
    connection.execute(messages, params)
    connection.execute(toloker_threads, params)
    return made
