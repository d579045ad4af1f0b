"""Bring a database up to date with the package's Alembic migrations.

Safe to run on an up-to-date database, and from several processes at once on
PostgreSQL (an advisory lock makes the others wait).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from crowdpost.db import NO_TIMEOUTS

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_PG_MIGRATION_LOCK = 7_041_993  # any constant shared by all crowdpost processes


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("file_template", "%%(year)d-%%(month).2d-%%(day).2d-%%(hour).2d%%(minute).2d_%%(slug)s")
    if url:
        config.set_main_option("sqlalchemy.url", url)
    return config


def upgrade(engine: Engine) -> None:
    """Every branch to its head."""
    _migrate(engine, lambda config: command.upgrade(config, "heads"))


def downgrade(engine: Engine, revision: str) -> None:
    """Down to `revision` (an Alembic target such as `0013-1`); for tests of a migration."""
    _migrate(engine, lambda config: command.downgrade(config, revision))


def _migrate(engine: Engine, step: Callable[[Config], None]) -> None:
    config = alembic_config()
    with engine.connect() as conn, _sqlite_keys_off(conn), conn.begin():
        if conn.dialect.name == "postgresql":
            # No time limit for this transaction: a migration may build an index on a large
            # table, and a process starting beside a migrating one waits for its lock below.
            NO_TIMEOUTS.set_local(conn)
            # A transaction lock, with every migration inside its transaction: it holds the
            # same through pgbouncer's transaction pooling (a session lock would not).
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
        config.attributes["connection"] = conn
        step(config)
        if conn.dialect.name == "sqlite":
            broken = conn.execute(text("PRAGMA foreign_key_check")).all()
            if broken:
                raise RuntimeError(f"migrating left rows whose foreign key points nowhere: {broken[:5]}")


@contextmanager
def _sqlite_keys_off(conn: Connection) -> Iterator[None]:
    """SQLite: foreign keys off while migrating, as SQLite's own procedure for changing a
    table asks. A migration copies a table to change it (Alembic's batch mode) and drops the
    old one; with keys on, that drop would first delete every row that references it
    `ON DELETE CASCADE`. The pragma is a no-op inside a transaction, so it is set on the
    driver's connection before SQLAlchemy begins one, and set back on after."""
    if conn.dialect.name != "sqlite":
        yield
        return
    driver = conn.connection.dbapi_connection
    assert driver is not None
    driver.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        driver.execute("PRAGMA foreign_keys=ON")


def is_up_to_date(engine: Engine) -> bool:
    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    with engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    return current == heads
