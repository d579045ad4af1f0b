"""workforce: one index seek per Toloker for "has no assignment in ..." (replaces (user_id, requester_id))

Revision ID: 0016_participation_probe
Revises: 0015_participation_index
Create Date: 2026-12-05 17:00:00

A negated `assignment` leaf ("never in project 1") and any leaf inside an "or" is a per-Toloker
probe of the requester's assignments. Through (requester_id, pool_id, user_id, ...) it cost one
seek per pool per Toloker: 1.08 s for a project of two pools over 1,000,000 Tolokers on SQLite
(bench/recipients.py), above the 1 s target. Through (requester_id, user_id, pool_id, status,
created) it is one seek per Toloker, the pool, status and created checked in the index's few
entries for that Toloker.

It replaces `ix_assignments_user_id_requester_id`: every statement that reads assignments by
Toloker also names the requester (tenant isolation), so the requester-first index serves them
all, and the table keeps the same number of indexes to maintain on insert.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0016_participation_probe"
down_revision: str | Sequence[str] | None = "0015_participation_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NEW = "ix_assignments_requester_id_user_id_pool_id"
_OLD = "ix_assignments_user_id_requester_id"


def upgrade() -> None:
    op.create_index(_NEW, "assignments", ["requester_id", "user_id", "pool_id", "status", "created"])
    op.drop_index(_OLD, table_name="assignments")


def downgrade() -> None:
    op.create_index(_OLD, "assignments", ["user_id", "requester_id"])
    op.drop_index(_NEW, table_name="assignments")
