"""Engines and sessions. One transaction per request or job: services flush, never commit.

SQLite: WAL, foreign keys, NORMAL sync, a busy timeout, and `BEGIN IMMEDIATE` for
write transactions so two writers queue on the lock instead of failing to upgrade
a read lock mid-transaction. Reads use a deferred BEGIN and never wait for writers.

Long-running processes (`serve`, `worker`) move WAL checkpoints off the commit path:
their connections never checkpoint on commit and a `WalCheckpointer` thread does it.

PostgreSQL: `statement_timeout` and `lock_timeout` bound every transaction (`Timeouts`),
the worker's jobs with their own, longer limits. Directly connected, they are the
connection's settings, sent once when it opens; behind a pooler in transaction mode
(pgbouncer), where consecutive transactions run on different server connections and a
startup `options` parameter is refused, each transaction sets them for itself
(`set_config(..., true)`) and psycopg never prepares statements (the pooler would hand
the next transaction a server connection that has not got them).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

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


@dataclass(frozen=True)
class Timeouts:
    """PostgreSQL's statement_timeout and lock_timeout in milliseconds (0: no limit)."""

    statement_ms: int
    lock_ms: int

    @classmethod
    def of_seconds(cls, statement: float, lock: float) -> Timeouts:
        return cls(round(statement * 1000), round(lock * 1000))

    def as_options(self) -> str:
        """As libpq's startup `options` (a direct connection only: pgbouncer refuses them)."""
        return f"-c statement_timeout={self.statement_ms} -c lock_timeout={self.lock_ms}"

    def set_local(self, conn: Connection) -> None:
        """For the rest of the current transaction only: nothing stays on the server
        connection for the next transaction, whoever the pooler gives it to."""
        conn.exec_driver_sql(
            f"SELECT set_config('statement_timeout', '{int(self.statement_ms)}', true), "
            f"set_config('lock_timeout', '{int(self.lock_ms)}', true)"
        )


NO_TIMEOUTS = Timeouts(0, 0)
# Execution option naming the timeouts of a connection's transactions (the worker's jobs).
TIMEOUTS_OPTION = "crowdpost_timeouts"


def _install_postgres_timeouts(engine: Engine, timeouts: Timeouts | None, *, per_transaction: bool) -> None:
    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        chosen = conn.get_execution_options().get(TIMEOUTS_OPTION)
        if chosen is None and per_transaction:
            chosen = timeouts
        if chosen is not None:
            chosen.set_local(conn)


def make_engine(
    url: str,
    *,
    pool_size: int = 10,
    checkpoint_on_commit: bool = True,
    timeouts: Timeouts | None = None,
    transaction_pooler: bool = False,
    connect_timeout: int | None = None,
    pooled: bool = True,
) -> Engine:
    """`checkpoint_on_commit=False` only together with a running `WalCheckpointer`.

    PostgreSQL: `timeouts` for every transaction, `transaction_pooler` when the URL points
    at pgbouncer in transaction mode (see the module docstring); `pooled=False`: a new
    connection each time (the readiness probe's, which must not wait for a pool slot)."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        _install_sqlite_pragmas(engine, checkpoint_on_commit=checkpoint_on_commit)
        return engine
    connect_args: dict[str, Any] = {}
    if connect_timeout is not None:
        connect_args["connect_timeout"] = connect_timeout
    if transaction_pooler:
        connect_args["prepare_threshold"] = None
    elif timeouts is not None:
        connect_args["options"] = timeouts.as_options()
    if pooled:
        engine = create_engine(
            url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, connect_args=connect_args
        )
    else:
        engine = create_engine(url, poolclass=NullPool, connect_args=connect_args)
    _install_postgres_timeouts(engine, timeouts, per_transaction=transaction_pooler)
    return engine


class Database:
    """The engine plus two session factories: read (deferred) and write (immediate)."""

    def __init__(self, engine: Engine, job_timeouts: Timeouts | None = None) -> None:
        """`job_timeouts`: PostgreSQL's limits for `transaction(job=True)` (the worker's jobs)."""
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        self.write_engine = engine.execution_options(sqlite_begin="IMMEDIATE") if self.is_sqlite else engine
        self._read = sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)
        self._write = sessionmaker(bind=self.write_engine, expire_on_commit=False, autoflush=False)
        self._job = self._write
        if job_timeouts is not None and not self.is_sqlite:
            job_engine = self.write_engine.execution_options(**{TIMEOUTS_OPTION: job_timeouts})
            self._job = sessionmaker(bind=job_engine, expire_on_commit=False, autoflush=False)
        self.checkpointer: WalCheckpointer | None = None
        # What /readyz connects with: on PostgreSQL a connection of its own each time (set by
        # `from_settings`), so a probe stuck behind pgbouncer never holds a slot of the pool.
        self.probe_engine = engine
        self._writes: Writes | None = None
        self._writes_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, *, background_checkpoints: bool = False) -> Database:
        """`background_checkpoints`: for long-running processes (`serve`, `worker`); on a
        SQLite file, commits stop checkpointing and a `WalCheckpointer` runs until `dispose`."""
        postgres: dict[str, Any] = {
            "timeouts": Timeouts.of_seconds(
                settings.database_statement_timeout_seconds, settings.database_lock_timeout_seconds
            ),
            "transaction_pooler": settings.database_pooler == "transaction",
            "connect_timeout": settings.database_connect_timeout_seconds,
        }
        url = settings.effective_database_url
        engine = make_engine(
            url, pool_size=settings.database_pool_size, checkpoint_on_commit=not background_checkpoints, **postgres
        )
        job_timeouts = Timeouts.of_seconds(
            settings.worker_statement_timeout_seconds, settings.worker_lock_timeout_seconds
        )
        database = cls(engine, job_timeouts)
        if not database.is_sqlite:
            database.probe_engine = make_engine(url, pooled=False, **postgres)
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

    def session(self, *, write: bool = True, job: bool = False) -> Session:
        if job:
            return self._job()
        return (self._write if write else self._read)()

    @contextmanager
    def transaction(self, *, write: bool = True, job: bool = False) -> Iterator[Session]:
        """Commit on success, roll back on any error. `job`: a worker's job, a write
        transaction under the job timeouts."""
        session = self.session(write=write, job=job)
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
        if self.probe_engine is not self.engine:
            self.probe_engine.dispose()


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
