"""messaging: `messages.requester_id` is a copy of its thread's requester, without a foreign key

Revision ID: 0017_messages_requester_copy
Revises: 0014_recipient_outcomes
Create Date: 2026-12-06 02:00:00

Every message is written with its thread's `requester_id` (NULL for a platform message, as
its thread's); the column is there so that a message can be found, and placed on a Citus
shard, by requester without a join. The thread's own foreign key already guarantees the
requester exists and removes the thread, and with it its messages, when the requester goes.
The message's key checked the same fact again once per row: for the 100,000 bonus messages
of one async operation on PostgreSQL that was about 0.7 s of the statement's 4.8 s
(bench/rewards.py). `toloker_threads.requester_id`, the same kind of copy, never had one.

SQLite cannot drop a constraint in place: the table is copied (batch mode), which drops its
full-text triggers with it, so they are made again here exactly as 0004 made them.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0017_messages_requester_copy"
down_revision: str | Sequence[str] | None = "0014_recipient_outcomes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FK = "fk_messages_requester_id_requesters"

_SQLITE_TRIGGERS = (
    "CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages WHEN new.search_text IS NOT NULL BEGIN "
    "INSERT INTO message_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages WHEN old.search_text IS NOT NULL BEGIN "
    "INSERT INTO message_fts(message_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text); END",
)


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_constraint(_FK, type_="foreignkey")
    _restore_sqlite_triggers()


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.create_foreign_key(_FK, "requesters", ["requester_id"], ["id"], ondelete="CASCADE")
    _restore_sqlite_triggers()


def _restore_sqlite_triggers() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in _SQLITE_TRIGGERS:
            op.execute(statement)
