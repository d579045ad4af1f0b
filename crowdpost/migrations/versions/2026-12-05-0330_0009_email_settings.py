"""email: notification switches, verified addresses and the server secret of e-mail links

Revision ID: 0009
Revises: 0006
Create Date: 2026-12-05 03:30:00

`requesters.email_verified`: addresses already on file were set by operators (the admin
API and the CLI are the only ways in so far), so they count as verified. The per-event
switches default off for requesters (as on Toloka) and on for Tolokers. `server_secrets`
holds the random key that signs unsubscribe and verification links; the first process that
needs it creates it (crowdpost.email.links), so no installation shares a key with another.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # NOT NULL with a server default: both backends add these in place (no table copy).
    op.add_column("requesters", sa.Column("email_verified", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column("requesters", sa.Column("email_new_message", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column(
        "requesters",
        sa.Column("email_operation_finished", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column("tolokers", sa.Column("email_new_message", sa.Boolean(), server_default=sa.true(), nullable=False))
    requesters = sa.table("requesters", sa.column("email", sa.String()), sa.column("email_verified", sa.Boolean()))
    op.execute(requesters.update().where(requesters.c.email.is_not(None)).values(email_verified=sa.true()))

    op.create_table(
        "server_secrets",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_server_secrets")),
    )


def downgrade() -> None:
    op.drop_table("server_secrets")
    # In place on both backends (SQLite >= 3.35 drops a column itself), as in 0006.
    op.drop_column("tolokers", "email_new_message")
    op.drop_column("requesters", "email_operation_finished")
    op.drop_column("requesters", "email_new_message")
    op.drop_column("requesters", "email_verified")
