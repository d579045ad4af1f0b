"""Webhook subscriptions (Toloka's `/webhook-subscriptions`) and the log of their deliveries.

`pool_id` is the pool's key, 0 when a subscription is not for one pool: a NULL would let
the unique rule (requester, url, event, pool) admit duplicates, since NULLs never compare
equal in a unique index on either backend.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crowdpost.models.base import Base, BigIntPK, UTCDateTime, created_column


class WebhookSubscription(Base):
    __tablename__ = "webhook_subscriptions"
    __table_args__ = (UniqueConstraint("requester_id", "webhook_url", "event_type", "pool_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("requesters.id", ondelete="CASCADE"), nullable=False)
    webhook_url: Mapped[str] = mapped_column(String(2048), nullable=False)
    event_type: Mapped[str] = mapped_column(String(64), nullable=False)
    pool_id: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    secret_key: Mapped[str | None] = mapped_column(String(255))
    created: Mapped[datetime] = created_column()
    # Paused after too many failed deliveries in a row; a new upsert resumes it.
    paused: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    consecutive_failures: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class WebhookDelivery(Base):
    """One attempt to POST a batch of events to a subscription's URL."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_subscription_id_id", "subscription_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"), nullable=False
    )
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    event_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
