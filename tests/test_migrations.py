"""One set of Alembic migrations builds exactly the ORM's schema, on both backends."""

from __future__ import annotations

from datetime import datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect, text

from crowdpost.db import Database
from crowdpost.migrate import alembic_config, downgrade, is_up_to_date, upgrade
from crowdpost.models import Base


def test_migrated_schema_matches_models(db: Database) -> None:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    # FTS shadow tables and other engine-specific objects are created by migrations on purpose.
    relevant = [d for d in diff if not _is_engine_specific(d)]
    assert relevant == []


def test_upgrade_is_idempotent(db: Database) -> None:
    assert is_up_to_date(db.engine)
    upgrade(db.engine)
    assert is_up_to_date(db.engine)


def test_index_methods_match_models(db: Database) -> None:
    """`compare_metadata` does not compare an index's access method: every index the models
    declare is built with the one they name for PostgreSQL (`postgresql_using`, btree when
    unnamed); SQLite has btrees only."""
    postgresql = db.engine.dialect.name == "postgresql"
    declared: dict[str | None, str] = {
        index.name: (index.dialect_options["postgresql"]["using"] if postgresql else None) or "btree"
        for table in Base.metadata.tables.values()
        for index in table.indexes
    }
    with db.engine.connect() as conn:
        built: dict[str | None, str] = dict(
            conn.execute(text(_PG_INDEX_METHODS if postgresql else _SQLITE_INDEXES)).all()
        )
    assert declared["ix_requester_threads_thread_id"] == ("hash" if postgresql else "btree")
    assert {name: built.get(name) for name in declared} == declared


_PG_INDEX_METHODS = (
    "SELECT c.relname, am.amname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
    "JOIN pg_am am ON am.oid = c.relam JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = current_schema()"
)
_SQLITE_INDEXES = "SELECT name, 'btree' FROM sqlite_master WHERE type = 'index'"


def test_thread_id_index_downgrades_and_upgrades(db: Database) -> None:
    """0013 (hash `ix_requester_threads_thread_id` on PostgreSQL) goes down to 0004 and up again."""
    downgrade(db.engine, "0013-1")
    with db.engine.connect() as conn:
        names = {index["name"] for index in inspect(conn).get_indexes("requester_threads")}
        assert "ix_requester_threads_thread_id" in names
    upgrade(db.engine)
    assert is_up_to_date(db.engine)


def _is_engine_specific(diff: object) -> bool:
    text = repr(diff)
    return any(marker in text for marker in ("_fts", "search_vector", "tsvector"))


def test_language_list_is_backfilled_from_toloker_languages(db: Database) -> None:
    """0005 adds `tolokers.language_list`; Tolokers imported before it get theirs."""
    config = alembic_config()
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0005-1")
        conn.execute(
            text("INSERT INTO tolokers (id, country, created) VALUES ('old-1', 'GB', :now), ('old-2', 'GB', :now)"),
            {"now": datetime(2026, 1, 1)},
        )
        conn.execute(text("INSERT INTO toloker_languages (user_id, language) VALUES ('old-1', 'RU'), ('old-1', 'EN')"))
    upgrade(db.engine)
    with db.engine.connect() as conn:
        lists: dict[str, str] = dict(
            conn.execute(text("SELECT id, language_list FROM tolokers WHERE id LIKE 'old-%'")).all()
        )
    assert lists["old-2"] == ""
    # SQLite's group_concat has no order; the filter only tests membership.
    assert lists["old-1"] in ("|EN|RU|", "|RU|EN|")


def test_recipient_outcomes_downgrade_and_upgrade(db: Database) -> None:
    """0014_recipient_outcomes goes down to 0013 (its table, `read_at` and the two counts gone,
    threads and their rows kept) and up again."""
    downgrade(db.engine, "0013")
    with db.engine.connect() as conn:
        inspector = inspect(conn)
        assert "recipient_outcomes" not in inspector.get_table_names()
        assert "read_at" not in {c["name"] for c in inspector.get_columns("toloker_threads")}
        assert "capped_count" not in {c["name"] for c in inspector.get_columns("message_threads")}
    upgrade(db.engine)
    assert is_up_to_date(db.engine)


def _message_keys(conn: Connection) -> set[str]:
    return {key["referred_table"] for key in inspect(conn).get_foreign_keys("messages")}


def _sqlite_triggers(conn: Connection) -> set[str]:
    if conn.dialect.name != "sqlite":
        return set()
    return set(conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")).scalars())


def test_messages_requester_key_goes_and_comes_back_with_the_search_triggers(db: Database) -> None:
    """0017 drops `messages.requester_id`'s foreign key (the thread's holds); on SQLite the
    table is rebuilt, and its full-text triggers must be there after it, both ways."""
    sqlite_triggers = {"messages_fts_insert", "messages_fts_delete"} if db.engine.dialect.name == "sqlite" else set()
    downgrade(db.engine, "0017_messages_requester_copy")
    with db.engine.connect() as conn:
        assert _message_keys(conn) == {"message_threads"}
        assert _sqlite_triggers(conn) == sqlite_triggers
    downgrade(db.engine, "0017_messages_requester_copy-1")
    with db.engine.connect() as conn:
        assert _message_keys(conn) == {"message_threads", "requesters"}
        assert _sqlite_triggers(conn) == sqlite_triggers
    upgrade(db.engine)
    with db.engine.connect() as conn:
        assert _message_keys(conn) == set()
        assert _sqlite_triggers(conn) == sqlite_triggers


_UNKEYED = {
    "message_threads": {"message_threads"},  # parent_id keeps its key
    "messages": set(),
    "toloker_threads": set(),
    "recipient_outcomes": set(),
}
_KEYED_BEFORE_0018 = {
    "message_threads": {"message_threads", "requesters", "tolokers"},
    "messages": {"message_threads"},
    "toloker_threads": {"message_threads", "tolokers"},
    "recipient_outcomes": {"message_threads"},
}


def _referred(conn: Connection) -> dict[str, set[str]]:
    inspector = inspect(conn)
    return {table: {key["referred_table"] for key in inspector.get_foreign_keys(table)} for table in _UNKEYED}


def _one_conversation(conn: Connection) -> None:
    """A requester, a Toloker, one thread with a searchable message and both sides' rows."""
    now = datetime(2026, 1, 1)
    conn.execute(
        text("INSERT INTO requesters (id, public_name, balance_micros, created) VALUES (7, '{}', 0, :now)"),
        {"now": now},
    )
    conn.execute(text("INSERT INTO tolokers (id, created) VALUES ('t-1', :now)"), {"now": now})
    conn.execute(
        text(
            "INSERT INTO message_threads (id, requester_id, kind, topic, answerable, toloker_id, delivered_count,"
            " banned_count, unknown_count, not_yours_count, capped_count, created)"
            " VALUES (70, 7, 'COMPOSE', '{}', false, 't-1', 1, 0, 0, 0, 0, :now)"
        ),
        {"now": now},
    )
    conn.execute(
        text(
            "INSERT INTO messages (thread_id, requester_id, sender_role, sender_id, text, search_text, created)"
            " VALUES (70, 7, 'REQUESTER', '7', '{}', 'zebrafish counting', :now)"
        ),
        {"now": now},
    )
    flags = "true, false, false, false, true" if conn.dialect.name == "postgresql" else "1, 0, 0, 0, 1"
    conn.execute(
        text(
            "INSERT INTO requester_threads (requester_id, thread_id, toloker_id, interlocutor_role, created,"
            f" outbox, inbox, notification, important, unread) VALUES (7, 70, 't-1', 'USER', :now, {flags})"
        ),
        {"now": now},
    )
    conn.execute(
        text(
            "INSERT INTO toloker_threads (user_id, thread_id, requester_id, created,"
            f" inbox, outbox, notification, important, unread) VALUES ('t-1', 70, 7, :now, {flags})"
        ),
        {"now": now},
    )


def _row_counts(conn: Connection) -> dict[str, int]:
    tables = ("message_threads", "messages", "requester_threads", "toloker_threads")
    return {table: conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() for table in tables}


def _found_by_keyword(conn: Connection) -> list[int]:
    if conn.dialect.name == "sqlite":
        query = "SELECT rowid FROM message_fts WHERE message_fts MATCH 'zebrafish'"
    else:
        query = (
            "SELECT id FROM messages WHERE search_text IS NOT NULL AND"
            " to_tsvector('simple', coalesce(search_text, '')) @@ websearch_to_tsquery('simple', 'zebrafish')"
        )
    return list(conn.execute(text(query)).scalars())


def test_messaging_rows_lose_their_keys_and_get_them_back_without_losing_a_row(db: Database) -> None:
    """0018 drops the per-row keys of threads, messages, Toloker rows and outcomes. On SQLite
    each table is copied; the copy drops the old table, which with foreign keys on would delete
    every `requester_threads` row by cascade first. Both ways, every row stays, and keyword
    search still finds the message."""
    with db.engine.connect() as conn:
        assert _referred(conn) == _UNKEYED
    downgrade(db.engine, "0017_messages_requester_copy")
    with db.engine.begin() as conn:
        assert _referred(conn) == _KEYED_BEFORE_0018
        _one_conversation(conn)
    with db.engine.connect() as conn:
        counts = _row_counts(conn)
        found = _found_by_keyword(conn)
    assert counts == {"message_threads": 1, "messages": 1, "requester_threads": 1, "toloker_threads": 1}
    assert len(found) == 1
    upgrade(db.engine)
    with db.engine.connect() as conn:
        assert _referred(conn) == _UNKEYED
        assert _row_counts(conn) == counts
        assert _found_by_keyword(conn) == found
        if conn.dialect.name == "postgresql":
            definition = conn.execute(text("SELECT pg_get_indexdef('ix_messages_search_text_fts'::regclass)")).scalar()
            assert "WHERE (search_text IS NOT NULL)" in str(definition)
    downgrade(db.engine, "0017_messages_requester_copy")
    with db.engine.connect() as conn:
        assert _row_counts(conn) == counts
    upgrade(db.engine)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # PostgreSQL drops a key in place
def test_0018_refuses_to_copy_sqlite_tables_with_foreign_keys_on(db: Database) -> None:
    """Run by hand with SQLite's keys on (not through `crowdpost.migrate`), 0018 stops before it
    copies a table: nothing is deleted, the database stays at 0017."""
    assert db.engine.dialect.name == "sqlite"
    downgrade(db.engine, "0017_messages_requester_copy")
    with db.engine.begin() as conn:
        _one_conversation(conn)
    config = alembic_config()
    with db.engine.begin() as conn:
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        config.attributes["connection"] = conn
        with pytest.raises(RuntimeError, match="foreign keys on"):
            command.upgrade(config, "heads")
    with db.engine.connect() as conn:
        assert _row_counts(conn) == {"message_threads": 1, "messages": 1, "requester_threads": 1, "toloker_threads": 1}
        assert _referred(conn) == _KEYED_BEFORE_0018
    upgrade(db.engine)
    assert is_up_to_date(db.engine)
