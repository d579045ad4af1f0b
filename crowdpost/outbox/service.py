"""The outbox's door for other domains (enqueue a row, or one per row of a SELECT) and the
operator's use cases: list rows, put a FAILED row back, the counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from crowdpost.errors import ConflictState, DoesNotExist, ValidationFailed, field_error
from crowdpost.kit.pagination import page
from crowdpost.kit.timefmt import utcnow
from crowdpost.models.outbox import FAILED, STATUSES, OutboxItem
from crowdpost.outbox import repository

# What e-mail and webhooks write into the outbox, in their callers' transactions. The
# statements stay in the repository; other domains import them from here (the import rule).
from crowdpost.outbox.repository import enqueue as enqueue
from crowdpost.outbox.repository import enqueue_select as enqueue_select

MAX_LIMIT = 300


@dataclass(frozen=True)
class Page:
    items: list[OutboxItem]
    has_more: bool


@dataclass(frozen=True)
class Summary:
    """Rows by (status, channel), and the age of the oldest PENDING row (None: nothing waits)."""

    counts: list[tuple[str, str, int]]
    oldest_pending_seconds: float | None


def list_rows(session: Session, *, status: str | None, channel: str | None, id_gt: int | None, limit: int) -> Page:
    wanted = None
    if status is not None:
        wanted = status.upper()
        if wanted not in STATUSES:
            raise ValidationFailed(
                {"status": field_error("VALUE_NOT_ALLOWED", "status must be one of: " + ", ".join(STATUSES))}
            )
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed({"limit": field_error("VALUE_OUT_OF_RANGE", f"limit must be 1 to {MAX_LIMIT}")})
    # The operator's API pages by the outbox's own integer ids (`id_gt`), not by public ids.
    rows, has_more = page(
        repository.list_items(session, status=wanted, channel=channel, id_gt=id_gt, limit=limit + 1), limit
    )
    return Page(rows, has_more)


def do_retry(session: Session, row_id: int) -> OutboxItem:
    """FAILED -> PENDING, due now. 404 for an unknown row, 409 for one that is not FAILED."""
    item = repository.get(session, row_id)
    if item is None:
        raise DoesNotExist(f"outbox row {row_id} does not exist")
    if not repository.requeue_failed(session, row_id, utcnow()):
        raise ConflictState(f"outbox row {row_id} is {item.status}, not {FAILED}: only failed rows are retried")
    session.refresh(item)
    return item


def summary(session: Session, now: datetime | None = None) -> Summary:
    now = now or utcnow()
    oldest = [created for _, _, created in repository.pending_by_channel(session) if created is not None]
    age = (now - min(oldest)).total_seconds() if oldest else None
    return Summary(repository.counts(session), age)


__all__ = ["Page", "Summary", "do_retry", "list_rows", "summary"]
