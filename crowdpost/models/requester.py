"""Requesters (the paying customers), their API tokens, web sessions and sign-in
failures, and the money ledger."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Index, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from crowdpost.models.base import Base, BigIntPK, UTCDateTime, created_column


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
    # argon2id (crowdpost.accounts.passwords); None: this requester cannot sign in with a password.
    password_hash: Mapped[str | None] = mapped_column(Text)
    # An address an operator sets is verified; one the requester sets waits for its link
    # (crowdpost.email). Unverified addresses get nothing but the verification e-mail.
    email_verified: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())
    # Per-event e-mail switches (Profile -> Notifications); off by default, as on Toloka.
    email_new_message: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())
    email_operation_finished: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=false()
    )


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


class WebSession(Base):
    """A signed-in browser. The cookie holds a random value; only its SHA-256 is stored, as
    for API tokens, so a copy of the database signs nobody in."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    session_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    requester_id: Mapped[int] = mapped_column(
        ForeignKey("requesters.id", ondelete="CASCADE"), index=True, nullable=False
    )
    # Stored as is: the page must print it into every form of this session.
    csrf_token: Mapped[str] = mapped_column(String(64), nullable=False)
    created: Mapped[datetime] = created_column()
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class SignInFailure(Base):
    """One failed sign-in, keyed by what was tried: the e-mail (lower case, whether or not a
    requester has it) or `token:` + the token's SHA-256. Rows older than two lock windows
    can no longer lock anything and are pruned by the next failure, so the table holds only
    recent ones (crowdpost.accounts.web_sessions)."""

    __tablename__ = "sign_in_failures"
    __table_args__ = (Index("ix_sign_in_failures_key_created", "key", "created"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    key: Mapped[str] = mapped_column(String(330), nullable=False)
    created: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)


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
