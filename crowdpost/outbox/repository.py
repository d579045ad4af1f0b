"""All SQL of the outbox: writing rows (with their cause), claiming, recording outcomes, listing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, exists, func, insert, literal, literal_column, or_, select, text, update
from sqlalchemy.orm import Session, aliased

from crowdpost.kit.timefmt import utcnow
from crowdpost.models.outbox import DONE, FAILED, PENDING, OutboxItem
from crowdpost.outbox.channels import OutboxRow

ENQUEUE_COLUMNS = ("channel", "kind", "requester_id", "user_id", "ref_id", "ordering_key", "payload")


def enqueue(
    session: Session,
    *,
    channel: str,
    kind: str,
    requester_id: int | None = None,
    user_id: str | None = None,
    ref_id: int | None = None,
    ordering_key: str | None = None,
    payload: dict[str, Any] | None = None,
) -> None:
    """Adds one row to send, in the caller's transaction (it commits with its cause)."""
    now = utcnow()
    session.execute(
        insert(OutboxItem).values(
            channel=channel,
            kind=kind,
            requester_id=requester_id,
            user_id=user_id,
            ref_id=ref_id,
            ordering_key=ordering_key,
            payload=payload,
            status=PENDING,
            attempts=0,
            next_attempt_at=now,
            created=now,
        )
    )


def enqueue_select(session: Session, select_stmt: Select[*tuple[Any, ...]], columns: Sequence[str]) -> None:
    """`INSERT INTO outbox (<columns>, status, attempts, next_attempt_at, created) SELECT ...`:
    one statement however many rows (an ALL send to 100,000 Tolokers). The select yields
    exactly `columns`, in that order."""
    unknown = set(columns) - set(ENQUEUE_COLUMNS)
    if unknown:
        raise ValueError(f"not outbox columns to enqueue: {sorted(unknown)}")
    now = utcnow()
    source = select(
        *select_stmt.subquery().c,
        literal(PENDING).label("status"),
        literal(0).label("attempts"),
        literal(now, OutboxItem.next_attempt_at.type).label("next_attempt_at"),
        literal(now, OutboxItem.created.type).label("created"),
    )
    target = [*columns, "status", "attempts", "next_attempt_at", "created"]
    session.execute(insert(OutboxItem).from_select(target, source))


def _pending(column: Any, sqlite: bool) -> Any:
    """`status = 'PENDING'` as the claim needs it. Written into the SQL, not bound: SQLite uses
    a partial index (`... WHERE status = 'PENDING'`) only when the query says so literally.
    On SQLite also wrapped in likelihood(..., 0.9), which tells its planner (without ANALYZE
    statistics) that most rows may be PENDING, so it takes the channel's and the ordering
    key's partial indexes rather than (status, id): with that one it walked every PENDING row
    of every channel and, for each, the earlier rows, and 100,000 e-mails waiting made one
    webhook claim take seconds."""
    condition = column == literal_column(f"'{PENDING}'")
    return func.likelihood(condition, literal_column("0.9")) if sqlite else condition


def _claimable(channel: str, now: datetime, *, sqlite: bool) -> Any:
    """Due PENDING rows of the channel not leased to a live worker, each either without an
    ordering key or with no earlier row of its key held back (not due, or leased elsewhere)."""
    earlier = aliased(OutboxItem)
    held_back = exists().where(
        earlier.ordering_key == OutboxItem.ordering_key,
        _pending(earlier.status, sqlite),
        earlier.id < OutboxItem.id,
        or_(earlier.next_attempt_at > now, earlier.lease_until >= now),
    )
    return and_(
        _pending(OutboxItem.status, sqlite),
        OutboxItem.channel == channel,
        OutboxItem.next_attempt_at <= now,
        or_(OutboxItem.lease_until.is_(None), OutboxItem.lease_until < now),
        or_(OutboxItem.ordering_key.is_(None), ~held_back),
    )


def _is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def any_claimable(session: Session, channel: str, now: datetime) -> bool:
    claimable = _claimable(channel, now, sqlite=_is_sqlite(session))
    return session.execute(select(OutboxItem.id).where(claimable).limit(1)).first() is not None


def claim(
    session: Session, *, channel: str, limit: int, worker: str, now: datetime, lease: timedelta, postgres: bool
) -> list[OutboxRow]:
    """Leases up to `limit` rows in id order; each claim counts as an attempt (a worker
    killed mid-delivery spent it). On PostgreSQL the caller's transaction holds the
    channel's claim lock (see `lock_claims`), so the ordering-key check sees every lease."""
    stmt = select(OutboxItem).where(_claimable(channel, now, sqlite=not postgres)).order_by(OutboxItem.id).limit(limit)
    if postgres:
        stmt = stmt.with_for_update(skip_locked=True)
    items = list(session.execute(stmt).scalars())
    if not items:
        return []
    ids = [item.id for item in items]
    session.execute(
        update(OutboxItem)
        .where(OutboxItem.id.in_(ids))
        .values(lease_until=now + lease, locked_by=worker, attempts=OutboxItem.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    # Detached copies of the leased rows; `attempts` counts the claim just made.
    return [OutboxRow(**{name: getattr(item, name) for name in _COPIED}, attempts=item.attempts + 1) for item in items]


_COPIED = [field.name for field in fields(OutboxRow) if field.name != "attempts"]


def lock_claims(session: Session, channel: str) -> None:
    """PostgreSQL: one claimer per channel at a time, until the claim commits. Without it two
    workers could lease consecutive rows of one ordering key (the second one's check cannot
    see the first one's uncommitted lease). Claims are short; delivery runs unlocked."""
    session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"crowdpost.outbox.{channel}"})


def mark_done(session: Session, ids: Sequence[int], worker: str, now: datetime, note: str | None = None) -> None:
    """DONE. `note` (e.g. "suppressed: the e-mail address is not verified") stays in `last_error`,
    so an operator sees why a settled row sent nothing; a plain delivery clears it."""
    if ids:
        session.execute(
            update(OutboxItem)
            .where(OutboxItem.id.in_(ids), OutboxItem.locked_by == worker, OutboxItem.status == PENDING)
            .values(status=DONE, delivered_at=now, lease_until=None, last_error=note)
            .execution_options(synchronize_session=False)
        )


def mark_failed(session: Session, row_id: int, worker: str, error: str) -> None:
    session.execute(
        update(OutboxItem)
        .where(OutboxItem.id == row_id, OutboxItem.locked_by == worker, OutboxItem.status == PENDING)
        .values(status=FAILED, lease_until=None, last_error=error)
        .execution_options(synchronize_session=False)
    )


def schedule_retry(session: Session, row_id: int, worker: str, error: str, at: datetime) -> None:
    session.execute(
        update(OutboxItem)
        .where(OutboxItem.id == row_id, OutboxItem.locked_by == worker, OutboxItem.status == PENDING)
        .values(next_attempt_at=at, lease_until=None, last_error=error)
        .execution_options(synchronize_session=False)
    )


# --- operators ---------------------------------------------------------------------------


def get(session: Session, row_id: int) -> OutboxItem | None:
    return session.get(OutboxItem, row_id)


def list_items(
    session: Session, *, status: str | None, channel: str | None, id_gt: int | None, limit: int
) -> list[OutboxItem]:
    stmt = select(OutboxItem).order_by(OutboxItem.id).limit(limit)
    if status is not None:
        stmt = stmt.where(OutboxItem.status == status)
    if channel is not None:
        stmt = stmt.where(OutboxItem.channel == channel)
    if id_gt is not None:
        stmt = stmt.where(OutboxItem.id > id_gt)
    return list(session.execute(stmt).scalars())


def requeue_failed(session: Session, row_id: int, now: datetime) -> bool:
    """FAILED -> PENDING due now; False if the row is not FAILED. `created` stays (the e-mail's
    Message-ID is built from it), so a retry past the retry window gets one more attempt."""
    result = session.execute(
        update(OutboxItem)
        .where(OutboxItem.id == row_id, OutboxItem.status == FAILED)
        .values(status=PENDING, next_attempt_at=now, lease_until=None, locked_by=None, attempts=0)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def counts(session: Session) -> list[tuple[str, str, int]]:
    """(status, channel, rows) for every pair present."""
    rows = session.execute(
        select(OutboxItem.status, OutboxItem.channel, func.count()).group_by(OutboxItem.status, OutboxItem.channel)
    )
    return [(status, channel, int(n)) for status, channel, n in rows]


def pending_by_channel(session: Session) -> list[tuple[str, int, datetime | None]]:
    """(channel, pending rows, oldest pending `created`): what the gauges read at scrape time."""
    rows = session.execute(
        select(OutboxItem.channel, func.count(), func.min(OutboxItem.created))
        .where(OutboxItem.status == PENDING)
        .group_by(OutboxItem.channel)
    )
    return [(channel, int(n), oldest) for channel, n, oldest in rows]
