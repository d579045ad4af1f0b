"""Asynchronous operations (Toloka's `/operations`): one row per long-running request.

The public id is the client's `operation_id` (toloka-kit sends a UUID) or one we
make up; it is unique per requester, so a retried request finds the first one
instead of starting a second. `cursor`/`phase` are the runner's place in the input,
committed with each chunk of work, so a crashed worker resumes where it stopped.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crowdpost.models.base import Base, BigIntPK, created_column

# Byte order on PostgreSQL, as on SQLite: `id_gt` paging and `sort=id` over client
# chosen ids must agree with each other whatever the database's locale is.
PublicIdType = String(64).with_variant(String(64, collation="C"), "postgresql")


class Operation(Base):
    __tablename__ = "operations"
    __table_args__ = (
        UniqueConstraint("requester_id", "public_id"),
        Index("ix_operations_requester_id_submitted", "requester_id", "submitted"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("requesters.id", ondelete="CASCADE"), nullable=False)
    public_id: Mapped[str] = mapped_column(PublicIdType, nullable=False)
    type: Mapped[str] = mapped_column(String(64), nullable=False)
    # PENDING -> RUNNING -> SUCCESS | FAIL
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    submitted: Mapped[datetime] = created_column()
    started: Mapped[datetime | None]
    finished: Mapped[datetime | None]
    progress: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The runner's position: which pass it is in and how many input items it has done.
    phase: Mapped[str | None] = mapped_column(String(16))
    cursor: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    # A synchronous request's outcome (wire JSON), replayed when it is retried.
    result: Mapped[str | None] = mapped_column(Text)

    # The ORM's key for a row (the table's stays `id`): every UPDATE it flushes then names the
    # requester as well, so on Citus it goes to the requester's shard (crowdpost.distribution).
    __mapper_args__ = {"primary_key": ["id", "requester_id"]}
