"""workforce: skills, Toloker skills and their history, bans, assignment solutions, audience probe index

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "skills",
        sa.Column("id", _ID, nullable=False),
        sa.Column("requester_id", _ID, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("hidden", sa.Boolean(), nullable=False),
        sa.Column("skill_ttl_hours", sa.Integer(), nullable=True),
        sa.Column("spec", _JSON, nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        _fk("skills", "requester_id", "requesters"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_skills")),
    )
    with op.batch_alter_table("skills", schema=None) as batch_op:
        batch_op.create_index("ix_skills_requester_id_id", ["requester_id", "id"], unique=False)
        batch_op.create_index("ix_skills_requester_id_name", ["requester_id", "name"], unique=False)

    op.create_table(
        "user_skills",
        sa.Column("id", _ID, nullable=False),
        sa.Column("requester_id", _ID, nullable=False),
        sa.Column("skill_id", _ID, nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("value_micros", sa.BigInteger(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("modified", sa.DateTime(), nullable=False),
        sa.Column("expires", sa.DateTime(), nullable=True),
        _fk("user_skills", "requester_id", "requesters"),
        _fk("user_skills", "skill_id", "skills"),
        _fk("user_skills", "user_id", "tolokers"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_skills")),
        sa.UniqueConstraint("skill_id", "user_id", name=op.f("uq_user_skills_skill_id_user_id")),
    )
    with op.batch_alter_table("user_skills", schema=None) as batch_op:
        batch_op.create_index(
            "ix_user_skills_filter", ["requester_id", "skill_id", "value_micros", "user_id", "expires"], unique=False
        )
        batch_op.create_index("ix_user_skills_requester_id_id", ["requester_id", "id"], unique=False)
        batch_op.create_index("ix_user_skills_user_id", ["user_id"], unique=False)

    op.create_table(
        "user_skill_changes",
        sa.Column("id", _ID, nullable=False),
        sa.Column("requester_id", _ID, nullable=False),
        sa.Column("skill_id", _ID, nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("value_micros", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created", sa.DateTime(), nullable=False),
        _fk("user_skill_changes", "requester_id", "requesters"),
        _fk("user_skill_changes", "skill_id", "skills"),
        _fk("user_skill_changes", "user_id", "tolokers"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_skill_changes")),
    )
    with op.batch_alter_table("user_skill_changes", schema=None) as batch_op:
        batch_op.create_index("ix_user_skill_changes_skill_id_user_id_id", ["skill_id", "user_id", "id"], unique=False)

    op.create_table(
        "user_restrictions",
        sa.Column("id", _ID, nullable=False),
        sa.Column("requester_id", _ID, nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("project_id", _ID, nullable=True),
        sa.Column("pool_id", _ID, nullable=True),
        sa.Column("private_comment", sa.Text(), nullable=True),
        sa.Column("will_expire", sa.DateTime(), nullable=True),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("deleted", sa.DateTime(), nullable=True),
        sa.CheckConstraint(
            "(scope = 'ALL_PROJECTS' AND project_id IS NULL AND pool_id IS NULL)"
            " OR (scope = 'PROJECT' AND project_id IS NOT NULL AND pool_id IS NULL)"
            " OR (scope = 'POOL' AND pool_id IS NOT NULL)",
            name=op.f("ck_user_restrictions_scope_matches_target"),
        ),
        _fk("user_restrictions", "requester_id", "requesters"),
        _fk("user_restrictions", "user_id", "tolokers"),
        _fk("user_restrictions", "project_id", "projects"),
        _fk("user_restrictions", "pool_id", "pools"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_restrictions")),
    )
    with op.batch_alter_table("user_restrictions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_user_restrictions_requester_id_user_id",
            ["requester_id", "user_id", "deleted", "will_expire"],
            unique=False,
        )
        batch_op.create_index("ix_user_restrictions_requester_id_id", ["requester_id", "id"], unique=False)

    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("solutions", _JSON, nullable=True))
    with op.batch_alter_table("requester_tolokers", schema=None) as batch_op:
        batch_op.drop_index("ix_requester_tolokers_requester_id_started_count")
        batch_op.create_index(
            "ix_requester_tolokers_requester_id_started_count_user_id",
            ["requester_id", "started_count", "user_id"],
            unique=False,
        )
        batch_op.create_index("ix_requester_tolokers_probe", ["requester_id", "user_id", "started_count"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("requester_tolokers", schema=None) as batch_op:
        batch_op.drop_index("ix_requester_tolokers_probe")
        batch_op.drop_index("ix_requester_tolokers_requester_id_started_count_user_id")
        batch_op.create_index(
            "ix_requester_tolokers_requester_id_started_count", ["requester_id", "started_count"], unique=False
        )
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_column("solutions")
    op.drop_table("user_restrictions")
    op.drop_table("user_skill_changes")
    op.drop_table("user_skills")
    op.drop_table("skills")
