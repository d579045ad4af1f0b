"""The outbox: one row per thing to send (an e-mail, a webhook event), written in the same
transaction as its cause and delivered at least once by the workers (`crowdpost.outbox`).

Claiming reads a channel's PENDING rows in id order (a partial index keeps that scan to the
rows still to send, however many DONE rows pile up) and checks the head of each
`ordering_key` (rows with one key go out in id order).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from crowdpost.models.base import Base, BigIntPK, JSONType, UTCDateTime, created_column

PENDING = "PENDING"
DONE = "DONE"
FAILED = "FAILED"
STATUSES = (PENDING, DONE, FAILED)


class OutboxItem(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        Index(
            "ix_outbox_channel_id_pending",
            "channel",
            "id",
            postgresql_where=text("status = 'PENDING'"),
            sqlite_where=text("status = 'PENDING'"),
        ),
        Index(
            "ix_outbox_ordering_key_id_pending",
            "ordering_key",
            "id",
            postgresql_where=text("status = 'PENDING'"),
            sqlite_where=text("status = 'PENDING'"),
        ),
        Index("ix_outbox_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    # "email" | "webhook"
    channel: Mapped[str] = mapped_column(String(32), nullable=False)
    # e.g. NEW_MESSAGE, VERIFY_EMAIL, OPERATION_FINISHED, or a webhook event type
    kind: Mapped[str] = mapped_column(String(64), nullable=False)
    requester_id: Mapped[int | None] = mapped_column(BigInteger)
    user_id: Mapped[str | None] = mapped_column(String(64))
    ref_id: Mapped[int | None] = mapped_column(BigInteger)
    ordering_key: Mapped[str | None] = mapped_column(String(128))
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # PENDING -> DONE | FAILED (an operator may put a FAILED row back to PENDING)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime] = created_column()
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_by: Mapped[str | None] = mapped_column(String(128))
    last_error: Mapped[str | None] = mapped_column(Text)
    created: Mapped[datetime] = created_column()
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
