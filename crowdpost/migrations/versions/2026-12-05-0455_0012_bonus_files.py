"""rewards: uploaded bonus files (pay from a file)

Revision ID: 0012
Revises: 0003
Create Date: 2026-12-05 04:55:00

The uploaded CSV is kept in the database between the preview and the pay step, so any
process can pay it; one row per requester and content (sha256).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "bonus_files",
        sa.Column("id", _ID, nullable=False),
        sa.Column("requester_id", _ID, nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["requester_id"],
            ["requesters.id"],
            name=op.f("fk_bonus_files_requester_id_requesters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bonus_files")),
        sa.UniqueConstraint("requester_id", "sha256", name=op.f("uq_bonus_files_requester_id_sha256")),
    )
    op.create_index(op.f("ix_bonus_files_created"), "bonus_files", ["created"])


def downgrade() -> None:
    op.drop_index(op.f("ix_bonus_files_created"), table_name="bonus_files")
    op.drop_table("bonus_files")
