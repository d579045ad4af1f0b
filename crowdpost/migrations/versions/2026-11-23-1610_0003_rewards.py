"""rewards: operations, bonuses, async bonus input, daily request counts

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-23 16:10:00

`operations.public_id` is byte-ordered ("C" collation) on PostgreSQL so that `sort=id`
and `id_gt` over client-chosen ids agree on every locale, as they do on SQLite.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_PUBLIC_ID = sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql")


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "operations",
        sa.Column("id", _ID, nullable=False),
        sa.Column("requester_id", _ID, nullable=False),
        sa.Column("public_id", _PUBLIC_ID, nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("submitted", sa.DateTime(), nullable=False),
        sa.Column("started", sa.DateTime(), nullable=True),
        sa.Column("finished", sa.DateTime(), nullable=True),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("parameters", _JSON, nullable=False),
        sa.Column("details", _JSON, nullable=False),
        sa.Column("phase", sa.String(length=16), nullable=True),
        sa.Column("cursor", sa.Integer(), nullable=False),
        sa.Column("result", sa.Text(), nullable=True),
        _fk("operations", "requester_id", "requesters", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operations")),
        sa.UniqueConstraint("requester_id", "public_id", name=op.f("uq_operations_requester_id_public_id")),
    )
    op.create_index("ix_operations_requester_id_submitted", "operations", ["requester_id", "submitted"])

    op.create_table(
        "bonuses",
        sa.Column("id", _ID, nullable=False),
        sa.Column("requester_id", _ID, nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("amount_micros", sa.BigInteger(), nullable=False),
        sa.Column("assignment_id", _ID, nullable=True),
        sa.Column("private_comment", sa.Text(), nullable=True),
        sa.Column("public_title", _JSON, nullable=True),
        sa.Column("public_message", _JSON, nullable=True),
        sa.Column("without_message", sa.Boolean(), nullable=False),
        sa.Column("operation_id", _ID, nullable=True),
        sa.Column("item_idx", sa.Integer(), nullable=True),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.CheckConstraint("amount_micros > 0", name=op.f("ck_bonuses_amount_positive")),
        _fk("bonuses", "requester_id", "requesters", "CASCADE"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["tolokers.id"], name=op.f("fk_bonuses_user_id_tolokers"), ondelete="CASCADE"
        ),
        _fk("bonuses", "assignment_id", "assignments", "SET NULL"),
        _fk("bonuses", "operation_id", "operations", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bonuses")),
        sa.UniqueConstraint("operation_id", "item_idx", name=op.f("uq_bonuses_operation_id_item_idx")),
    )
    op.create_index("ix_bonuses_requester_id_id", "bonuses", ["requester_id", "id"])
    op.create_index("ix_bonuses_user_id_id", "bonuses", ["user_id", "id"])
    op.create_index("ix_bonuses_assignment_id", "bonuses", ["assignment_id"])

    op.create_table(
        "bonus_operation_chunks",
        sa.Column("operation_id", _ID, nullable=False),
        sa.Column("first_item", sa.Integer(), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("items", sa.Text(), nullable=False),
        sa.Column("errors", sa.Text(), nullable=True),
        _fk("bonus_operation_chunks", "operation_id", "operations", "CASCADE"),
        sa.PrimaryKeyConstraint("operation_id", "first_item", name=op.f("pk_bonus_operation_chunks")),
    )

    op.create_table(
        "bonus_request_counts",
        sa.Column("requester_id", _ID, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        _fk("bonus_request_counts", "requester_id", "requesters", "CASCADE"),
        sa.PrimaryKeyConstraint("requester_id", "day", name=op.f("pk_bonus_request_counts")),
    )


def downgrade() -> None:
    op.drop_table("bonus_request_counts")
    op.drop_table("bonus_operation_chunks")
    op.drop_index("ix_bonuses_assignment_id", table_name="bonuses")
    op.drop_index("ix_bonuses_user_id_id", table_name="bonuses")
    op.drop_index("ix_bonuses_requester_id_id", table_name="bonuses")
    op.drop_table("bonuses")
    op.drop_index("ix_operations_requester_id_submitted", table_name="operations")
    op.drop_table("operations")
