"""Engines and sessions. One transaction per request or job: services flush, never commit.

SQLite: WAL, foreign keys, NORMAL sync, a busy timeout, and `BEGIN IMMEDIATE` for
write transactions so two writers queue on the lock instead of failing to upgrade
a read lock mid-transaction. Reads use a deferred BEGIN and never wait for writers.

Long-running processes (`serve`, `worker`) move WAL checkpoints off the commit path:
their connections never checkpoint on commit and a `WalCheckpointer` thread does it.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker

from crowdpost.config import Settings
from crowdpost.writes import GroupCommit, PooledWrites, Writes

SQLITE_BUSY_TIMEOUT_MS = 30_000
# How often the background checkpointer copies committed WAL pages into the database.
CHECKPOINT_INTERVAL_SECONDS = 0.25

log = logging.getLogger(__name__)


def _install_sqlite_pragmas(engine: Engine, *, checkpoint_on_commit: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own is broken).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.execute("PRAGMA temp_store=MEMORY")
        if not checkpoint_on_commit:
            # SQLite's automatic checkpoint runs inside the COMMIT that crosses 1,000 WAL
            # pages and syncs the database file there: measured, it cost a third of the
            # throughput of bonus payments. A WalCheckpointer thread does it instead.
            cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def make_engine(url: str, *, pool_size: int = 10, checkpoint_on_commit: bool = True) -> Engine:
    """`checkpoint_on_commit=False` only together with a running `WalCheckpointer`."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        _install_sqlite_pragmas(engine, checkpoint_on_commit=checkpoint_on_commit)
        return engine
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


class Database:
    """The engine plus two session factories: read (deferred) and write (immediate)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        self.write_engine = engine.execution_options(sqlite_begin="IMMEDIATE") if self.is_sqlite else engine
        self._read = sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)
        self._write = sessionmaker(bind=self.write_engine, expire_on_commit=False, autoflush=False)
        self.checkpointer: WalCheckpointer | None = None
        self._writes: Writes | None = None
        self._writes_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, *, background_checkpoints: bool = False) -> Database:
        """`background_checkpoints`: for long-running processes (`serve`, `worker`); on a
        SQLite file, commits stop checkpointing and a `WalCheckpointer` runs until `dispose`."""
        engine = make_engine(settings.effective_database_url, checkpoint_on_commit=not background_checkpoints)
        database = cls(engine)
        if background_checkpoints:
            database.start_checkpointer()
        return database

    def start_checkpointer(self) -> WalCheckpointer | None:
        """On a SQLite file, starts the thread that checkpoints the WAL (None elsewhere)."""
        path = self.engine.url.database
        if not self.is_sqlite or not path or path == ":memory:":
            return None
        self.checkpointer = WalCheckpointer(path)
        self.checkpointer.start()
        return self.checkpointer

    def session(self, *, write: bool = True) -> Session:
        return (self._write if write else self._read)()

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Session]:
        """Commit on success, roll back on any error."""
        session = self.session(write=write)
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @property
    def writes(self) -> Writes:
        """Where hot write endpoints run their transactions: grouped on SQLite (one writer
        at a time, see `crowdpost.writes`), one per unit on PostgreSQL. Started on first use."""
        with self._writes_lock:
            if self._writes is None:
                self._writes = GroupCommit(self.write_engine) if self.is_sqlite else PooledWrites(self.transaction)
            return self._writes

    def dispose(self) -> None:
        with self._writes_lock:
            if self._writes is not None:
                self._writes.close()
                self._writes = None
        if self.checkpointer is not None:
            self.checkpointer.stop()
        self.engine.dispose()


class WalCheckpointer:
    """Copies committed WAL pages into a SQLite database file from its own thread.

    PASSIVE checkpoints never block readers or writers; the WAL is reused from the
    start once a checkpoint has caught up. Several processes may each run one: SQLite
    serialises checkpoints itself.
    """

    def __init__(self, path: str, interval: float = CHECKPOINT_INTERVAL_SECONDS) -> None:
        self._path = path
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="crowdpost-wal-checkpoint", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def checkpoint(self, connection: sqlite3.Connection) -> tuple[int, int, int]:
        """(busy, WAL frames, frames checkpointed), as SQLite reports them."""
        busy, frames, done = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return int(busy), int(frames), int(done)

    def _run(self) -> None:
        connection = sqlite3.connect(self._path, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        try:
            stopping = False
            while not stopping:
                stopping = self._stop.wait(self._interval)  # one last round after stop()
                try:
                    self.checkpoint(connection)
                except sqlite3.Error:  # a locked or busy database: the next round tries again
                    log.warning("WAL checkpoint failed", exc_info=True)
        finally:
            connection.close()


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


_READ_ONLY = "crowdpost_read_only"
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def read_only(when: Callable[[Request], bool] | None = None) -> Callable[[Endpoint], Endpoint]:
    """Marks a POST endpoint that writes nothing (a preview, a count), always or `when` the
    request says so: its transaction is a read one, so on SQLite it neither waits for nor
    holds the write lock while a long payment commits."""

    def mark(endpoint: Endpoint) -> Endpoint:
        setattr(endpoint, _READ_ONLY, when or (lambda _request: True))
        return endpoint

    return mark


def query_flag(name: str) -> Callable[[Request], bool]:
    """`when` for `read_only`: the query parameter `name` is true, as FastAPI reads a bool."""
    return lambda request: request.query_params.get(name, "").lower() in ("1", "true", "on", "yes")


def wants_write(request: Request) -> bool:
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return False
    when = getattr(request.scope.get("endpoint"), _READ_ONLY, None)
    return not (when is not None and when(request))


def _request_session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed before the response is sent, or rolled back."""
    db = get_db(request)
    with db.transaction(write=wants_write(request)) as session:
        yield session


# scope="function": commit happens before the response leaves, so a client never sees
# success for something that did not commit (toloka-kit retries on 5xx, see PRODUCT.md).
SessionDep = Annotated[Session, Depends(_request_session, scope="function")]
