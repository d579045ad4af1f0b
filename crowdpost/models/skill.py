"""Skills a requester defines, the values Tolokers hold, and the history of every change.

Skill values are stored in millionths (`value_micros`, 85.5 -> 85_500_000) so filters
compare integers exactly on both backends; the wire shows `exact_value` as a decimal
and `value` rounded to an integer, as Toloka does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crowdpost.models.base import Base, BigIntPK, created_column


class Skill(Base):
    __tablename__ = "skills"
    __table_args__ = (
        Index("ix_skills_requester_id_id", "requester_id", "id"),
        Index("ix_skills_requester_id_name", "requester_id", "name"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("requesters.id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    hidden: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    # A Toloker's value is dropped when it was not updated for this long (None: never).
    skill_ttl_hours: Mapped[int | None] = mapped_column(Integer)
    # public_name, private_comment, training, deprecated and anything else the client sent.
    spec: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created: Mapped[datetime] = created_column()


class UserSkill(Base):
    """The current value of one skill for one Toloker (Toloka's UserSkill)."""

    __tablename__ = "user_skills"
    __table_args__ = (
        UniqueConstraint("skill_id", "user_id"),
        # Recipient filters: "skill S of requester R compared with V" is one covering range scan.
        Index("ix_user_skills_filter", "requester_id", "skill_id", "value_micros", "user_id", "expires"),
        Index("ix_user_skills_requester_id_id", "requester_id", "id"),
        Index("ix_user_skills_user_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("requesters.id", ondelete="CASCADE"), nullable=False)
    skill_id: Mapped[int] = mapped_column(ForeignKey("skills.id", ondelete="CASCADE"), nullable=False)
    user_id: Mapped[str] = mapped_column(ForeignKey("tolokers.id", ondelete="CASCADE"), nullable=False)
    value_micros: Mapped[int] = mapped_column(BigInteger, nullable=False)
    created: Mapped[datetime] = created_column()
    modified: Mapped[datetime] = created_column()
    # modified + the skill's TTL; a value past it counts as unset (no job needed).
    expires: Mapped[datetime | None]


class UserSkillChange(Base):
    """Every set and removal of a Toloker's skill, oldest first (the history Toloka keeps)."""

    __tablename__ = "user_skill_changes"
    __table_args__ = (Index("ix_user_skill_changes_skill_id_user_id_id", "skill_id", "user_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("requesters.id", ondelete="CASCADE"), nullable=False)
    skill_id: Mapped[int] = mapped_column(ForeignKey("skills.id", ondelete="CASCADE"), nullable=False)
    user_id: Mapped[str] = mapped_column(ForeignKey("tolokers.id", ondelete="CASCADE"), nullable=False)
    # None records a removal.
    value_micros: Mapped[int | None] = mapped_column(BigInteger)
    reason: Mapped[str | None] = mapped_column(Text)
    created: Mapped[datetime] = created_column()
