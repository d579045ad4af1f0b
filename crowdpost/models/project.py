"""Projects, pools and assignments: the work Tolokers did for a requester.

Task execution lives outside crowdpost; the admin API feeds assignments in. The
workforce API exposes them in Toloka's shape; everything Toloka sends that we do not
interpret is kept verbatim in `spec`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crowdpost.models.base import Base, BigIntPK, JSONType, created_column


class Project(Base):
    __tablename__ = "projects"
    __table_args__ = (Index("ix_projects_requester_id_id", "requester_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("requesters.id", ondelete="CASCADE"), nullable=False)
    public_name: Mapped[str] = mapped_column(String(255), nullable=False)
    status: Mapped[str] = mapped_column(String(16), default="ACTIVE", nullable=False)
    spec: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created: Mapped[datetime] = created_column()


class Pool(Base):
    __tablename__ = "pools"
    __table_args__ = (Index("ix_pools_requester_id_id", "requester_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("requesters.id", ondelete="CASCADE"), nullable=False)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), nullable=False)
    private_name: Mapped[str] = mapped_column(String(255), nullable=False)
    status: Mapped[str] = mapped_column(String(16), default="CLOSED", nullable=False)
    spec: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created: Mapped[datetime] = created_column()
    last_started: Mapped[datetime | None]
    last_stopped: Mapped[datetime | None]
    last_close_reason: Mapped[str | None] = mapped_column(String(32))


class Assignment(Base):
    __tablename__ = "assignments"
    __table_args__ = (
        Index("ix_assignments_requester_id_id", "requester_id", "id"),
        Index("ix_assignments_pool_id_status", "pool_id", "status"),
        # Audiences by participation (workforce/participation.py), both covering. By pool: a
        # pool's Tolokers come out in user_id order (a sorted, cheap IN set, GROUP BY without a
        # sort). By Toloker: a per-Toloker probe ("never in project 1", a leaf inside an "or")
        # is one seek, pool, status and created checked in the index; it also serves every
        # read of one Toloker's assignments, which always names the requester.
        Index("ix_assignments_requester_id_pool_id_user_id", "requester_id", "pool_id", "user_id", "status", "created"),
        Index("ix_assignments_requester_id_user_id_pool_id", "requester_id", "user_id", "pool_id", "status", "created"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("requesters.id", ondelete="CASCADE"), nullable=False)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), nullable=False)
    pool_id: Mapped[int] = mapped_column(ForeignKey("pools.id", ondelete="CASCADE"), nullable=False)
    user_id: Mapped[str] = mapped_column(ForeignKey("tolokers.id", ondelete="CASCADE"), nullable=False)
    task_suite_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    reward_micros: Mapped[int] = mapped_column(BigInteger, default=0, nullable=False)
    public_comment: Mapped[str | None] = mapped_column(Text)
    # Toloka's `solutions`: [{"output_values": {...}}, ...], as the task platform reported them.
    solutions: Mapped[list[Any] | None] = mapped_column(JSONType)
    created: Mapped[datetime] = created_column()
    submitted: Mapped[datetime | None]
    accepted: Mapped[datetime | None]
    rejected: Mapped[datetime | None]
    skipped: Mapped[datetime | None]
    expired: Mapped[datetime | None]


class RequesterToloker(Base):
    """Who worked for whom: one row per (requester, Toloker), kept by assignment imports.

    Audiences ("started at least N of your tasks") read this instead of counting
    assignments, so a send to a million Tolokers is one indexed range scan.
    """

    __tablename__ = "requester_tolokers"
    __table_args__ = (
        # Both covering, so audiences never read the table: ALL scans the first by range,
        # filtered audiences probe the second once per Toloker that passed the profile terms.
        Index("ix_requester_tolokers_requester_id_started_count_user_id", "requester_id", "started_count", "user_id"),
        Index("ix_requester_tolokers_probe", "requester_id", "user_id", "started_count"),
    )

    requester_id: Mapped[int] = mapped_column(ForeignKey("requesters.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("tolokers.id", ondelete="CASCADE"), primary_key=True)
    started_count: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    first_started: Mapped[datetime] = created_column()
    last_started: Mapped[datetime] = created_column()
