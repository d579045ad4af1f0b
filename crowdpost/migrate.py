"""Bring a database up to date with the package's Alembic migrations.

Safe to run on an up-to-date database, and from several processes at once on
PostgreSQL (an advisory lock makes the others wait).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

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
    config = alembic_config()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # No time limit for this transaction: a migration may build an index on a large
            # table, and a process starting beside a migrating one waits for its lock below.
            NO_TIMEOUTS.set_local(conn)
            # A transaction lock, with every migration inside its transaction: it holds the
            # same through pgbouncer's transaction pooling (a session lock would not).
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
        config.attributes["connection"] = conn
        command.upgrade(config, "heads")


def is_up_to_date(engine: Engine) -> bool:
    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    with engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    return current == heads
