"""Bans (Toloka's user restrictions) a requester puts on Tolokers.

A ban is active while `deleted` is NULL and `will_expire` is NULL or in the future;
queries compare `will_expire` with the database's clock, so expiry needs no job.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crowdpost.models.base import Base, BigIntPK, created_column


class UserRestriction(Base):
    __tablename__ = "user_restrictions"
    __table_args__ = (
        CheckConstraint(
            "(scope = 'ALL_PROJECTS' AND project_id IS NULL AND pool_id IS NULL)"
            " OR (scope = 'PROJECT' AND project_id IS NOT NULL AND pool_id IS NULL)"
            " OR (scope = 'POOL' AND pool_id IS NOT NULL)",
            name="scope_matches_target",
        ),
        Index("ix_user_restrictions_requester_id_id", "requester_id", "id"),
        # Audiences: "is this Toloker banned by R" probes and "R's banned Tolokers" range
        # scans (in user_id order, for DISTINCT) both read only this index.
        Index("ix_user_restrictions_requester_id_user_id", "requester_id", "user_id", "deleted", "will_expire"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("requesters.id", ondelete="CASCADE"), nullable=False)
    user_id: Mapped[str] = mapped_column(ForeignKey("tolokers.id", ondelete="CASCADE"), nullable=False)
    scope: Mapped[str] = mapped_column(String(16), nullable=False)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    pool_id: Mapped[int | None] = mapped_column(ForeignKey("pools.id", ondelete="CASCADE"))
    private_comment: Mapped[str | None] = mapped_column(Text)
    will_expire: Mapped[datetime | None]
    created: Mapped[datetime] = created_column()
    deleted: Mapped[datetime | None]

    # The ORM's key (the table's stays `id`): a flushed UPDATE names the requester too (Citus).
    __mapper_args__ = {"primary_key": ["id", "requester_id"]}
