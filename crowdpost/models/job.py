"""Background jobs, written in the same transaction as the data they act on.

There is no broker: a job row commits (or rolls back) with its cause, and workers
claim rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL). Jobs carry ids, reload their
data, and must be safe to run again after a crash.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Dialect, Index, Integer, String, Text, TypeDecorator
from sqlalchemy.orm import Mapped, mapped_column

from crowdpost.models.base import Base, BigIntPK, created_column


class JobStatus(StrEnum):
    """QUEUED -> RUNNING -> DONE | FAILED; RUNNING with an expired lease is claimable again."""

    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    DONE = "DONE"
    FAILED = "FAILED"


class _JobStatusColumn(TypeDecorator[JobStatus]):
    """The status as stored (the enum's value in a VARCHAR(16), no database enum), read back
    as a `JobStatus`."""

    impl = String(16)
    cache_ok = True

    def process_bind_param(self, value: JobStatus | str | None, dialect: Dialect) -> str | None:
        return None if value is None else JobStatus(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> JobStatus | None:
        return None if value is None else JobStatus(value)


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status_run_after", "status", "run_after"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    kind: Mapped[str] = mapped_column(String(64), nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[JobStatus] = mapped_column(_JobStatusColumn(), default=JobStatus.QUEUED, nullable=False)
    run_after: Mapped[datetime] = created_column()
    attempts: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    max_attempts: Mapped[int] = mapped_column(Integer, default=10, nullable=False)
    locked_by: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created: Mapped[datetime] = created_column()
    finished: Mapped[datetime | None]
