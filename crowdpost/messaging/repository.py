"""Every query of the messaging domain: folder listings, search, flags, counts, quotas, a
send's fan-out and its per-recipient outcomes with the bulk cap.

All statements are set-based: a page loads its threads, messages and recipients in
one query each, and folder changes are single UPDATEs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    case,
    cast,
    exists,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.elements import ClauseElement

from crowdpost.kit.bulk import upsert
from crowdpost.kit.pagination import ListParams, page_before, paginate
from crowdpost.kit.timefmt import utcnow
from crowdpost.kit.unindexed import Unindexed
from crowdpost.messaging import search
from crowdpost.messaging.schemas import FOLDER_COLUMNS, Folder, InterlocutorRole, Outcome, ThreadKind
from crowdpost.models import (
    Assignment,
    Bonus,
    Message,
    MessageQuota,
    MessageThread,
    RecipientOutcome,
    Requester,
    RequesterThread,
    TolokerLanguage,
    TolokerThread,
)
from crowdpost.models.base import JSONType, UTCDateTime

State = RequesterThread | TolokerThread
StateModel = type[RequesterThread] | type[TolokerThread]
DIRECT_INTERLOCUTORS_MAX = 100
FLAG_NAMES = ("inbox", "outbox", "notification", "important", "unread")
# The topic of a bonus thread when the bonus has no public title.
DEFAULT_BONUS_TOPIC = {"EN": "You received a bonus"}
CAP_WINDOW = timedelta(days=7)
RO = RecipientOutcome
# Written inline, not bound: both planners match a partial index's predicate only against
# constants (`ix_recipient_outcomes_bulk_delivered` is `WHERE bulk AND outcome = 'DELIVERED'`).
_DELIVERED: ColumnElement[str] = literal_column(f"'{Outcome.DELIVERED.value}'", String)
# The audience's reasons (`workforce`'s `left_out` column) -> outcomes.
_LEFT_OUT = {
    "BANNED": Outcome.LEFT_OUT_BANNED,
    "UNKNOWN": Outcome.LEFT_OUT_UNKNOWN,
    "NOT_YOURS": Outcome.LEFT_OUT_NOT_YOURS,
}


@dataclass(frozen=True)
class Participant:
    """One side of a thread: whose rows (`state`) and which of them (`owner_column == owner`)."""

    state: StateModel
    owner_column: Any
    owner: int | str

    @classmethod
    def requester(cls, requester_id: int) -> Participant:
        return cls(RequesterThread, RequesterThread.requester_id, requester_id)

    @classmethod
    def toloker(cls, user_id: str) -> Participant:
        return cls(TolokerThread, TolokerThread.user_id, user_id)

    def owns(self) -> Any:
        return self.owner_column == self.owner


@dataclass(frozen=True)
class ThreadFilters:
    folder: Sequence[Folder] = ()
    folder_ne: Sequence[Folder] = ()
    user_id: str | None = None
    q: str | None = None
    interlocutor_role: str | None = None


@dataclass(frozen=True)
class BulkCap:
    """At most `limit` bulk deliveries per Toloker from one requester since `since`."""

    limit: int
    since: datetime

    @classmethod
    def week(cls, limit: int, now: datetime) -> BulkCap:
        return cls(limit, now - CAP_WINDOW)


@dataclass(frozen=True)
class RecipientFilters:
    outcome: Outcome | None = None
    read: bool | None = None
    replied: bool | None = None


def flags(*on: str) -> dict[str, bool]:
    """A thread row's five folder flags by name: those in `on` set, the others clear."""
    unknown = set(on).difference(FLAG_NAMES)
    if unknown:
        raise ValueError(f"no such folder flags: {sorted(unknown)}")
    return {name: name in on for name in FLAG_NAMES}


def named_select(values: dict[str, Any]) -> tuple[list[str], Select[Any]]:
    """(columns, SELECT) for `insert(...).from_select`, each value written next to its column's
    name: SQL expressions as they are, Python values as literals (booleans typed as such)."""
    return list(values), select(*(_sql_value(value) for value in values.values()))


def _sql_value(value: Any) -> Any:
    if isinstance(value, ClauseElement) or hasattr(value, "__clause_element__"):  # an ORM column too
        return value
    if isinstance(value, bool):
        return literal(value, Boolean)
    return literal(value)


def thread_row(**values: Any) -> dict[str, Any]:
    """A `message_threads` row: the caller's columns over the defaults (nobody delivered, banned,
    unknown, not theirs or capped; created now). Every way of making a thread goes through here."""
    counts = ("delivered_count", "banned_count", "unknown_count", "not_yours_count", "capped_count")
    row = {**dict.fromkeys(counts, 0), **values}
    if "created" not in row:
        row["created"] = utcnow()
    return row


def add_thread(session: Session, **values: Any) -> MessageThread:
    thread = MessageThread(**thread_row(**values))
    session.add(thread)
    session.flush()
    return thread


def set_counts(session: Session, thread: MessageThread, **counts: int) -> None:
    """A composed thread's delivery counts: one UPDATE by its requester and id (an ORM flush
    would write by the id alone, which on Citus asks every shard), then kept on the object as
    written, so no flush writes them again."""
    assert thread.requester_id is not None
    stmt = update(MessageThread).where(MessageThread.requester_id == thread.requester_id, MessageThread.id == thread.id)
    session.execute(stmt.values(**counts).execution_options(synchronize_session=False))
    for name, value in counts.items():
        set_committed_value(thread, name, value)


def add_thread_once(session: Session, key: list[str], where: Any = None, **values: Any) -> int | None:
    """INSERT the thread unless one with the same unique `key` (index predicate `where`) exists:
    the new id, or None when it existed."""
    stmt = upsert(session, MessageThread).values(**thread_row(**values))
    stmt = stmt.on_conflict_do_nothing(index_elements=key, index_where=where)
    return session.execute(stmt.returning(MessageThread.id)).scalar_one_or_none()


def _flag(model: StateModel, folder: Folder) -> Any:
    return getattr(model, FOLDER_COLUMNS[folder])


def _apply_folders(stmt: Any, model: StateModel, filters: ThreadFilters) -> Any:
    # `folder=INBOX,UNREAD`: in every listed folder; `folder_ne=...`: in none of them.
    for folder in filters.folder:
        stmt = stmt.where(_flag(model, folder))
    for folder in filters.folder_ne:
        stmt = stmt.where(~_flag(model, folder))
    return stmt


def _paged(session: Session, stmt: Any, model: StateModel, params: ListParams) -> tuple[list[Any], bool]:
    sort_fields = {"id": model.thread_id, "created": model.created}
    return paginate(session, stmt, params, id_column=model.thread_id, sort_fields=sort_fields)


def requester_states_page(
    session: Session, requester_id: int, filters: ThreadFilters, params: ListParams
) -> tuple[list[RequesterThread], bool]:
    rt = RequesterThread
    stmt = _apply_folders(select(rt).where(rt.requester_id == requester_id), rt, filters)
    if filters.user_id is not None:
        recipient = exists().where(TolokerThread.user_id == filters.user_id, TolokerThread.thread_id == rt.thread_id)
        stmt = stmt.where(or_(rt.toloker_id == filters.user_id, and_(rt.toloker_id.is_(None), recipient)))
    if filters.interlocutor_role is not None:
        stmt = stmt.where(rt.interlocutor_role == filters.interlocutor_role)
    if filters.q is not None:
        stmt = stmt.where(rt.thread_id.in_(search.matching_thread_ids(session, filters.q)))
    return _paged(session, stmt, rt, params)


def toloker_states_page(
    session: Session, user_id: str, filters: ThreadFilters, params: ListParams
) -> tuple[list[TolokerThread], bool]:
    tt = TolokerThread
    stmt = _apply_folders(select(tt).where(tt.user_id == user_id), tt, filters)
    return _paged(session, stmt, tt, params)


def thread_state(session: Session, who: Participant, thread_id: int) -> State | None:
    state: State | None = session.get(who.state, (who.owner, thread_id))  # type: ignore[assignment]
    return state


def get_thread(session: Session, thread_id: int) -> MessageThread:
    """A thread that exists (a participant's row or a write just made points at it)."""
    thread = session.get(MessageThread, thread_id)
    assert thread is not None
    return thread


def threads_by_id(session: Session, thread_ids: Iterable[int]) -> dict[int, MessageThread]:
    ids = list(thread_ids)
    if not ids:
        return {}
    return {t.id: t for t in session.execute(select(MessageThread).where(MessageThread.id.in_(ids))).scalars()}


def messages_by_thread(session: Session, thread_ids: Iterable[int]) -> dict[int, list[Message]]:
    """Each thread's messages, newest first."""
    ids = list(thread_ids)
    result: dict[int, list[Message]] = defaultdict(list)
    if ids:
        stmt = select(Message).where(Message.thread_id.in_(ids)).order_by(Message.thread_id, Message.id.desc())
        for message in session.execute(stmt).scalars():
            result[message.thread_id].append(message)
    return result


def direct_recipients(session: Session, thread_ids: Iterable[int]) -> dict[int, list[str]]:
    """Who received each DIRECT send (at most 100 each, so a page stays small)."""
    ids = list(thread_ids)
    result: dict[int, list[str]] = defaultdict(list)
    if ids:
        stmt = select(TolokerThread.thread_id, TolokerThread.user_id).where(TolokerThread.thread_id.in_(ids))
        for thread_id, user_id in session.execute(stmt):
            if len(result[thread_id]) < DIRECT_INTERLOCUTORS_MAX:
                result[thread_id].append(user_id)
    return result


def toloker_languages(session: Session, user_id: str) -> list[str]:
    stmt = select(TolokerLanguage.language).where(TolokerLanguage.user_id == user_id).order_by(TolokerLanguage.language)
    return list(session.execute(stmt).scalars())


def recent_duplicate(session: Session, requester_id: int, dedupe_key: str, since: datetime) -> int | None:
    """The thread an identical request from the same sender wrote to after `since`, among the
    messages of `requester_id`'s threads (the requester who sent it, or whom the Toloker wrote to)."""
    if session.get_bind().dialect.name == "postgresql":
        # Identical concurrent retries queue here, so the second sees the first's commit.
        session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": dedupe_key})
    stmt = (
        select(Message.thread_id)
        .where(Message.requester_id == requester_id, Message.dedupe_key == dedupe_key, Message.created >= since)
        .order_by(Message.id)
        .limit(1)
    )
    return session.execute(stmt).scalar_one_or_none()


def set_flags(session: Session, who: Participant, thread_id: int | None, values: dict[str, bool]) -> int:
    """UPDATE one participant's thread row (or all their rows when thread_id is None)."""
    stmt = update(who.state).where(who.owns())
    if thread_id is not None:
        stmt = stmt.where(who.state.thread_id == thread_id)
    return rows_written(session, stmt.values(**values, **_first_read(who, values)))


def _first_read(who: Participant, values: dict[str, Any]) -> dict[str, Any]:
    """A Toloker's rows that stop being unread keep when that first happened (`read_at`, which
    a send's recipients list shows): set once, kept when the thread is unread again."""
    if who.state is TolokerThread and values.get("unread") is False:
        return {"read_at": func.coalesce(TolokerThread.read_at, utcnow())}
    return {}


def mark_all_read(
    session: Session, who: Participant, folder: Folder | None, interlocutor_role: str | None = None
) -> int:
    stmt = update(who.state).where(who.owns(), who.state.unread)
    if folder is not None:
        stmt = stmt.where(_flag(who.state, folder))
    if interlocutor_role is not None:
        # Only a requester's rows name the other side (a Toloker's is always a requester).
        assert who.state is RequesterThread
        stmt = stmt.where(RequesterThread.interlocutor_role == interlocutor_role)
    values: dict[str, Any] = {"unread": False}
    return rows_written(session, stmt.values(**values, **_first_read(who, values)))


def notify_recipients(session: Session, thread_id: int, user_id: str | None = None) -> None:
    """A new message in the thread: it is unread for its Tolokers (all, or one)."""
    stmt = update(TolokerThread).where(TolokerThread.thread_id == thread_id)
    if user_id is not None:
        stmt = stmt.where(TolokerThread.user_id == user_id)
    rows_written(session, stmt.values(inbox=True, unread=True))


def folder_counts(session: Session, who: Participant) -> dict[str, Any]:
    """Total and unread per folder, in one scan of the participant's rows."""
    model = who.state
    columns = [func.count(), func.sum(case((model.unread, 1), else_=0))]
    for folder in Folder:
        flag = _flag(model, folder)
        columns.append(func.sum(case((flag, 1), else_=0)))
        columns.append(func.sum(case((and_(flag, model.unread), 1), else_=0)))
    row = session.execute(select(*columns).where(who.owns())).one()
    values = [int(v or 0) for v in row]
    folders = {
        folder.value: {"total": values[2 + 2 * i], "unread": values[3 + 2 * i]} for i, folder in enumerate(Folder)
    }
    return {"total": values[0], "unread": values[1], "folders": folders}


def _unread_window_statement() -> Select[Any]:
    """The SELECT of `requester_unread_window`, built once with the requester and the window
    bound: building it (a dozen labelled sums) cost more than running it on the page's path."""
    rt = RequesterThread
    newest = (
        select(rt.inbox, rt.outbox, rt.notification, rt.important, rt.interlocutor_role)
        .where(rt.requester_id == bindparam("requester_id", type_=rt.requester_id.type), rt.unread)
        .order_by(rt.thread_id.desc())
        .limit(bindparam("window", type_=Integer))
        .subquery()
    )

    def tally(condition: Any) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    roles = (InterlocutorRole.USER, InterlocutorRole.ADMINISTRATOR, InterlocutorRole.SYSTEM)
    named = {
        "seen": func.count(),
        **{folder.value: tally(newest.c[FOLDER_COLUMNS[folder]]) for folder in Folder if folder is not Folder.UNREAD},
        **{f"INBOX:{r.value}": tally(and_(newest.c.inbox, newest.c.interlocutor_role == r.value)) for r in roles},
    }
    return select(*(column.label(name) for name, column in named.items()))


_UNREAD_WINDOW = _unread_window_statement()


def requester_unread_window(session: Session, requester_id: int, window: int) -> dict[str, int]:
    """Unread threads per folder, and unread INBOX threads per interlocutor role, among the
    requester's newest `window` unread threads: one walk of the unread partial index, never
    longer than `window` rows however many threads are stored ("seen" is how many it read)."""
    row = session.execute(_UNREAD_WINDOW, {"requester_id": requester_id, "window": window}).one()
    return {name: int(value) for name, value in row._mapping.items()}


def fan_out(session: Session, audience: Any, thread_id: int, requester_id: int, now: datetime) -> int:
    """INSERT one Toloker row per audience member (ids are distinct), in the database: memory stays flat."""
    members = audience.subquery()
    columns, rows = named_select(
        {
            "user_id": next(iter(members.c)),
            "thread_id": thread_id,
            "requester_id": requester_id,
            "created": now,
            **flags("inbox", "unread"),
        }
    )
    return rows_written(session, insert(TolokerThread).from_select(columns, rows))


def rows_written(session: Session, stmt: Any, params: dict[str, Any] | None = None) -> int:
    """How many rows a Core INSERT ... SELECT or UPDATE wrote (SQLAlchemy drops INSERT rowcounts unless asked)."""
    return int(session.connection().execute(stmt.execution_options(preserve_rowcount=True), params).rowcount)


# --- a send's outcomes (`recipient_outcomes`) and the bulk cap ----------------------------
#
# Read and replied are not stored with the outcome: the Toloker's `toloker_threads` row already
# changes when they read (`read_at`, set once by the UPDATE that clears `unread`) and their reply
# makes the one CONVERSATION thread keyed (`parent_id`, `toloker_id`). Joining those two at query
# time costs two key look-ups per listed row and nothing on the Toloker's path; keeping copies
# here would mean an extra UPDATE per read, per reply and per "mark all read", each one a chance
# to disagree with the rows the Toloker actually sees.
#
# The cap counts a Toloker's DELIVERED rows of bulk (FILTER, ALL) sends from the same requester
# in the last 7 days: DIRECT sends, replies (which write no outcome rows) and other requesters'
# sends are not counted, and a Toloker left out by the cap is not counted either (they got
# nothing). The Tolokers over it are one grouped SELECT (`capped_ids`) joined inside the send's
# INSERT ... SELECT; the dry run counts the same join.


def capped_ids(requester_id: int, cap: BulkCap) -> Select[str]:
    """The Tolokers who already had `cap.limit` bulk deliveries from this requester since
    `cap.since`: one range of `ix_recipient_outcomes_bulk_delivered` (this requester's recent
    bulk deliveries), grouped once.

    A send joins it (an automatic index on SQLite; on PostgreSQL a hash or merge join, see
    `_without_nested_loops`) rather than asking a correlated count per recipient: that
    sub-select reads the table the send is filling, and when PostgreSQL's statistics call
    `recipient_outcomes` empty (a new database) it plans a sequential scan per recipient, each
    one reading every row the statement has written so far: 170 s for 100,000, measured."""
    return (
        select(RO.user_id)
        .where(RO.requester_id == requester_id, RO.bulk, RO.outcome == _DELIVERED, RO.created >= cap.since)
        .group_by(RO.user_id)
        .having(func.count() >= cap.limit)
    )


def record_outcomes(
    session: Session,
    addressed: Select[str, str | None],
    *,
    thread_id: int,
    requester_id: int,
    bulk: bool,
    cap: BulkCap | None,
    now: datetime,
) -> int:
    """INSERT one row per addressed Toloker (`addressed`: `user_id`, `left_out`), in the database.
    A Toloker the audience keeps is DELIVERED unless `cap` leaves them out. How many rows."""
    who = addressed.subquery()
    source: Any = who
    kept: Any = Outcome.DELIVERED.value
    if cap is not None:
        capped = capped_ids(requester_id, cap).subquery()
        source = who.outerjoin(capped, capped.c.user_id == who.c.user_id)
        kept = case((capped.c.user_id.is_not(None), Outcome.LEFT_OUT_CAPPED.value), else_=kept)
    # A simple CASE reads `left_out` (a ban look-up) once per row, not once per WHEN.
    outcome = case({reason: out.value for reason, out in _LEFT_OUT.items()}, value=who.c.left_out, else_=kept)
    columns, rows = named_select(
        {
            "requester_id": requester_id,
            "thread_id": thread_id,
            "user_id": who.c.user_id,
            "outcome": outcome,
            "bulk": bulk,
            "created": now,
        }
    )
    with _without_nested_loops(session, cap is not None):
        return rows_written(session, insert(RO).from_select(columns, rows.select_from(source)))


@contextmanager
def _without_nested_loops(session: Session, needed: bool = True) -> Iterator[None]:
    """PostgreSQL: no nested-loop joins for the statements inside (`set_config(..., true)`:
    this transaction only, put back after). Statistics lag a bulk write by up to a minute
    (autovacuum), and with the audience and the capped Tolokers both estimated at a few rows
    the planner joined them in a nested loop: 100,000 x 33,333 comparisons, 261 s, measured.
    A hash or merge join costs the same whatever the estimates say."""
    if not needed or session.get_bind().dialect.name != "postgresql":
        yield
        return
    before = session.execute(text("SELECT current_setting('enable_nestloop')")).scalar_one()
    session.execute(text("SELECT set_config('enable_nestloop', 'off', true)"))
    try:
        yield
    finally:
        session.execute(text("SELECT set_config('enable_nestloop', :before, true)"), {"before": before})


def delivered_ids(requester_id: int, thread_id: int) -> Select[str]:
    """The Tolokers a thread's outcome rows deliver to (each once: one row per addressed id)."""
    return select(RO.user_id).where(
        RO.requester_id == requester_id, RO.thread_id == thread_id, RO.outcome == _DELIVERED
    )


def outcome_counts(session: Session, requester_id: int, thread_id: int) -> dict[Outcome, int]:
    """The thread's outcome rows per outcome (every outcome, zeros included)."""
    stmt = (
        select(RO.outcome, func.count())
        .where(RO.requester_id == requester_id, RO.thread_id == thread_id)
        .group_by(RO.outcome)
    )
    found = {Outcome(outcome): int(n) for outcome, n in session.execute(stmt)}
    return {outcome: found.get(outcome, 0) for outcome in Outcome}


def count_capped(session: Session, requester_id: int, members: Select[Any], cap: BulkCap) -> int:
    """How many of an audience (`members`: column `user_id`, banned ones already out) `cap`
    would leave out: the dry run's figure, by the same `capped_ids` `record_outcomes` joins."""
    who = members.subquery()
    capped = capped_ids(requester_id, cap).subquery()
    stmt = select(func.count()).select_from(who.join(capped, capped.c.user_id == who.c.user_id))
    with _without_nested_loops(session):
        return int(session.execute(stmt).scalar_one())


def lock_bulk_sends(session: Session, requester_id: int) -> None:
    """PostgreSQL: wait for this requester's other bulk send to commit, so this one's cap counts
    its deliveries (READ COMMITTED: the next statement sees them). SQLite writes one at a time."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": f"bulk-cap:{requester_id}"}
        )


def recipients_page(
    session: Session, requester_id: int, thread_id: int, filters: RecipientFilters, params: ListParams
) -> tuple[list[Any], bool]:
    """One page of a thread's outcome rows in id order: (id, user_id, outcome, read_at,
    reply_thread_id) each, and has_more. Read and replied are joined in (section comment)."""
    reply = aliased(MessageThread)
    stmt: Select[*tuple[Any, ...]] = (
        select(RO.id, RO.user_id, RO.outcome, TolokerThread.read_at, reply.id.label("reply_thread_id"))
        .outerjoin(TolokerThread, (TolokerThread.user_id == RO.user_id) & (TolokerThread.thread_id == RO.thread_id))
        .outerjoin(
            reply,
            (reply.requester_id == RO.requester_id)
            & (reply.parent_id == RO.thread_id)
            & (reply.toloker_id == RO.user_id)
            & (reply.kind == ThreadKind.CONVERSATION.value),
        )
        .where(RO.requester_id == requester_id, RO.thread_id == thread_id)
    )
    if filters.outcome is not None:
        stmt = stmt.where(RO.outcome == filters.outcome.value)
    if filters.read is not None:
        stmt = stmt.where(TolokerThread.read_at.is_not(None) if filters.read else TolokerThread.read_at.is_(None))
    if filters.replied is not None:
        stmt = stmt.where(reply.id.is_not(None) if filters.replied else reply.id.is_(None))
    return paginate(session, stmt, params, id_column=RO.id, sort_fields={"id": RO.id}, whole_rows=True)


def add_state(session: Session, who: Participant, thread_id: int, created: datetime, **values: Any) -> None:
    """The participant's row for a thread they did not have: `values` names its flags and extras."""
    session.add(who.state(**{who.owner_column.key: who.owner, "thread_id": thread_id, "created": created, **values}))


def upsert_state(session: Session, who: Participant, row: dict[str, Any], changed: dict[str, bool]) -> None:
    """The participant's row for a thread: inserted with `row` and `changed`, or `changed` set on it."""
    key = who.owner_column.key
    stmt = upsert(session, who.state).values({key: who.owner, **row, **changed})
    session.execute(stmt.on_conflict_do_update(index_elements=[key, "thread_id"], set_=changed))


def conversation_id(session: Session, parent: MessageThread, user_id: str, now: datetime) -> int:
    """The thread holding this Toloker's replies to a composed thread, made on first reply."""
    add_thread_once(
        session,
        ["parent_id", "toloker_id"],
        requester_id=parent.requester_id,
        kind=ThreadKind.CONVERSATION.value,
        topic=parent.topic,
        answerable=True,
        parent_id=parent.id,
        toloker_id=user_id,
        delivered_count=1,
        pool_id=parent.pool_id,
        project_id=parent.project_id,
        assignment_id=parent.assignment_id,
        created=now,
    )
    found = select(MessageThread.id).where(
        MessageThread.requester_id == parent.requester_id,
        MessageThread.parent_id == parent.id,
        MessageThread.toloker_id == user_id,
    )
    return int(session.execute(found).scalar_one())


def consume_quota(session: Session, requester_id: int, day: date, kind: str, limit: int) -> bool:
    """Count one send; False (and nothing counted) when the day's limit is reached."""
    stmt = upsert(session, MessageQuota)
    table = MessageQuota.__table__
    result = session.execute(
        stmt.values(requester_id=requester_id, day=day, kind=kind, used=1)
        .on_conflict_do_update(
            index_elements=["requester_id", "day", "kind"],
            set_={"used": table.c.used + 1},
            where=table.c.used < limit,
        )
        .returning(table.c.used)
    )
    used = result.scalar_one_or_none()
    return used is not None and used <= limit


def insert_message(session: Session, **values: Any) -> int:
    return int(session.execute(insert(Message).values(created=utcnow(), **values).returning(Message.id)).scalar_one())


def appeal_thread(session: Session, requester_id: int, assignment_id: int) -> MessageThread | None:
    stmt = select(MessageThread).where(
        MessageThread.requester_id == requester_id,
        MessageThread.kind == ThreadKind.APPEAL.value,
        MessageThread.assignment_id == assignment_id,
    )
    return session.execute(stmt).scalar_one_or_none()


def add_appeal_thread(session: Session, **values: Any) -> int | None:
    """The appeal's thread, or None when the assignment has one already (one appeal per assignment)."""
    return add_thread_once(session, ["assignment_id"], text("kind = 'APPEAL'"), kind=ThreadKind.APPEAL.value, **values)


def toloker_assignment(session: Session, assignment_id: int, user_id: str) -> Assignment | None:
    stmt = select(Assignment).where(Assignment.id == assignment_id, Assignment.user_id == user_id)
    return session.execute(stmt).scalar_one_or_none()


# --- platform messages and bonus threads: set-based deliveries ----------------------------


def known_requester_ids(session: Session, ids: Iterable[int]) -> set[int]:
    return set(session.execute(select(Requester.id).where(Requester.id.in_(set(ids)))).scalars())


def deliver_to_requesters(
    session: Session, thread_id: int, requester_ids: set[int] | None, role: str, now: datetime
) -> int:
    """One INSERT ... SELECT of INBOX rows: for these requesters, or for all of them (None)."""
    columns, rows = named_select(
        {
            "requester_id": Requester.id,
            "thread_id": thread_id,
            "toloker_id": cast(literal(None), String),
            "interlocutor_role": role,
            "created": now,
            **flags("inbox", "unread"),
        }
    )
    if requester_ids is not None:
        rows = rows.where(Requester.id.in_(requester_ids))
    return rows_written(session, insert(RequesterThread).from_select(columns, rows))


def _has_value(column: Any) -> Any:
    # A JSON column may hold SQL NULL or a JSON null, depending on how the row was written.
    return and_(column.is_not(None), cast(column, String) != "null")


def _in_group(column: Any, ranged: bool) -> Any:
    """`column` within the bound id group: `first`..`last` when ranged, else the `ids` list."""
    if ranged:
        return column.between(bindparam("first"), bindparam("last"))
    return column.in_(bindparam("ids", expanding=True))


def _paid_with_message(ranged: bool, *columns: Any) -> Any:
    """The batch's paid bonuses that carry a message (the id group bound), as a subquery."""
    return (
        select(*columns)
        .where(
            Bonus.requester_id == bindparam("requester_id", type_=Integer),
            _in_group(Bonus.id, ranged),
            Bonus.without_message.is_(False),
            _has_value(Bonus.public_message),
        )
        .subquery()
    )


def _thread_of(paid: Any, now: Any, **extra: Any) -> tuple[list[str], Select[Any]]:
    title = case((_has_value(paid.c.public_title), paid.c.public_title), else_=literal(DEFAULT_BONUS_TOPIC, JSONType))
    return named_select(
        thread_row(
            **extra,
            requester_id=paid.c.requester_id,
            kind=ThreadKind.BONUS.value,
            topic=title,
            answerable=False,
            toloker_id=paid.c.user_id,
            bonus_id=paid.c.id,
            assignment_id=paid.c.assignment_id,
            delivered_count=1,
            created=now,
        )
    )


def _message_of(source: Any, thread_id: Any, now: Any) -> tuple[list[str], Select[Any]]:
    return named_select(
        {
            "thread_id": thread_id,
            "requester_id": source.c.requester_id,
            "sender_role": InterlocutorRole.REQUESTER.value,
            "sender_id": bindparam("sender_id"),
            "text": source.c.public_message,
            "created": now,
        }
    )


def _toloker_row_of(source: Any, thread_id: Any, toloker_id: Any, now: Any) -> tuple[list[str], Select[Any]]:
    return named_select(
        {
            "user_id": toloker_id,
            "thread_id": thread_id,
            "requester_id": source.c.requester_id,
            "created": now,
            **flags("inbox", "notification", "unread"),
        }
    )


def _bonus_thread_statements(ranged: bool) -> tuple[Any, Any, Any]:
    """SQLite's three INSERT ... SELECTs of `bonus_threads`, built once (building a statement
    costs more than running it) with the requester, the time and the id group bound."""
    now = bindparam("now", type_=UTCDateTime)
    paid = _paid_with_message(ranged, Bonus)
    threads = insert(MessageThread).from_select(*_thread_of(paid, now))
    # The batch's bonuses and their threads, both found by the id group: by primary key
    # and by `ix_message_threads_bonus_id` (a restriction on `bonus_id` lets SQLite use that
    # partial index). The cost follows the batch, never the number of BONUS threads the
    # requester already has. Only bonus threads carry a `bonus_id`. The thread's requester
    # and kind are `Unindexed`: without statistics (a new database) SQLite preferred
    # `ix_message_threads_requester_id_kind_created`, two equalities, and walked every BONUS
    # thread of the requester for each bonus: 28 s instead of under 1 s for the folder rows
    # of 20,000 bonuses paid in chunks of 250.
    requester = bindparam("requester_id", type_=Integer)
    joined = (
        select(MessageThread.id, MessageThread.requester_id, MessageThread.toloker_id, Bonus.public_message)
        .select_from(Bonus)
        .join(
            MessageThread,
            and_(MessageThread.bonus_id == Bonus.id, Unindexed(MessageThread.requester_id) == Bonus.requester_id),
        )
        .where(Bonus.requester_id == requester, _in_group(Bonus.id, ranged))
        .where(_in_group(MessageThread.bonus_id, ranged), Unindexed(MessageThread.kind) == ThreadKind.BONUS.value)
        .subquery()
    )
    messages = insert(Message).from_select(*_message_of(joined, joined.c.id, now))
    toloker_threads = insert(TolokerThread).from_select(*_toloker_row_of(joined, joined.c.id, joined.c.toloker_id, now))
    return threads, messages, toloker_threads


def _bonus_threads_statement_postgresql(ranged: bool) -> Any:
    """PostgreSQL's one statement for `bonus_threads`: each paid bonus is read once, with the
    id its thread will have (`nextval`), and the thread, its message and the Toloker's row are
    all written from that row by data-modifying CTEs.

    Why not SQLite's three statements: the second and third join the new threads back to their
    bonuses, and a fresh batch's tables have no statistics yet, so PostgreSQL expects one row
    on each side and may loop over the threads for every bonus (75 s instead of 9 s for
    100,000 bonuses, seen once both sides were held to the requester). Here there is no join
    left to misplan. Foreign keys are checked at the statement's end, when the threads exist."""
    now = bindparam("now", type_=UTCDateTime)
    next_id = func.nextval(func.pg_get_serial_sequence("message_threads", "id"))
    paid = (
        select(
            next_id.label("thread_id"),
            Bonus.id,
            Bonus.requester_id,
            Bonus.user_id,
            Bonus.assignment_id,
            Bonus.public_title,
            Bonus.public_message,
        )
        .where(
            Bonus.requester_id == bindparam("requester_id", type_=Integer),
            _in_group(Bonus.id, ranged),
            Bonus.without_message.is_(False),
            _has_value(Bonus.public_message),
        )
        .order_by(Bonus.id)
        .cte("paid")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    threads = insert(MessageThread).from_select(*_thread_of(paid, now, id=paid.c.thread_id)).cte("threads")
    messages = insert(Message).from_select(*_message_of(paid, paid.c.thread_id, now)).cte("messages")
    return (
        insert(TolokerThread)
        .from_select(*_toloker_row_of(paid, paid.c.thread_id, paid.c.user_id, now))
        .add_cte(threads, messages)
    )


_RANGED_STATEMENTS = _bonus_thread_statements(ranged=True)
_LISTED_STATEMENTS = _bonus_thread_statements(ranged=False)
_POSTGRESQL_STATEMENTS = {
    True: _bonus_threads_statement_postgresql(True),
    False: _bonus_threads_statement_postgresql(False),
}


def bonus_threads(
    session: Session, requester_id: int, group: tuple[int, int] | list[int], sender_id: str, now: datetime
) -> int:
    """A thread, its message and the Toloker's row per paid bonus of the id group that has a
    message: a (first, last) range or a list of ids. How many threads were made."""
    params: dict[str, Any] = {"requester_id": requester_id, "now": now, "sender_id": sender_id}
    ranged = isinstance(group, tuple)
    if isinstance(group, tuple):
        params["first"], params["last"] = group
    else:
        params["ids"] = group
    # On the connection: a session would take the parameters for an ORM bulk INSERT.
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        return connection.execute(_POSTGRESQL_STATEMENTS[ranged], params).rowcount
    threads, messages, toloker_threads = _RANGED_STATEMENTS if ranged else _LISTED_STATEMENTS
    made = rows_written(session, threads, params)
    if not made:
        return 0
    connection.execute(messages, params)
    connection.execute(toloker_threads, params)
    return made


def platform_threads_page(
    session: Session, before_id: int | None, limit: int
) -> tuple[list[MessageThread], int | None]:
    """The operator's platform messages, newest first, `limit` of them older than `before_id`,
    and the `before_id` of the next page (None at the end)."""
    stmt = select(MessageThread).where(MessageThread.kind == ThreadKind.PLATFORM.value)
    return page_before(session, stmt, MessageThread.id, before_id, limit)


def requester_count(session: Session) -> int:
    return int(session.execute(select(func.count()).select_from(Requester)).scalar_one())
