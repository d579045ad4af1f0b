"""The SQL of a send's per-recipient outcomes (`recipient_outcomes`) and of the bulk cap.

    record            one INSERT ... SELECT: a row per addressed Toloker, delivered or why not
    delivered         the SELECT the fan-out reads: the Tolokers a send's outcome rows deliver to
    counts            a thread's rows per outcome (stored on the thread at send time)
    count_capped      the dry run: how many of an audience the bulk cap would leave out
    recipients_page   the recipients list, with read and replied joined in
    lock_bulk_sends   PostgreSQL: one bulk send of a requester at a time checks the cap

Read and replied are not stored with the outcome: the Toloker's `toloker_threads` row already
changes when they read (`read_at`, set once by the UPDATE that clears `unread`) and their reply
makes the one CONVERSATION thread keyed (`parent_id`, `toloker_id`). Joining those two at query
time costs two key look-ups per listed row and nothing on the Toloker's path; keeping copies
here would mean an extra UPDATE per read, per reply and per "mark all read", each one a chance
to disagree with the rows the Toloker actually sees.

The cap counts a Toloker's DELIVERED rows of bulk (FILTER, ALL) sends from the same requester
in the last 7 days: DIRECT sends, replies (which write no outcome rows) and other requesters'
sends are not counted, and a Toloker left out by the cap is not counted either (they got
nothing). The count is a correlated sub-select inside the send's INSERT ... SELECT, answered
from `ix_recipient_outcomes_bulk_delivered` by one short range per Toloker.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, String, case, func, insert, literal_column, select, text
from sqlalchemy.orm import Session, aliased

from crowdpost.kit.pagination import ListParams, apply_id_range, apply_sort, page
from crowdpost.messaging.repository import named_select, rows_written
from crowdpost.messaging.schemas import Outcome, ThreadKind
from crowdpost.models import MessageThread, RecipientOutcome, TolokerThread

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
class BulkCap:
    """At most `limit` bulk deliveries per Toloker from one requester since `since`."""

    limit: int
    since: datetime

    @classmethod
    def week(cls, limit: int, now: datetime) -> BulkCap:
        return cls(limit, now - CAP_WINDOW)


def over_cap(requester_id: int, user_id: Any, cap: BulkCap) -> ColumnElement[bool]:
    """Whether the Toloker in `user_id` already had `cap.limit` bulk deliveries from this requester."""
    recent = (
        select(func.count())
        .where(
            RO.requester_id == requester_id,
            RO.user_id == user_id,
            RO.bulk,
            RO.outcome == _DELIVERED,
            RO.created >= cap.since,
        )
        .scalar_subquery()
    )
    return recent >= cap.limit


def record(
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
    whens: list[tuple[Any, str]] = [(who.c.left_out == reason, outcome.value) for reason, outcome in _LEFT_OUT.items()]
    if cap is not None:
        whens.append((over_cap(requester_id, who.c.user_id, cap), Outcome.LEFT_OUT_CAPPED.value))
    columns, rows = named_select(
        {
            "requester_id": requester_id,
            "thread_id": thread_id,
            "user_id": who.c.user_id,
            "outcome": case(*whens, else_=Outcome.DELIVERED.value),
            "bulk": bulk,
            "created": now,
        }
    )
    return rows_written(session, insert(RO).from_select(columns, rows))


def delivered(thread_id: int) -> Select[str]:
    """The Tolokers a thread's outcome rows deliver to (each once: one row per addressed id)."""
    return select(RO.user_id).where(RO.thread_id == thread_id, RO.outcome == _DELIVERED)


def counts(session: Session, requester_id: int, thread_id: int) -> dict[Outcome, int]:
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
    would leave out: the dry run's figure, by the same condition `record` writes with."""
    who = members.subquery()
    stmt = select(func.count()).select_from(who).where(over_cap(requester_id, who.c.user_id, cap))
    return int(session.execute(stmt).scalar_one())


def lock_bulk_sends(session: Session, requester_id: int) -> None:
    """PostgreSQL: wait for this requester's other bulk send to commit, so this one's cap counts
    its deliveries (READ COMMITTED: the next statement sees them). SQLite writes one at a time."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": f"bulk-cap:{requester_id}"}
        )


@dataclass(frozen=True)
class RecipientFilters:
    outcome: Outcome | None = None
    read: bool | None = None
    replied: bool | None = None


def recipients_page(
    session: Session, requester_id: int, thread_id: int, filters: RecipientFilters, params: ListParams
) -> tuple[list[Any], bool]:
    """One page of a thread's outcome rows in id order: (id, user_id, outcome, read_at,
    reply_thread_id) each, and has_more. Read and replied are joined in (module docstring)."""
    reply = aliased(MessageThread)
    stmt: Select[*tuple[Any, ...]] = (
        select(RO.id, RO.user_id, RO.outcome, TolokerThread.read_at, reply.id.label("reply_thread_id"))
        .outerjoin(TolokerThread, (TolokerThread.user_id == RO.user_id) & (TolokerThread.thread_id == RO.thread_id))
        .outerjoin(
            reply,
            (reply.parent_id == RO.thread_id)
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
    stmt = apply_sort(apply_id_range(stmt, RO.id, params.id_range), params.sort, {"id": RO.id}, RO.id)
    return page(session.execute(stmt.limit(params.limit + 1)).all(), params.limit)
