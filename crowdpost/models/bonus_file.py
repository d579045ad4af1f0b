"""Uploaded "pay from a file" CSVs, kept between the preview and the pay step.

In the database rather than in a process: on PostgreSQL the pay request may reach another
process than the upload did. One row per (requester, content): uploading the same file
again finds the same row. Rows older than a day are pruned at the next upload."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crowdpost.models.base import Base, BigIntPK, created_column


class BonusFile(Base):
    __tablename__ = "bonus_files"
    __table_args__ = (
        UniqueConstraint("requester_id", "sha256"),
        Index("ix_bonus_files_created", "created"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("requesters.id", ondelete="CASCADE"), nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    filename: Mapped[str] = mapped_column(String(255), nullable=False)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    content: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    created: Mapped[datetime] = created_column()
