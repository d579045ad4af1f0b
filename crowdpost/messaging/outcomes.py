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
nothing). The Tolokers over it are one grouped SELECT (`capped_ids`) joined inside the send's
INSERT ... SELECT; the dry run counts the same join.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
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


def delivered(requester_id: int, thread_id: int) -> Select[str]:
    """The Tolokers a thread's outcome rows deliver to (each once: one row per addressed id)."""
    return select(RO.user_id).where(
        RO.requester_id == requester_id, RO.thread_id == thread_id, RO.outcome == _DELIVERED
    )


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
    would leave out: the dry run's figure, by the same `capped_ids` `record` joins."""
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
    stmt = apply_sort(apply_id_range(stmt, RO.id, params.id_range), params.sort, {"id": RO.id}, RO.id)
    return page(session.execute(stmt.limit(params.limit + 1)).all(), params.limit)
