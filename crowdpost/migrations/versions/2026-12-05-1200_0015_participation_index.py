"""workforce: a covering index for audiences by participation

Revision ID: 0015_participation_index
Revises: 0005 (the workforce branch)
Create Date: 2026-12-05 12:00:00

`assignment` filter leaves (workforce/participation.py) read a requester's assignments by pool.
Through `ix_assignments_pool_id_status` each of them cost a table read, and building the IN
set of a pool of 600,000 assignments took about 3 s on SQLite (bench/recipients.py, 1,000,000
Tolokers, 2,000,000 assignments); through this index, which also holds user_id, status and
created, the set is read from the index alone in user_id order (0.45 s), and a per-Toloker
probe of an "or" or a negation is one index seek per pool.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0015_participation_index"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEX = "ix_assignments_requester_id_pool_id_user_id"


def upgrade() -> None:
    op.create_index(_INDEX, "assignments", ["requester_id", "pool_id", "user_id", "status", "created"])


def downgrade() -> None:
    op.drop_index(_INDEX, table_name="assignments")
