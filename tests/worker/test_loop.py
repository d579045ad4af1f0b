"""Job rows: run once, retried on failure, reclaimed after a dead worker's lease."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crowdpost.db import Database
from crowdpost.kit.timefmt import utcnow
from crowdpost.models import Job
from crowdpost.worker import loop
from crowdpost.worker.registry import enqueue, job_handler

calls: list[dict[str, Any]] = []


@job_handler("test.record")
def _record(session: Session, payload: dict[str, Any]) -> None:
    calls.append(payload)


@job_handler("test.flaky")
def _flaky(session: Session, payload: dict[str, Any]) -> None:
    calls.append(payload)
    if len(calls) < 2:
        raise RuntimeError("transient")


@pytest.fixture(autouse=True)
def _reset() -> None:
    calls.clear()


def _jobs(db: Database) -> list[Job]:
    with db.transaction(write=False) as session:
        return list(session.execute(select(Job).order_by(Job.id)).scalars())


def test_enqueued_job_runs_once(db: Database) -> None:
    with db.transaction() as session:
        enqueue(session, "test.record", {"n": 1})
    assert loop.run_pending(db) == 1
    assert loop.run_pending(db) == 0
    assert calls == [{"n": 1}]
    assert _jobs(db)[0].status == "DONE"


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
    assert job.status == "QUEUED"
    assert "transient" in (job.last_error or "")
    with db.transaction() as session:
        session.execute(update(Job).values(run_after=utcnow()))
    loop.run_pending(db)
    assert _jobs(db)[0].status == "DONE"
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
    assert job.status == "FAILED"
    assert "no handler" in (job.last_error or "")
