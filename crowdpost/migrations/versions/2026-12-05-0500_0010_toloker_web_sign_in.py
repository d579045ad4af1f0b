"""accounts: the Toloker's page sign-in (Toloker passwords, Toloker web sessions)

Revision ID: 0010
Revises: 0006
Create Date: 2026-12-05 05:00:00

`tolokers.password_hash` is argon2id and NULL until an operator sets one.
`toloker_web_sessions` stores the SHA-256 of each Toloker session cookie, never the cookie;
failed sign-ins share `sign_in_failures` (keys prefixed `toloker:`).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("tolokers", sa.Column("password_hash", sa.Text(), nullable=True))
    op.create_table(
        "toloker_web_sessions",
        sa.Column("id", _ID, nullable=False),
        sa.Column("session_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["tolokers.id"],
            name=op.f("fk_toloker_web_sessions_user_id_tolokers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_toloker_web_sessions")),
        sa.UniqueConstraint("session_hash", name=op.f("uq_toloker_web_sessions_session_hash")),
    )
    op.create_index(op.f("ix_toloker_web_sessions_user_id"), "toloker_web_sessions", ["user_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_toloker_web_sessions_user_id"), table_name="toloker_web_sessions")
    op.drop_table("toloker_web_sessions")
    op.drop_column("tolokers", "password_hash")
