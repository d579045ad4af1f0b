"""The delivery loop: claim a batch of a channel's rows, deliver it, record the outcomes.

At least once: a row is DONE only after its channel said so; a worker killed between
claim and record leaves a lease that runs out (`outbox_lease_seconds`) and the row is
claimed again. Claims are short write transactions; delivery runs outside any
transaction; the outcomes of a batch are one more short transaction.

Rows with the same `ordering_key` go out in id order: a row is claimable only while no
earlier row of its key is waiting for a retry or leased elsewhere, so a failing head holds
back its own key and nothing else. A temporary failure is retried with exponential
backoff and jitter until `outbox_retry_hours` after the row was written, then FAILED; a
permanent one is FAILED at once. A channel that is not ready (e.g. SMTP not configured)
is not claimed from at all, so its rows wait without spending attempts.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta

from prometheus_client import Counter

from crowdpost.config import Settings
from crowdpost.db import Database
from crowdpost.kit.timefmt import utcnow
from crowdpost.outbox import repository
from crowdpost.outbox.channels import Channel, OutboxRow, Outcome, channels

log = logging.getLogger("crowdpost.outbox")

DELIVERIES = Counter(
    "crowdpost_outbox_deliveries_total", "Outbox rows delivered or not, by channel", ["channel", "outcome"]
)

# Backoff after the n-th failed attempt: 2**n seconds (capped), times a random 0.5-1.0 so
# rows that failed together (a mail server restart) do not all come back together.
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 3600.0
MAX_ERROR_CHARS = 2000


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def backoff(attempts: int, rng: random.Random | None = None) -> timedelta:
    """Delay before the next try after `attempts` failed ones (>= 1)."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS ** min(attempts, 32))
    return timedelta(seconds=ceiling * (rng or random).uniform(0.5, 1.0))


def deliver_pending(
    db: Database,
    settings: Settings,
    *,
    worker: str | None = None,
    max_batches: int | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Delivers due rows of every ready channel until none is claimable (or `max_batches`
    batches per channel ran, or `stop` is set: looked at between batches, so a batch claimed
    is always delivered and recorded); returns how many rows were processed. Tests call it directly."""
    worker = worker or worker_name()
    total = 0
    for ch in channels():
        if ch.why_not_ready(settings):
            continue
        batches = 0
        while (max_batches is None or batches < max_batches) and not (stop is not None and stop.is_set()):
            done = deliver_batch(db, settings, ch, worker)
            if done == 0:
                break
            total += done
            batches += 1
    return total


def claim_batch(db: Database, ch: Channel, worker: str, lease: timedelta) -> list[OutboxRow]:
    now = utcnow()
    if db.is_sqlite:
        # Look before taking SQLite's one write lock (as worker.loop.claim_job does): an idle
        # poll holding it would make the API's writers wait.
        with db.transaction(write=False) as session:
            if not repository.any_claimable(session, ch.name, now):
                return []
    with db.transaction() as session:
        if not db.is_sqlite:
            repository.lock_claims(session, ch.name)
        return repository.claim(
            session,
            channel=ch.name,
            limit=ch.batch_size,
            worker=worker,
            now=now,
            lease=lease,
            postgres=not db.is_sqlite,
        )


def deliver_batch(db: Database, settings: Settings, ch: Channel, worker: str) -> int:
    """One claim -> deliver -> record round; returns the rows processed (0: nothing due)."""
    rows = claim_batch(db, ch, worker, timedelta(seconds=settings.outbox_lease_seconds))
    if not rows:
        return 0
    try:
        outcomes: Sequence[Outcome] = ch.deliver(db, settings, rows)
        if len(outcomes) != len(rows):
            raise RuntimeError(f"channel {ch.name!r} returned {len(outcomes)} outcomes for {len(rows)} rows")
    except Exception as exc:
        # A channel bug or an outage it did not classify: every row of the batch retries.
        log.exception("outbox channel %s failed on a batch of %s rows", ch.name, len(rows))
        error = f"{type(exc).__name__}: {exc}"
        outcomes = [Outcome.retry(error) for _ in rows]
    record(db, settings, rows, outcomes, worker)
    return len(rows)


def record(
    db: Database, settings: Settings, rows: Sequence[OutboxRow], outcomes: Sequence[Outcome], worker: str
) -> None:
    """Writes a batch's outcomes in one transaction."""
    now = utcnow()
    window = timedelta(hours=settings.outbox_retry_hours)
    # note (None: plain delivery) -> rows; one UPDATE per distinct note (a batch has a few)
    delivered: dict[str | None, list[int]] = defaultdict(list)
    with db.transaction() as session:
        for row, outcome in zip(rows, outcomes, strict=True):
            if outcome.ok:
                DELIVERIES.labels(row.channel, "delivered").inc()
                note = outcome.error[:MAX_ERROR_CHARS] if outcome.error else None
                delivered[note].append(row.id)
                continue
            error = (outcome.error or "failed")[:MAX_ERROR_CHARS]
            if outcome.permanent or now - row.created >= window:
                DELIVERIES.labels(row.channel, "failed").inc()
                repository.mark_failed(session, row.id, worker, error)
                log.warning("outbox row %s (%s %s) FAILED: %s", row.id, row.channel, row.kind, error)
            else:
                DELIVERIES.labels(row.channel, "retry").inc()
                repository.schedule_retry(session, row.id, worker, error, now + backoff(row.attempts))
        for note, ids in delivered.items():
            repository.mark_done(session, ids, worker, now, note)
