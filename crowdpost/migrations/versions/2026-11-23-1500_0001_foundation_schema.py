"""foundation schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23 15:05:12.949329
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("run_after", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("locked_by", sa.String(length=128), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("finished", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index("ix_jobs_status_run_after", ["status", "run_after"], unique=False)

    op.create_table(
        "requesters",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("public_name", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("company", sa.String(length=255), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("balance_micros", sa.BigInteger(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.CheckConstraint("balance_micros >= 0", name=op.f("ck_requesters_balance_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_requesters")),
    )
    op.create_table(
        "tolokers",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("citizenship", sa.String(length=2), nullable=True),
        sa.Column("city", sa.Integer(), nullable=True),
        sa.Column("gender", sa.String(length=16), nullable=True),
        sa.Column("date_of_birth", sa.BigInteger(), nullable=True),
        sa.Column("education", sa.String(length=16), nullable=True),
        sa.Column("adult_allowed", sa.Boolean(), nullable=True),
        sa.Column("verified", sa.Boolean(), nullable=True),
        sa.Column("region_by_phone", sa.Integer(), nullable=True),
        sa.Column("region_by_ip", sa.Integer(), nullable=True),
        sa.Column("client_type", sa.String(length=32), nullable=True),
        sa.Column("os_family", sa.String(length=32), nullable=True),
        sa.Column("os_version", sa.Numeric(precision=12, scale=4), nullable=True),
        sa.Column("os_version_major", sa.Integer(), nullable=True),
        sa.Column("os_version_minor", sa.Integer(), nullable=True),
        sa.Column("os_version_bugfix", sa.Integer(), nullable=True),
        sa.Column("device_category", sa.String(length=32), nullable=True),
        sa.Column("user_agent_type", sa.String(length=32), nullable=True),
        sa.Column("user_agent_family", sa.String(length=64), nullable=True),
        sa.Column("user_agent_version", sa.Numeric(precision=12, scale=4), nullable=True),
        sa.Column("user_agent_version_major", sa.Integer(), nullable=True),
        sa.Column("user_agent_version_minor", sa.Integer(), nullable=True),
        sa.Column("user_agent_version_bugfix", sa.Integer(), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tolokers")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("requester_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("toloker_id", sa.String(length=64), nullable=True),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("revoked", sa.DateTime(), nullable=True),
        sa.CheckConstraint(
            "(role = 'REQUESTER' AND requester_id IS NOT NULL AND toloker_id IS NULL) OR (role = 'TOLOKER' AND toloker_id IS NOT NULL AND requester_id IS NULL)",
            name=op.f("ck_api_tokens_owner_matches_role"),
        ),
        sa.ForeignKeyConstraint(
            ["requester_id"],
            ["requesters.id"],
            name=op.f("fk_api_tokens_requester_id_requesters"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["toloker_id"],
            ["tolokers.id"],
            name=op.f("fk_api_tokens_toloker_id_tolokers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_tokens_requester_id"), ["requester_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_api_tokens_toloker_id"), ["toloker_id"], unique=False)

    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("requester_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount_micros", sa.BigInteger(), nullable=False),
        sa.Column("balance_after_micros", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.String(length=128), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('DEPOSIT', 'BONUS', 'FEE', 'REFUND', 'ADJUSTMENT')",
            name=op.f("ck_ledger_entries_kind_known"),
        ),
        sa.ForeignKeyConstraint(
            ["requester_id"],
            ["requesters.id"],
            name=op.f("fk_ledger_entries_requester_id_requesters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
    )
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ledger_entries_reference"), ["reference"], unique=False)
        batch_op.create_index("ix_ledger_entries_requester_id_id", ["requester_id", "id"], unique=False)

    op.create_table(
        "projects",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("requester_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("public_name", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("spec", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["requester_id"],
            ["requesters.id"],
            name=op.f("fk_projects_requester_id_requesters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
    )
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.create_index("ix_projects_requester_id_id", ["requester_id", "id"], unique=False)

    op.create_table(
        "requester_tolokers",
        sa.Column("requester_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("started_count", sa.Integer(), nullable=False),
        sa.Column("first_started", sa.DateTime(), nullable=False),
        sa.Column("last_started", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["requester_id"],
            ["requesters.id"],
            name=op.f("fk_requester_tolokers_requester_id_requesters"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["tolokers.id"],
            name=op.f("fk_requester_tolokers_user_id_tolokers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("requester_id", "user_id", name=op.f("pk_requester_tolokers")),
    )
    with op.batch_alter_table("requester_tolokers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_requester_tolokers_requester_id_started_count",
            ["requester_id", "started_count"],
            unique=False,
        )

    op.create_table(
        "toloker_languages",
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["tolokers.id"],
            name=op.f("fk_toloker_languages_user_id_tolokers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "language", name=op.f("pk_toloker_languages")),
    )
    with op.batch_alter_table("toloker_languages", schema=None) as batch_op:
        batch_op.create_index("ix_toloker_languages_language_user_id", ["language", "user_id"], unique=False)

    op.create_table(
        "pools",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("requester_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("private_name", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("spec", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("last_started", sa.DateTime(), nullable=True),
        sa.Column("last_stopped", sa.DateTime(), nullable=True),
        sa.Column("last_close_reason", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_pools_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["requester_id"],
            ["requesters.id"],
            name=op.f("fk_pools_requester_id_requesters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pools")),
    )
    with op.batch_alter_table("pools", schema=None) as batch_op:
        batch_op.create_index("ix_pools_requester_id_id", ["requester_id", "id"], unique=False)

    op.create_table(
        "assignments",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("requester_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("pool_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("task_suite_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reward_micros", sa.BigInteger(), nullable=False),
        sa.Column("public_comment", sa.Text(), nullable=True),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("submitted", sa.DateTime(), nullable=True),
        sa.Column("accepted", sa.DateTime(), nullable=True),
        sa.Column("rejected", sa.DateTime(), nullable=True),
        sa.Column("skipped", sa.DateTime(), nullable=True),
        sa.Column("expired", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["pool_id"], ["pools.id"], name=op.f("fk_assignments_pool_id_pools"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_assignments_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["requester_id"],
            ["requesters.id"],
            name=op.f("fk_assignments_requester_id_requesters"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["tolokers.id"],
            name=op.f("fk_assignments_user_id_tolokers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignments")),
    )
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.create_index("ix_assignments_pool_id_status", ["pool_id", "status"], unique=False)
        batch_op.create_index("ix_assignments_requester_id_id", ["requester_id", "id"], unique=False)
        batch_op.create_index("ix_assignments_user_id_requester_id", ["user_id", "requester_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_index("ix_assignments_user_id_requester_id")
        batch_op.drop_index("ix_assignments_requester_id_id")
        batch_op.drop_index("ix_assignments_pool_id_status")

    op.drop_table("assignments")
    with op.batch_alter_table("pools", schema=None) as batch_op:
        batch_op.drop_index("ix_pools_requester_id_id")

    op.drop_table("pools")
    with op.batch_alter_table("toloker_languages", schema=None) as batch_op:
        batch_op.drop_index("ix_toloker_languages_language_user_id")

    op.drop_table("toloker_languages")
    with op.batch_alter_table("requester_tolokers", schema=None) as batch_op:
        batch_op.drop_index("ix_requester_tolokers_requester_id_started_count")

    op.drop_table("requester_tolokers")
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_index("ix_projects_requester_id_id")

    op.drop_table("projects")
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_entries_requester_id_id")
        batch_op.drop_index(batch_op.f("ix_ledger_entries_reference"))

    op.drop_table("ledger_entries")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_tokens_toloker_id"))
        batch_op.drop_index(batch_op.f("ix_api_tokens_requester_id"))

    op.drop_table("api_tokens")
    op.drop_table("tolokers")
    op.drop_table("requesters")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_status_run_after")

    op.drop_table("jobs")
