"""PostgreSQL's statement_timeout and lock_timeout from settings, directly and through
pgbouncer in transaction mode, for requests and for the worker's jobs; the pool size."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from crowdpost.config import Settings
from crowdpost.db import Database
from tests.fixtures.factories import settings_for
from tests.fixtures.pgbouncer import PooledServer

MODES = ["direct", "pgbouncer"]


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_name(pooled_server: PooledServer) -> Iterator[str]:
    name = pooled_server.new_database()
    yield name
    pooled_server.drop_database(name)


def _settings(server: PooledServer, name: str, mode: str, tmp_path: Path, **overrides: Any) -> Settings:
    url = server.pooled_url(name) if mode == "pgbouncer" else server.direct_url(name)
    pooler = "transaction" if mode == "pgbouncer" else "none"
    return settings_for(url, tmp_path, database_pooler=pooler, **overrides)


def _limits(db: Database, **transaction: bool) -> tuple[str, str]:
    with db.transaction(**transaction) as session:
        row = session.execute(text("SELECT current_setting('statement_timeout'), current_setting('lock_timeout')"))
        statement, lock = row.one()
        return str(statement), str(lock)


def test_requests_and_jobs_run_under_their_own_limits(
    pooled_server: PooledServer, database_name: str, mode: str, tmp_path: Path
) -> None:
    settings = _settings(
        pooled_server,
        database_name,
        mode,
        tmp_path,
        database_statement_timeout_seconds=30,
        database_lock_timeout_seconds=10,
        worker_statement_timeout_seconds=300,
        worker_lock_timeout_seconds=60,
        database_pool_size=1,
    )
    db = Database.from_settings(settings)
    try:
        assert _limits(db) == ("30s", "10s")
        assert _limits(db, write=False) == ("30s", "10s")
        assert _limits(db, job=True) == ("5min", "1min")
        # The job's limits were its transaction's only: the next request's are the request ones,
        # on the same server connection (a pool of one; pgbouncer's pool holds one idle too).
        assert _limits(db) == ("30s", "10s")
    finally:
        db.dispose()


def test_a_statement_over_the_limit_is_cancelled(
    pooled_server: PooledServer, database_name: str, mode: str, tmp_path: Path
) -> None:
    settings = _settings(pooled_server, database_name, mode, tmp_path, database_statement_timeout_seconds=0.2)
    db = Database.from_settings(settings)
    try:
        with pytest.raises(sa_exc.OperationalError) as caught, db.transaction() as session:
            session.execute(text("SELECT pg_sleep(30)"))
        assert isinstance(caught.value.orig, psycopg.errors.QueryCanceled)
    finally:
        db.dispose()


def test_a_lock_wait_over_the_limit_gives_up(
    pooled_server: PooledServer, database_name: str, mode: str, tmp_path: Path
) -> None:
    settings = _settings(pooled_server, database_name, mode, tmp_path, database_lock_timeout_seconds=0.2)
    db = Database.from_settings(settings)
    try:
        with db.transaction() as holder:
            holder.execute(text("SELECT pg_advisory_xact_lock(42)"))
            with pytest.raises(sa_exc.OperationalError) as caught, db.transaction() as waiter:
                waiter.execute(text("SELECT pg_advisory_xact_lock(42)"))
        assert isinstance(caught.value.orig, psycopg.errors.LockNotAvailable)
    finally:
        db.dispose()


def test_pgbouncer_refuses_a_connection_configured_as_direct(
    pooled_server: PooledServer, database_name: str, tmp_path: Path
) -> None:
    """Pointed at pgbouncer without CROWDPOST_DATABASE_POOLER=transaction, crowdpost would send
    its limits as a startup `options` parameter, which pgbouncer refuses: the mistake shows at
    once instead of running without limits."""
    settings = settings_for(pooled_server.pooled_url(database_name), tmp_path, database_pooler="none")
    db = Database.from_settings(settings)
    try:
        with pytest.raises(sa_exc.OperationalError, match="unsupported startup parameter"), db.transaction() as s:
            s.execute(text("SELECT 1"))
    finally:
        db.dispose()


def test_behind_a_pooler_psycopg_prepares_nothing(
    pooled_server: PooledServer, database_name: str, tmp_path: Path
) -> None:
    pooled = Database.from_settings(_settings(pooled_server, database_name, "pgbouncer", tmp_path))
    direct = Database.from_settings(_settings(pooled_server, database_name, "direct", tmp_path))
    try:
        for db, expected in ((pooled, None), (direct, 5)):
            with db.engine.connect() as conn:
                driver = conn.connection.driver_connection
                assert isinstance(driver, psycopg.Connection)
                assert driver.prepare_threshold == expected
    finally:
        pooled.dispose()
        direct.dispose()


def test_the_pool_size_is_a_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CROWDPOST_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    monkeypatch.setenv("CROWDPOST_DATABASE_POOL_SIZE", "3")
    monkeypatch.setenv("CROWDPOST_DATABASE_STATEMENT_TIMEOUT_SECONDS", "12.5")
    monkeypatch.setenv("CROWDPOST_DATABASE_POOLER", "transaction")
    settings = Settings()
    assert settings.database_statement_timeout_seconds == 12.5
    db = Database.from_settings(settings)  # connects lazily: nothing listens on port 1
    try:
        assert db.engine.pool.size() == 3  # type: ignore[attr-defined]
    finally:
        db.dispose()
    monkeypatch.setenv("CROWDPOST_DATABASE_POOLER", "session")
    with pytest.raises(ValueError, match="database_pooler"):
        Settings()
