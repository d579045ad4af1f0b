"""messaging: threads, messages, per-participant folder state, quotas, keyword search

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-23 16:20:00

Keyword search differs by dialect: SQLite gets an FTS5 table over
`messages.search_text` (external content, kept by triggers); PostgreSQL a GIN index
on `to_tsvector('simple', search_text)` ('simple': texts come in any language).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_FLAGS = ("inbox", "outbox", "notification", "important", "unread")


def _flag_columns() -> list[sa.Column[bool]]:
    return [sa.Column(name, sa.Boolean(), nullable=False) for name in _FLAGS]


def _partial_index(table: str, owner: str, flag: str) -> None:
    op.create_index(
        f"ix_{table}_{owner}_{flag}",
        table,
        [owner, "thread_id"],
        sqlite_where=sa.text(f"{flag} = 1"),
        postgresql_where=sa.text(flag),
    )


def upgrade() -> None:
    op.create_table(
        "message_threads",
        sa.Column("id", _ID, nullable=False),
        sa.Column("requester_id", _ID, nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("topic", _JSON, nullable=False),
        sa.Column("answerable", sa.Boolean(), nullable=False),
        sa.Column("parent_id", _ID, nullable=True),
        sa.Column("toloker_id", sa.String(length=64), nullable=True),
        sa.Column("select_type", sa.String(length=16), nullable=True),
        sa.Column("recipients_ids", _JSON, nullable=True),
        sa.Column("recipients_filter", _JSON, nullable=True),
        sa.Column("delivered_count", sa.Integer(), nullable=False),
        sa.Column("banned_count", sa.Integer(), nullable=False),
        sa.Column("unknown_count", sa.Integer(), nullable=False),
        sa.Column("pool_id", sa.BigInteger(), nullable=True),
        sa.Column("project_id", sa.BigInteger(), nullable=True),
        sa.Column("assignment_id", sa.BigInteger(), nullable=True),
        sa.Column("bonus_id", sa.BigInteger(), nullable=True),
        sa.Column("appeal_deadline", sa.DateTime(), nullable=True),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["message_threads.id"],
            name=op.f("fk_message_threads_parent_id_message_threads"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["requester_id"],
            ["requesters.id"],
            name=op.f("fk_message_threads_requester_id_requesters"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["toloker_id"], ["tolokers.id"], name=op.f("fk_message_threads_toloker_id_tolokers"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_threads")),
    )
    op.create_index(
        "ix_message_threads_requester_id_kind_created", "message_threads", ["requester_id", "kind", "created"]
    )
    op.create_index(
        "uq_message_threads_parent_id_toloker_id", "message_threads", ["parent_id", "toloker_id"], unique=True
    )
    op.create_index(
        "uq_message_threads_appeal_assignment_id",
        "message_threads",
        ["assignment_id"],
        unique=True,
        sqlite_where=sa.text("kind = 'APPEAL'"),
        postgresql_where=sa.text("kind = 'APPEAL'"),
    )
    op.create_index(
        "ix_message_threads_bonus_id",
        "message_threads",
        ["bonus_id"],
        sqlite_where=sa.text("bonus_id IS NOT NULL"),
        postgresql_where=sa.text("bonus_id IS NOT NULL"),
    )

    op.create_table(
        "messages",
        sa.Column("id", _ID, nullable=False),
        sa.Column("thread_id", _ID, nullable=False),
        sa.Column("requester_id", _ID, nullable=True),
        sa.Column("sender_role", sa.String(length=16), nullable=False),
        sa.Column("sender_id", sa.String(length=64), nullable=False),
        sa.Column("text", _JSON, nullable=False),
        sa.Column("search_text", sa.Text(), nullable=True),
        sa.Column("dedupe_key", sa.String(length=64), nullable=True),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["requester_id"], ["requesters.id"], name=op.f("fk_messages_requester_id_requesters"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["thread_id"],
            ["message_threads.id"],
            name=op.f("fk_messages_thread_id_message_threads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
    )
    op.create_index("ix_messages_thread_id_id", "messages", ["thread_id", "id"])
    op.create_index("ix_messages_dedupe_key_created", "messages", ["dedupe_key", "created"])

    op.create_table(
        "requester_threads",
        sa.Column("requester_id", _ID, nullable=False),
        sa.Column("thread_id", _ID, nullable=False),
        sa.Column("toloker_id", sa.String(length=64), nullable=True),
        sa.Column("interlocutor_role", sa.String(length=16), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        *_flag_columns(),
        sa.ForeignKeyConstraint(
            ["requester_id"],
            ["requesters.id"],
            name=op.f("fk_requester_threads_requester_id_requesters"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["thread_id"],
            ["message_threads.id"],
            name=op.f("fk_requester_threads_thread_id_message_threads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("requester_id", "thread_id", name=op.f("pk_requester_threads")),
    )
    for flag in _FLAGS:
        _partial_index("requester_threads", "requester_id", flag)
    op.create_index(
        "ix_requester_threads_requester_id_toloker_id_thread_id",
        "requester_threads",
        ["requester_id", "toloker_id", "thread_id"],
    )
    op.create_index("ix_requester_threads_requester_id_created", "requester_threads", ["requester_id", "created"])
    op.create_index("ix_requester_threads_thread_id", "requester_threads", ["thread_id"])

    op.create_table(
        "toloker_threads",
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("thread_id", _ID, nullable=False),
        sa.Column("requester_id", sa.BigInteger(), nullable=True),
        sa.Column("created", sa.DateTime(), nullable=False),
        *_flag_columns(),
        sa.ForeignKeyConstraint(
            ["thread_id"],
            ["message_threads.id"],
            name=op.f("fk_toloker_threads_thread_id_message_threads"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["tolokers.id"], name=op.f("fk_toloker_threads_user_id_tolokers"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "thread_id", name=op.f("pk_toloker_threads")),
    )
    _partial_index("toloker_threads", "user_id", "unread")
    _partial_index("toloker_threads", "user_id", "important")
    op.create_index("ix_toloker_threads_thread_id", "toloker_threads", ["thread_id"])

    op.create_table(
        "message_quotas",
        sa.Column("requester_id", _ID, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["requester_id"],
            ["requesters.id"],
            name=op.f("fk_message_quotas_requester_id_requesters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("requester_id", "day", "kind", name=op.f("pk_message_quotas")),
    )

    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE message_fts USING fts5("
            "search_text, content='messages', content_rowid='id', tokenize='unicode61 remove_diacritics 2')"
        )
        op.execute(
            "CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages WHEN new.search_text IS NOT NULL BEGIN "
            "INSERT INTO message_fts(rowid, search_text) VALUES (new.id, new.search_text); END"
        )
        op.execute(
            "CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages WHEN old.search_text IS NOT NULL BEGIN "
            "INSERT INTO message_fts(message_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text); END"
        )
    else:
        op.execute(
            "CREATE INDEX ix_messages_search_text_fts ON messages "
            "USING gin (to_tsvector('simple', coalesce(search_text, '')))"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS messages_fts_delete")
        op.execute("DROP TRIGGER IF EXISTS messages_fts_insert")
        op.execute("DROP TABLE IF EXISTS message_fts")
    op.drop_table("message_quotas")
    op.drop_table("toloker_threads")
    op.drop_table("requester_threads")
    op.drop_table("messages")
    op.drop_table("message_threads")
