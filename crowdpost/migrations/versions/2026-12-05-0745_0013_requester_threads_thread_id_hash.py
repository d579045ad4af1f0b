"""messaging: `ix_requester_threads_thread_id` becomes a hash index on PostgreSQL

Revision ID: 0013
Revises: 0004
Create Date: 2026-12-05 07:45:00

The index only serves `thread_id = ...` / `IN (...)` look-ups (a thread's participants, the
cascade from `message_threads`). As a btree it also offers thread_id order, and PostgreSQL's
planner took it for a requester's newest-first folder page: it walked every newer row of the
other requesters backwards instead of `(requester_id, thread_id) WHERE <flag>`
(bench/RESULTS.md, "Pages": Inbox query 149 ms -> 1.4 ms with 1,400,000 rows). A hash index
gives no order, so the planner cannot make that choice. SQLite has no hash index: its btree
stays, and its planner already picks the requester's partial index.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEX = "ix_requester_threads_thread_id"
_TABLE = "requester_threads"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index(_INDEX, table_name=_TABLE)
    op.create_index(_INDEX, _TABLE, ["thread_id"], postgresql_using="hash")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index(_INDEX, table_name=_TABLE)
    op.create_index(_INDEX, _TABLE, ["thread_id"])
