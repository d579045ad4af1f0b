"""Requesters (the paying customers), their API tokens, and the money ledger."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crowdpost.models.base import Base, BigIntPK, created_column


class Requester(Base):
    __tablename__ = "requesters"
    __table_args__ = (CheckConstraint("balance_micros >= 0", name="balance_not_negative"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    public_name: Mapped[dict[str, Any]]
    company: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320))
    # Cached sum of ledger rows, kept in step by the same statement that writes them.
    balance_micros: Mapped[int] = mapped_column(BigInteger, default=0, nullable=False)
    created: Mapped[datetime] = created_column()


class ApiToken(Base):
    """A bearer token for a requester or a Toloker. Only the SHA-256 of it is stored."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        CheckConstraint(
            "(role = 'REQUESTER' AND requester_id IS NOT NULL AND toloker_id IS NULL)"
            " OR (role = 'TOLOKER' AND toloker_id IS NOT NULL AND requester_id IS NULL)",
            name="owner_matches_role",
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    requester_id: Mapped[int | None] = mapped_column(ForeignKey("requesters.id", ondelete="CASCADE"), index=True)
    toloker_id: Mapped[str | None] = mapped_column(ForeignKey("tolokers.id", ondelete="CASCADE"), index=True)
    created: Mapped[datetime] = created_column()
    revoked: Mapped[datetime | None]


class LedgerEntry(Base):
    """One change of a requester's balance. The balance is the sum of these rows."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        Index("ix_ledger_entries_requester_id_id", "requester_id", "id"),
        CheckConstraint("kind IN ('DEPOSIT', 'BONUS', 'FEE', 'REFUND', 'ADJUSTMENT')", name="kind_known"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("requesters.id", ondelete="CASCADE"), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    # Signed: deposits positive, bonuses and fees negative.
    amount_micros: Mapped[int] = mapped_column(BigInteger, nullable=False)
    balance_after_micros: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # What caused it, e.g. "bonus:000000000042"; rows of one payment share it.
    reference: Mapped[str | None] = mapped_column(String(128), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    created: Mapped[datetime] = created_column()
