"""Bonuses paid to Tolokers, the input of asynchronous bonus operations, and the
per-day request counts behind the `POST /user-bonuses` quota.

Exactly-once payment rests on `uq_bonuses_operation_id_item_idx`: an item of an
operation can become a bonus row only once, whatever crashes and retries happen.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from crowdpost.models.base import Base, BigIntPK, JSONType, created_column


class Bonus(Base):
    __tablename__ = "bonuses"
    __table_args__ = (
        UniqueConstraint("operation_id", "item_idx"),
        Index("ix_bonuses_requester_id_id", "requester_id", "id"),
        Index("ix_bonuses_user_id_id", "user_id", "id"),
        Index("ix_bonuses_assignment_id", "assignment_id"),
        CheckConstraint("amount_micros > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("requesters.id", ondelete="CASCADE"), nullable=False)
    user_id: Mapped[str] = mapped_column(ForeignKey("tolokers.id", ondelete="CASCADE"), nullable=False)
    amount_micros: Mapped[int] = mapped_column(BigInteger, nullable=False)
    assignment_id: Mapped[int | None] = mapped_column(ForeignKey("assignments.id", ondelete="SET NULL"))
    private_comment: Mapped[str | None] = mapped_column(Text)
    public_title: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    public_message: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    without_message: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    # Set when an operation (async, or sync with an operation_id) paid it: the item's
    # position in that request.
    operation_id: Mapped[int | None] = mapped_column(ForeignKey("operations.id", ondelete="SET NULL"))
    item_idx: Mapped[int | None] = mapped_column(Integer)
    created: Mapped[datetime] = created_column()


class BonusOperationChunk(Base):
    """A slice of an async request's items, stored as the client sent them (wire JSON)."""

    __tablename__ = "bonus_operation_chunks"

    operation_id: Mapped[int] = mapped_column(ForeignKey("operations.id", ondelete="CASCADE"), primary_key=True)
    first_item: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_count: Mapped[int] = mapped_column(Integer, nullable=False)
    items: Mapped[str] = mapped_column(Text, nullable=False)
    # {"<item index>": {field: error}} for items that were not paid; wire JSON.
    errors: Mapped[str | None] = mapped_column(Text)


class BonusRequestCount(Base):
    """`POST /user-bonuses` requests per requester per UTC day (the daily quota)."""

    __tablename__ = "bonus_request_counts"

    requester_id: Mapped[int] = mapped_column(ForeignKey("requesters.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
