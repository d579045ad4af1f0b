"""One set of Alembic migrations builds exactly the ORM's schema, on both backends."""

from __future__ import annotations

from datetime import datetime

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect, text

from crowdpost.db import Database
from crowdpost.migrate import alembic_config, is_up_to_date, upgrade
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
    config = alembic_config()
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0013-1")
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
    config = alembic_config()
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0013")
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
    with db.engine.connect() as conn:
        assert _message_keys(conn) == {"message_threads"}
        assert _sqlite_triggers(conn) == sqlite_triggers
    config = alembic_config()
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0017_messages_requester_copy-1")
        assert _message_keys(conn) == {"message_threads", "requesters"}
        assert _sqlite_triggers(conn) == sqlite_triggers
    upgrade(db.engine)
    with db.engine.connect() as conn:
        assert _message_keys(conn) == {"message_threads"}
        assert _sqlite_triggers(conn) == sqlite_triggers
