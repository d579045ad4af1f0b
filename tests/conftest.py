"""Shared fixtures: every storage test runs on SQLite and PostgreSQL, through a live server."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Select, func, select
from sqlalchemy.orm import InstrumentedAttribute

from crowdpost.app import create_app
from crowdpost.config import Settings
from crowdpost.db import Database
from crowdpost.models import (
    LedgerEntry,
    Message,
    MessageThread,
    RecipientOutcome,
    Requester,
    Toloker,
    TolokerThread,
)
from crowdpost.wiring import wire_domains
from tests.fixtures.backends import PostgresBackend, SqliteBackend, missing_component, start_postgres
from tests.fixtures.factories import Admin, RequesterInfo, settings_for
from tests.fixtures.live_server import serve_in_thread
from tests.fixtures.pgbouncer import PooledServer, start_pooled_server

# Records every statement the suite runs and checks each can go to one Citus shard.
pytest_plugins = ["tests.fixtures.statements"]

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def tmp_root() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="crowdpost-tests-") as root:
        yield Path(root)


@pytest.fixture(scope="session")
def sqlite_backend(tmp_root: Path) -> SqliteBackend:
    root = tmp_root / "sqlite"
    root.mkdir()
    return SqliteBackend(root)


@pytest.fixture(scope="session")
def _postgres_admin_url(tmp_root: Path) -> Iterator[str | Exception]:
    generator = start_postgres(tmp_root)
    try:
        url = next(generator)
    except RuntimeError as exc:
        yield exc
        return
    yield url
    generator.close()


@pytest.fixture(scope="session")
def postgres_backend(_postgres_admin_url: str | Exception) -> PostgresBackend | Exception:
    if isinstance(_postgres_admin_url, Exception):
        return _postgres_admin_url
    try:
        return PostgresBackend(_postgres_admin_url)
    except Exception as exc:
        return RuntimeError(f"could not prepare the PostgreSQL template database: {exc}")


@pytest.fixture(scope="session")
def _pooled_server() -> Iterator[PooledServer | Exception]:
    yield from start_pooled_server()


@pytest.fixture
def pooled_server(_pooled_server: PooledServer | Exception) -> PooledServer:
    """Our own PostgreSQL (Debian's) with pgbouncer in transaction mode in front of it."""
    if isinstance(_pooled_server, Exception):
        missing_component(f"PostgreSQL and pgbouncer unavailable: {_pooled_server}")
    assert not isinstance(_pooled_server, Exception)
    return _pooled_server


@pytest.fixture(params=BACKENDS)
def db_url(
    request: pytest.FixtureRequest,
    sqlite_backend: SqliteBackend,
    postgres_backend: PostgresBackend | Exception,
) -> Iterator[str]:
    """A fresh, migrated database on each backend."""
    backend: SqliteBackend | PostgresBackend
    if request.param == "postgresql":
        if isinstance(postgres_backend, Exception):
            missing_component(f"PostgreSQL unavailable: {postgres_backend}")
        assert not isinstance(postgres_backend, Exception)
        backend = postgres_backend
    else:
        backend = sqlite_backend
    url = backend.new_database()
    yield url
    backend.drop_database(url)


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return settings_for(db_url, tmp_path)


def assert_ledgers_balance(db: Database) -> None:
    """Every requester's balance equals the sum of their ledger rows."""
    with db.transaction(write=False) as session:
        sums = dict(
            session.execute(
                select(LedgerEntry.requester_id, func.sum(LedgerEntry.amount_micros)).group_by(LedgerEntry.requester_id)
            ).all()
        )
        for requester_id, balance in session.execute(select(Requester.id, Requester.balance_micros)):
            assert balance >= 0, f"requester {requester_id} has a negative balance"
            assert int(sums.get(requester_id, 0)) == balance, f"requester {requester_id}: ledger != balance"


def _dangling(key: InstrumentedAttribute[Any], referred: InstrumentedAttribute[Any]) -> Select[int]:
    """How many rows have a `key` that no `referred` row holds."""
    return select(func.count()).where(key.is_not(None), ~select(referred).where(referred == key).exists())


# The rows without foreign keys (migration 0018; "Keys" in crowdpost/models/message.py):
# what each key promised, asked of the data instead.
_ORPHANS = {
    "threads whose requester is gone": _dangling(MessageThread.requester_id, Requester.id),
    "threads whose Toloker is gone": _dangling(MessageThread.toloker_id, Toloker.id),
    "messages whose thread is gone": _dangling(Message.thread_id, MessageThread.id),
    "Toloker rows whose thread is gone": _dangling(TolokerThread.thread_id, MessageThread.id),
    "Toloker rows whose Toloker is gone": _dangling(TolokerThread.user_id, Toloker.id),
    "outcomes whose thread is gone": _dangling(RecipientOutcome.thread_id, MessageThread.id),
}


def assert_messaging_rows_whole(db: Database) -> None:
    """No thread, message, Toloker row or outcome points at a row that does not exist."""
    with db.transaction(write=False) as session:
        found = {what: int(session.execute(query).scalar_one()) for what, query in _ORPHANS.items()}
    assert {what: n for what, n in found.items() if n} == {}


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    wire_domains()  # as the app and the worker do at startup: tests run jobs and publish without an app too
    database = Database.from_settings(settings)
    yield database
    try:
        assert_ledgers_balance(database)
        assert_messaging_rows_whole(database)
    finally:
        database.dispose()


@pytest.fixture
def server_url(settings: Settings, db: Database) -> Iterator[str]:
    with serve_in_thread(create_app(settings, db)) as url:
        yield url


@pytest.fixture
def http(server_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server_url, timeout=30) as client:
        yield client


@pytest.fixture
def admin(server_url: str) -> Iterator[Admin]:
    client = Admin(server_url)
    yield client
    client.close()


@pytest.fixture
def requester(admin: Admin) -> RequesterInfo:
    return admin.create_requester(balance="100.00")


@pytest.fixture
def requester_http(server_url: str, requester: RequesterInfo) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server_url, headers={"Authorization": f"OAuth {requester.token}"}, timeout=30) as client:
        yield client
