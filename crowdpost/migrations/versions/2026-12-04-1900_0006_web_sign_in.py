"""accounts: page sign-in (requester passwords, web sessions, sign-in failures)

Revision ID: 0006
Revises: 0001
Create Date: 2026-12-04 19:00:00

`requesters.password_hash` is argon2id and NULL until an operator or the requester sets
one. `web_sessions` stores the SHA-256 of each session cookie, never the cookie.
`sign_in_failures` holds one row per recent failed sign-in (the next failure prunes rows
too old to lock anything), keyed by the e-mail tried or `token:` + the token's hash.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # A nullable column without a default: both backends add it in place (no table copy).
    op.add_column("requesters", sa.Column("password_hash", sa.Text(), nullable=True))

    op.create_table(
        "web_sessions",
        sa.Column("id", _ID, nullable=False),
        sa.Column("session_hash", sa.String(length=64), nullable=False),
        sa.Column("requester_id", _ID, nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["requester_id"],
            ["requesters.id"],
            name=op.f("fk_web_sessions_requester_id_requesters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_sessions")),
        sa.UniqueConstraint("session_hash", name=op.f("uq_web_sessions_session_hash")),
    )
    op.create_index(op.f("ix_web_sessions_requester_id"), "web_sessions", ["requester_id"])

    op.create_table(
        "sign_in_failures",
        sa.Column("id", _ID, nullable=False),
        sa.Column("key", sa.String(length=330), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_failures")),
    )
    op.create_index("ix_sign_in_failures_key_created", "sign_in_failures", ["key", "created"])
    op.create_index(op.f("ix_sign_in_failures_created"), "sign_in_failures", ["created"])


def downgrade() -> None:
    op.drop_index(op.f("ix_sign_in_failures_created"), table_name="sign_in_failures")
    op.drop_index("ix_sign_in_failures_key_created", table_name="sign_in_failures")
    op.drop_table("sign_in_failures")
    op.drop_index(op.f("ix_web_sessions_requester_id"), table_name="web_sessions")
    op.drop_table("web_sessions")
    # In place on both backends (SQLite >= 3.35 drops a column itself): a batch copy of
    # `requesters` would drop the table every other table references.
    op.drop_column("requesters", "password_hash")
