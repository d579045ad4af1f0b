"""outbox: one row per e-mail or webhook event to send

Revision ID: 0007
Revises: 0001
Create Date: 2026-12-05 05:00:00

The partial indexes cover only PENDING rows, so claiming stays cheap however many
delivered rows the table keeps.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_PENDING = sa.text("status = 'PENDING'")


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", _ID, nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("requester_id", sa.BigInteger(), nullable=True),
        sa.Column("user_id", sa.String(length=64), nullable=True),
        sa.Column("ref_id", sa.BigInteger(), nullable=True),
        sa.Column("ordering_key", sa.String(length=128), nullable=True),
        sa.Column("payload", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("locked_by", sa.String(length=128), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    op.create_index(
        "ix_outbox_channel_id_pending",
        "outbox",
        ["channel", "id"],
        postgresql_where=_PENDING,
        sqlite_where=_PENDING,
    )
    op.create_index(
        "ix_outbox_ordering_key_id_pending",
        "outbox",
        ["ordering_key", "id"],
        postgresql_where=_PENDING,
        sqlite_where=_PENDING,
    )
    op.create_index("ix_outbox_status_id", "outbox", ["status", "id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_status_id", table_name="outbox")
    op.drop_index("ix_outbox_ordering_key_id_pending", table_name="outbox")
    op.drop_index("ix_outbox_channel_id_pending", table_name="outbox")
    op.drop_table("outbox")
