"""messaging: per-recipient and per-bonus rows without foreign keys; search indexes only searchable text

Revision ID: 0018_messaging_rows_without_keys
Revises: 0017_messages_requester_copy
Create Date: 2026-12-06 04:30:00

Drops the foreign keys of `message_threads.requester_id`, `message_threads.toloker_id`,
`messages.thread_id`, `toloker_threads.thread_id`, `toloker_threads.user_id` and
`recipient_outcomes.thread_id` (why: "Keys" in `crowdpost/models/message.py`). Measured on
PostgreSQL, in process, the 100,000-bonus async operation: the statement that writes the
bonus threads went from 3.9-4.4 s to 2.0-2.2 s over its 20 chunks.

PostgreSQL's keyword index (`ix_messages_search_text_fts`) becomes partial, `WHERE
search_text IS NOT NULL`, as SQLite's full-text triggers always were: a bonus message has no
search text, and each one put an empty entry into the GIN index.

SQLite cannot drop a constraint in place: each table is copied (batch mode). The copy drops
the old table, and with foreign keys on, SQLite would delete the rows that reference it
(`requester_threads` by `ON DELETE CASCADE`) first; so this runs only with them off, as
`crowdpost.migrate` runs every migration on SQLite (it checks `PRAGMA foreign_key_check`
before it commits). The copy of `messages` drops its full-text triggers: made again here.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

revision: str = "0018_messaging_rows_without_keys"
down_revision: str | Sequence[str] | None = "0017_messages_requester_copy"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, column, referred table), in the order the tables are copied on SQLite.
_KEYS = (
    ("message_threads", "requester_id", "requesters"),
    ("message_threads", "toloker_id", "tolokers"),
    ("messages", "thread_id", "message_threads"),
    ("toloker_threads", "user_id", "tolokers"),
    ("toloker_threads", "thread_id", "message_threads"),
    ("recipient_outcomes", "thread_id", "message_threads"),
)
_REFERRED_COLUMN = {"requesters": "id", "tolokers": "id", "message_threads": "id"}

_SQLITE_TRIGGERS = (
    "CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages WHEN new.search_text IS NOT NULL BEGIN "
    "INSERT INTO message_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages WHEN old.search_text IS NOT NULL BEGIN "
    "INSERT INTO message_fts(message_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text); END",
)
_PG_SEARCH_INDEX = (
    "CREATE INDEX ix_messages_search_text_fts ON messages USING gin (to_tsvector('simple', coalesce(search_text, '')))"
)


def _name(table: str, column: str, referred: str) -> str:
    return f"fk_{table}_{column}_{referred}"


def upgrade() -> None:
    _require_sqlite_keys_off()
    for table in dict.fromkeys(table for table, _, _ in _KEYS):
        with op.batch_alter_table(table) as batch:
            for _, column, referred in (key for key in _KEYS if key[0] == table):
                batch.drop_constraint(_name(table, column, referred), type_="foreignkey")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_messages_search_text_fts")
        op.execute(_PG_SEARCH_INDEX + " WHERE search_text IS NOT NULL")
    _restore_sqlite_triggers()


def downgrade() -> None:
    _require_sqlite_keys_off()
    for table in dict.fromkeys(table for table, _, _ in _KEYS):
        with op.batch_alter_table(table) as batch:
            for _, column, referred in (key for key in _KEYS if key[0] == table):
                batch.create_foreign_key(
                    _name(table, column, referred), referred, [column], [_REFERRED_COLUMN[referred]], ondelete="CASCADE"
                )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_messages_search_text_fts")
        op.execute(_PG_SEARCH_INDEX)
    _restore_sqlite_triggers()


def _require_sqlite_keys_off() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite" and bind.execute(text("PRAGMA foreign_keys")).scalar():
        raise RuntimeError(
            "0018 copies tables that others reference; with SQLite's foreign keys on, the copy would "
            "delete the referencing rows. Migrate with `crowdpost migrate` (crowdpost.migrate), which "
            "turns them off for the migration."
        )


def _restore_sqlite_triggers() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in _SQLITE_TRIGGERS:
            op.execute(statement)
