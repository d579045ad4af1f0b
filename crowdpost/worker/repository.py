"""All SQL of the jobs table: writing a job (with its cause), claiming one, recording its outcome.

The policy (when to claim, how long a lease lasts, retries and giving up) is `worker.loop`'s;
these functions take plain values and run the statements."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, insert, or_, select, update
from sqlalchemy.orm import Session

from crowdpost.models import Job
from crowdpost.models.job import JobStatus


def insert_job(session: Session, kind: str, payload: dict[str, Any], run_after: datetime, created: datetime) -> None:
    """Adds one QUEUED job, in the caller's transaction (it commits with its cause)."""
    session.execute(
        insert(Job).values(kind=kind, payload=payload, status=JobStatus.QUEUED, run_after=run_after, created=created)
    )


def _claimable(now: datetime) -> ColumnElement[bool]:
    """Due and queued, or running on a lease that has run out (its worker died)."""
    return or_(
        (Job.status == JobStatus.QUEUED) & (Job.run_after <= now),
        (Job.status == JobStatus.RUNNING) & (Job.lease_until < now),
    )


def any_claimable(session: Session, now: datetime) -> bool:
    """Whether some job could be claimed now (a read: it takes no lock)."""
    return session.execute(select(Job.id).where(_claimable(now)).limit(1)).first() is not None


def claim_next(session: Session, name: str, now: datetime, lease_until: datetime, *, skip_locked: bool) -> Job | None:
    """Leases the oldest claimable job to worker `name` (RUNNING until `lease_until`, one
    attempt more) and returns it refreshed, or None. `skip_locked` (PostgreSQL) claims with
    `FOR UPDATE SKIP LOCKED`, so concurrent workers never contend for the same row."""
    stmt = select(Job).where(_claimable(now)).order_by(Job.id).limit(1)
    if skip_locked:
        stmt = stmt.with_for_update(skip_locked=True)
    job = session.execute(stmt).scalar_one_or_none()
    if job is None:
        return None
    session.execute(
        update(Job)
        .where(Job.id == job.id)
        .values(status=JobStatus.RUNNING, locked_by=name, lease_until=lease_until, attempts=Job.attempts + 1)
    )
    session.flush()
    session.refresh(job)
    return job


def mark_done(session: Session, job_id: int, finished: datetime) -> None:
    session.execute(
        update(Job).where(Job.id == job_id).values(status=JobStatus.DONE, finished=finished, lease_until=None)
    )


def record_failure(
    session: Session,
    job_id: int,
    *,
    status: JobStatus,
    run_after: datetime,
    last_error: str,
    finished: datetime | None,
) -> None:
    """A failed attempt: QUEUED again from `run_after`, or FAILED (given up) at `finished`."""
    session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(status=status, run_after=run_after, lease_until=None, last_error=last_error, finished=finished)
    )
