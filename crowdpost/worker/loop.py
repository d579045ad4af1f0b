"""Claim a job, run it, record the outcome; repeat until told to stop.

A claim is a lease: the row says RUNNING until `lease_until`. A worker that dies
(kill -9) leaves an expired lease, and any worker picks the job up again; handlers
are idempotent, so nothing is done twice. On PostgreSQL claims use
`FOR UPDATE SKIP LOCKED` so many workers never contend for the same row.

A job that fails is retried with backoff, up to its `max_attempts`. Errors retrying
cannot fix end it at once: a data error (the database refuses a value, e.g. PostgreSQL
and U+0000), or an integrity error that persists over `INTEGRITY_ATTEMPTS` (a race
clears on retry, a bad row does not). A job given up on is FAILED, and its kind's
give-up handler (named with it in `crowdpost.wiring`) ends the work it belonged to in
that same transaction, so an operation never stays RUNNING behind a dead job.
"""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
import threading
import traceback
from datetime import timedelta
from functools import partial

import psycopg
from sqlalchemy import exc as sa_exc

from crowdpost.config import Settings
from crowdpost.db import Database
from crowdpost.kit.timefmt import utcnow
from crowdpost.models import Job
from crowdpost.models.job import JobStatus
from crowdpost.outbox.delivery import deliver_pending
from crowdpost.worker import repository
from crowdpost.worker.registry import give_up_handler_for, handler_for

log = logging.getLogger("crowdpost.worker")

# How long a claimed job stays invisible to other workers. A job is one bounded chunk
# of work, far shorter than this; a worker that dies leaves the job to be reclaimed
# once the lease runs out (settings.worker_lease_seconds).
DEFAULT_LEASE = timedelta(minutes=5)


# Outbox batches per channel delivered in one loop pass, so a long queue of e-mails never
# keeps due jobs waiting (and the other way round: jobs run first, then this many batches).
OUTBOX_BATCHES_PER_PASS = 10

# An integrity error that comes back this many times in a row is the data, not a race.
INTEGRITY_ATTEMPTS = 3
_DATA_ERRORS = (sa_exc.DataError, psycopg.DataError, sqlite3.DataError)
_INTEGRITY_ERRORS = (sa_exc.IntegrityError, psycopg.IntegrityError, sqlite3.IntegrityError)


def _causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def is_permanent(exc: BaseException, attempts: int) -> bool:
    """True for errors a retry cannot fix (see the module docstring)."""
    chain = _causes(exc)
    if any(isinstance(e, _DATA_ERRORS) for e in chain):
        return True
    return attempts >= INTEGRITY_ATTEMPTS and any(isinstance(e, _INTEGRITY_ERRORS) for e in chain)


def give_up_reason(exc: BaseException) -> str:
    """One line for an operation's details: the driver's message, never the SQL."""
    cause = exc.orig if isinstance(exc, sa_exc.StatementError) and exc.orig is not None else exc
    lines = str(cause).strip().splitlines()
    kind = "data error" if any(isinstance(e, _DATA_ERRORS) for e in _causes(exc)) else type(cause).__name__
    return f"{kind}: {lines[0] if lines else type(cause).__name__}"[:300]


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def claim_job(db: Database, name: str, lease: timedelta = DEFAULT_LEASE) -> Job | None:
    now = utcnow()
    if db.is_sqlite:
        # Look before taking SQLite's one write lock: an idle poll that took it would make
        # the API's writers wait in SQLite's busy handler, which sleeps in steps of 1 ms+.
        with db.transaction(write=False) as session:
            if not repository.any_claimable(session, now):
                return None
    with db.transaction() as session:
        job = repository.claim_next(session, name, now, now + lease, skip_locked=not db.is_sqlite)
        if job is None:
            return None
        session.expunge(job)
        return job


def run_job(db: Database, job: Job) -> bool:
    """Runs one claimed job; returns True if it finished (done or given up)."""
    handler = handler_for(job.kind)
    try:
        if handler is None:
            raise LookupError(f"no handler for job kind {job.kind!r}")
        with db.transaction(job=True) as session:
            handler(session, dict(job.payload))
            # DONE in the handler's own transaction: one commit per job, and never a
            # handler committed with its job still RUNNING (it would run again on lease expiry).
            repository.mark_done(session, job.id, utcnow())
    except Exception as exc:
        log.exception("job %s (%s) failed, attempt %s", job.id, job.kind, job.attempts)
        give_up = job.attempts >= job.max_attempts or handler is None or is_permanent(exc, job.attempts)
        backoff = timedelta(seconds=min(300, 2**job.attempts))
        on_give_up = give_up_handler_for(job.kind) if give_up else None
        outcome = partial(
            repository.record_failure,
            job_id=job.id,
            status=JobStatus.FAILED if give_up else JobStatus.QUEUED,
            run_after=utcnow() + backoff,
            last_error="".join(traceback.format_exception_only(exc))[-4000:],
            finished=utcnow() if give_up else None,
        )
        try:
            with db.transaction(job=True) as session:
                if on_give_up is not None:
                    on_give_up(session, dict(job.payload), give_up_reason(exc))
                outcome(session)
        except Exception:
            if on_give_up is None:
                raise
            # The job is still not run again forever; what it belonged to needs a look.
            log.exception("job %s (%s): the give-up handler failed", job.id, job.kind)
            with db.transaction() as session:
                outcome(session)
        return give_up
    return True


def run_pending(
    db: Database,
    name: str | None = None,
    limit: int | None = None,
    lease: timedelta = DEFAULT_LEASE,
    stop: threading.Event | None = None,
) -> int:
    """Runs jobs until none is due (or `limit` ran, or `stop` is set); returns how many ran.
    Used by tests too. A job claimed is always run to its end (done, retried or given up):
    `stop` is looked at only between jobs, so a stopping worker holds no claim.

    The handlers are those `crowdpost.wiring.wire` registered at startup."""
    name = name or worker_name()
    count = 0
    while (limit is None or count < limit) and not (stop is not None and stop.is_set()):
        job = claim_job(db, name, lease)
        if job is None:
            break
        run_job(db, job)
        count += 1
    return count


def run_forever(
    db: Database,
    stop: threading.Event,
    poll_interval: float,
    lease: timedelta = DEFAULT_LEASE,
    settings: Settings | None = None,
) -> None:
    """Runs due jobs, then (given `settings`) delivers outbox rows; sleeps when neither had work.

    When `stop` is set it finishes the job or outbox batch in hand (each is bounded: one chunk,
    one batch, under the statement timeout) and returns without claiming another, so it
    leaves no lease behind for another worker to wait out."""
    name = worker_name()
    log.info("worker %s started", name)
    while not stop.is_set():
        try:
            ran = run_pending(db, name, lease=lease, stop=stop)
        except Exception:
            log.exception("worker loop error")
            ran = 0
        if settings is not None and not stop.is_set():
            try:
                ran += deliver_pending(db, settings, worker=name, max_batches=OUTBOX_BATCHES_PER_PASS, stop=stop)
            except Exception:
                log.exception("outbox delivery error")
        if ran == 0:
            stop.wait(poll_interval)
    log.info("worker %s stopped", name)


class EmbeddedWorker:
    """A worker thread living inside `crowdpost serve`."""

    def __init__(
        self, db: Database, poll_interval: float, lease: timedelta = DEFAULT_LEASE, settings: Settings | None = None
    ) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=run_forever,
            args=(db, self._stop, poll_interval, lease, settings),
            name="crowdpost-worker",
            daemon=True,
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        self._thread.join(timeout)
