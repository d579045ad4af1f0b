"""Job rows: run once, retried on failure, reclaimed after a dead worker's lease."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from crowdpost.db import Database
from crowdpost.kit.timefmt import utcnow
from crowdpost.models import Job
from crowdpost.models.job import JobStatus
from crowdpost.worker import loop
from crowdpost.worker.registry import enqueue, register_job, unregister_job

calls: list[dict[str, Any]] = []
given_up: list[tuple[dict[str, Any], str]] = []


def _record(session: Session, payload: dict[str, Any]) -> None:
    calls.append(payload)


def _flaky(session: Session, payload: dict[str, Any]) -> None:
    calls.append(payload)
    if len(calls) < 2:
        raise RuntimeError("transient")


def _bad_data(session: Session, payload: dict[str, Any]) -> None:
    """A statement the database refuses for the data in it: a data error on PostgreSQL; on
    SQLite (which converts instead) a NOT NULL failure, an integrity error."""
    calls.append(payload)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT CAST(:value AS INTEGER)"), {"value": "not a number"})
    else:
        session.execute(text("INSERT INTO jobs (kind) VALUES (NULL)"))


def _record_give_up(session: Session, payload: dict[str, Any], reason: str) -> None:
    given_up.append((payload, reason))


# This module's job kinds, registered for its tests only (as `crowdpost.wiring` does).
_TEST_JOBS = {
    "test.record": (_record, None),
    "test.flaky": (_flaky, None),
    "test.bad-data": (_bad_data, _record_give_up),
}


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    calls.clear()
    given_up.clear()
    for kind, (handler, on_give_up) in _TEST_JOBS.items():
        register_job(kind, handler, on_give_up)
    yield
    for kind in _TEST_JOBS:
        unregister_job(kind)


def _jobs(db: Database) -> list[Job]:
    with db.transaction(write=False) as session:
        return list(session.execute(select(Job).order_by(Job.id)).scalars())


def test_enqueued_job_runs_once(db: Database) -> None:
    with db.transaction() as session:
        enqueue(session, "test.record", {"n": 1})
    assert loop.run_pending(db) == 1
    assert loop.run_pending(db) == 0
    assert calls == [{"n": 1}]
    assert _jobs(db)[0].status is JobStatus.DONE
    with db.transaction(write=False) as session:  # stored as the plain string it always was
        assert session.execute(text("SELECT status FROM jobs")).scalar_one() == "DONE"


def test_job_rolled_back_with_its_cause_never_runs(db: Database) -> None:
    def failing_request() -> None:
        with db.transaction() as session:
            enqueue(session, "test.record", {"n": 2})
            raise RuntimeError("the request failed")

    with pytest.raises(RuntimeError):
        failing_request()
    assert loop.run_pending(db) == 0
    assert calls == []


def test_failed_job_is_retried_later(db: Database) -> None:
    with db.transaction() as session:
        enqueue(session, "test.flaky", {"n": 3})
    loop.run_pending(db)
    job = _jobs(db)[0]
    assert job.status == JobStatus.QUEUED
    assert "transient" in (job.last_error or "")
    with db.transaction() as session:
        session.execute(update(Job).values(run_after=utcnow()))
    loop.run_pending(db)
    assert _jobs(db)[0].status == JobStatus.DONE
    assert len(calls) == 2


def test_expired_lease_is_reclaimed(db: Database) -> None:
    with db.transaction() as session:
        enqueue(session, "test.record", {"n": 4})
    claimed = loop.claim_job(db, "dead-worker")
    assert claimed is not None
    assert loop.claim_job(db, "other") is None  # leased
    with db.transaction() as session:
        session.execute(update(Job).values(lease_until=utcnow() - timedelta(seconds=1)))
    again = loop.claim_job(db, "other")
    assert again is not None
    assert again.id == claimed.id
    assert again.attempts == 2
    loop.run_job(db, again)
    assert calls == [{"n": 4}]


def test_unknown_job_kind_fails_without_retry(db: Database) -> None:
    with db.transaction() as session:
        enqueue(session, "test.nobody-handles-this", {})
    loop.run_pending(db)
    job = _jobs(db)[0]
    assert job.status == JobStatus.FAILED
    assert "no handler" in (job.last_error or "")


def test_job_the_database_refuses_is_given_up_not_retried_forever(db: Database) -> None:
    """A data error ends the job at once; an integrity error after INTEGRITY_ATTEMPTS.
    Either way the job is FAILED and its kind's give-up handler hears why."""
    with db.transaction() as session:
        enqueue(session, "test.bad-data", {"n": 5})
    for _ in range(loop.INTEGRITY_ATTEMPTS + 2):
        loop.run_pending(db)
        with db.transaction() as session:
            session.execute(update(Job).where(Job.status == JobStatus.QUEUED).values(run_after=utcnow()))
    job = _jobs(db)[0]
    assert job.status == JobStatus.FAILED
    assert job.attempts == (loop.INTEGRITY_ATTEMPTS if db.is_sqlite else 1)
    assert len(calls) == job.attempts
    assert len(given_up) == 1
    payload, reason = given_up[0]
    assert payload == {"n": 5}
    assert "SELECT" not in reason  # the driver's message, not the SQL
    assert "INSERT" not in reason
    assert reason.startswith("IntegrityError: NOT NULL" if db.is_sqlite else "data error: invalid input syntax")


def test_transient_error_is_not_given_up(db: Database) -> None:
    """An ordinary failure is retried (test.flaky succeeds the second time): not permanent."""
    assert not loop.is_permanent(RuntimeError("transient"), attempts=1)
    with db.transaction() as session:
        enqueue(session, "test.flaky", {"n": 6})
    loop.run_pending(db)
    assert _jobs(db)[0].status == JobStatus.QUEUED
