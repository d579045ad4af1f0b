"""Tolokers (the crowd) with the profile fields recipient filters read."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, Numeric, String, Text, true
from sqlalchemy.orm import Mapped, mapped_column

from crowdpost.models.base import Base, BigIntPK, UTCDateTime, created_column


class Toloker(Base):
    __tablename__ = "tolokers"

    # Toloka ids are opaque strings (often 32 hex digits); the operator may choose them.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    country: Mapped[str | None] = mapped_column(String(2))
    citizenship: Mapped[str | None] = mapped_column(String(2))
    city: Mapped[int | None] = mapped_column(Integer)
    gender: Mapped[str | None] = mapped_column(String(16))
    # Unix seconds, as Toloka's date_of_birth filter compares it.
    date_of_birth: Mapped[int | None] = mapped_column(BigInteger)
    education: Mapped[str | None] = mapped_column(String(16))
    adult_allowed: Mapped[bool | None] = mapped_column(Boolean)
    verified: Mapped[bool | None] = mapped_column(Boolean)
    region_by_phone: Mapped[int | None] = mapped_column(Integer)
    region_by_ip: Mapped[int | None] = mapped_column(Integer)
    client_type: Mapped[str | None] = mapped_column(String(32))
    os_family: Mapped[str | None] = mapped_column(String(32))
    os_version: Mapped[Decimal | None] = mapped_column(Numeric(12, 4))
    os_version_major: Mapped[int | None] = mapped_column(Integer)
    os_version_minor: Mapped[int | None] = mapped_column(Integer)
    os_version_bugfix: Mapped[int | None] = mapped_column(Integer)
    device_category: Mapped[str | None] = mapped_column(String(32))
    user_agent_type: Mapped[str | None] = mapped_column(String(32))
    user_agent_family: Mapped[str | None] = mapped_column(String(64))
    user_agent_version: Mapped[Decimal | None] = mapped_column(Numeric(12, 4))
    user_agent_version_major: Mapped[int | None] = mapped_column(Integer)
    user_agent_version_minor: Mapped[int | None] = mapped_column(Integer)
    user_agent_version_bugfix: Mapped[int | None] = mapped_column(Integer)
    email: Mapped[str | None] = mapped_column(String(320))
    # argon2id, NULL until an operator sets one (the Toloker's pages also take their API token).
    password_hash: Mapped[str | None] = mapped_column(Text)
    # New messages by e-mail when `email` is set (crowdpost.email); on by default.
    email_new_message: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True, server_default=true())
    # The codes of `toloker_languages` as `|DE|EN|` ('' for none), written with them: a
    # language filter tests this column instead of probing that table per Toloker.
    language_list: Mapped[str] = mapped_column(Text, server_default="", default="")
    created: Mapped[datetime] = created_column()


class TolokerLanguage(Base):
    """One row per language a Toloker speaks; filters use EXISTS over (language, user_id)."""

    __tablename__ = "toloker_languages"
    __table_args__ = (Index("ix_toloker_languages_language_user_id", "language", "user_id"),)

    user_id: Mapped[str] = mapped_column(ForeignKey("tolokers.id", ondelete="CASCADE"), primary_key=True)
    language: Mapped[str] = mapped_column(String(16), primary_key=True)


class TolokerWebSession(Base):
    """A browser signed in to the Toloker's pages; like `web_sessions`, only the SHA-256 of
    the cookie is stored. A table of its own, so a Toloker session can never name a requester."""

    __tablename__ = "toloker_web_sessions"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    session_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    user_id: Mapped[str] = mapped_column(ForeignKey("tolokers.id", ondelete="CASCADE"), index=True, nullable=False)
    csrf_token: Mapped[str] = mapped_column(String(64), nullable=False)
    created: Mapped[datetime] = created_column()
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
