"""messaging: per-recipient outcomes of a send, when a Toloker first read a thread, two more counts

Revision ID: 0014_recipient_outcomes
Revises: 0013
Create Date: 2026-12-05 11:30:00

`recipient_outcomes` holds one row per addressed Toloker of a composed thread (delivered, or
why left out), written in the send's transaction; its two indexes serve the recipients list
of a thread (paged by id) and the bulk cap (a Toloker's bulk deliveries from one requester in
the last 7 days). `toloker_threads.read_at` records a Toloker's first read, and
`message_threads` gains the counts of the two new ways of being left out. Threads sent before
this revision have no outcome rows: their recipients list is empty.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_recipient_outcomes"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TABLE = "recipient_outcomes"


def upgrade() -> None:
    op.create_table(
        _TABLE,
        sa.Column("id", _ID, nullable=False),
        sa.Column("requester_id", sa.BigInteger(), nullable=False),
        sa.Column("thread_id", _ID, nullable=False),
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("outcome", sa.String(length=24), nullable=False),
        sa.Column("bulk", sa.Boolean(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["thread_id"],
            ["message_threads.id"],
            name=op.f("fk_recipient_outcomes_thread_id_message_threads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recipient_outcomes")),
    )
    op.create_index("ix_recipient_outcomes_thread_id_id", _TABLE, ["thread_id", "id"])
    op.create_index(
        "ix_recipient_outcomes_bulk_delivered",
        _TABLE,
        ["requester_id", "user_id", "created"],
        sqlite_where=sa.text("bulk = 1 AND outcome = 'DELIVERED'"),
        postgresql_where=sa.text("bulk AND outcome = 'DELIVERED'"),
    )
    op.add_column("toloker_threads", sa.Column("read_at", sa.DateTime(), nullable=True))
    for column in ("not_yours_count", "capped_count"):
        op.add_column("message_threads", sa.Column(column, sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    # Plain ALTER TABLE ... DROP COLUMN (SQLite >= 3.35): a batch copy of these tables would
    # DROP them, and with foreign keys on that cascades into every thread's messages and rows.
    op.drop_column("message_threads", "capped_count")
    op.drop_column("message_threads", "not_yours_count")
    op.drop_column("toloker_threads", "read_at")
    op.drop_index("ix_recipient_outcomes_bulk_delivered", table_name=_TABLE)
    op.drop_index("ix_recipient_outcomes_thread_id_id", table_name=_TABLE)
    op.drop_table(_TABLE)
