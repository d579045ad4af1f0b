"""Running a request's write transaction: on its own, or grouped with others (SQLite).

A unit of work is a function of a `Session` that flushes and never commits. `run(work)`
returns its result once its changes are committed, or raises its error with nothing of
it stored.

    PooledWrites   each unit is its own transaction on a pool thread (PostgreSQL: row
                   locks let concurrent payers run side by side)
    GroupCommit    SQLite: one thread runs the units queued meanwhile in one
                   transaction, each inside its own savepoint, and commits once

Why group on SQLite: it has one writer at a time, and a payment's COMMIT writes every
page it touched to the WAL. Concurrent payments touch the same pages (the same
Tolokers' index entries, the same table ends), so one COMMIT for a group writes each
page once instead of once per request. The caller hears its answer only after that
COMMIT, so nobody is ever told "paid" about an uncommitted payment.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import anyio.to_thread
from prometheus_client import Histogram
from sqlalchemy import Engine
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

T = TypeVar("T")
Work = Callable[[Session], T]

log = logging.getLogger(__name__)

# Units per shared transaction: bounds how long one COMMIT keeps the group's callers
# waiting; eight concurrent clients never queue more than eight.
MAX_GROUP = 64

GROUP_UNITS = Histogram(
    "crowdpost_group_commit_units",
    "Units of work committed together by one SQLite group transaction",
    buckets=(1, 2, 4, 8, 16, 32, 64),
)
GROUP_SECONDS = Histogram("crowdpost_group_commit_seconds", "Duration of one SQLite group transaction, BEGIN to COMMIT")


class Writes(Protocol):
    async def run(self, work: Work[T]) -> T: ...

    def close(self) -> None: ...


class PooledWrites:
    """One transaction per unit, on the thread pool."""

    def __init__(self, transaction: Callable[[], Any]) -> None:
        self._transaction = transaction  # Database.transaction

    async def run(self, work: Work[T]) -> T:
        return await anyio.to_thread.run_sync(self._run_now, work)

    def _run_now(self, work: Work[T]) -> T:
        with self._transaction() as session:
            return work(session)

    def close(self) -> None:
        pass


@dataclass
class _Unit:
    work: Work[Any]
    # The caller's context (request id for ledger references and error bodies).
    context: contextvars.Context
    future: Future[Any] = field(default_factory=Future)


class GroupCommit:
    """Units queued while a transaction runs go into the next one together.

    `write_engine` must begin write transactions that take the write lock at once
    (SQLite `BEGIN IMMEDIATE`, see `crowdpost.db`). A unit that raises is rolled back to
    its savepoint and gets its error; the others are unaffected. If the shared COMMIT
    fails, every unit of the group gets that error and nothing of the group is stored.
    """

    def __init__(self, write_engine: Engine, *, max_group: int = MAX_GROUP) -> None:
        self._engine = write_engine
        self._max_group = max_group
        self._queue: queue.SimpleQueue[_Unit | None] = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="crowdpost-group-commit", daemon=True)
        self._thread.start()

    async def run(self, work: Work[T]) -> T:
        if self._closed:
            raise RuntimeError("the group commit is closed")
        unit = _Unit(work, contextvars.copy_context())
        self._queue.put(unit)
        # A caller cancelled before its unit starts is skipped; once started, the unit
        # runs to its commit either way (like a request whose client went away).
        result: T = await asyncio.wrap_future(unit.future)
        return result

    def close(self, timeout: float = 30) -> None:
        """Runs what is queued, then stops the thread."""
        self._closed = True
        self._queue.put(None)
        self._thread.join(timeout)

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group = [first]
            stopping = False
            while len(group) < self._max_group:
                try:
                    unit = self._queue.get_nowait()
                except queue.Empty:
                    break
                if unit is None:
                    stopping = True
                    break
                group.append(unit)
            self._commit(group)
            if stopping:
                return

    def _commit(self, group: list[_Unit]) -> None:
        outcomes: list[tuple[_Unit, Any, BaseException | None]] = []
        GROUP_UNITS.observe(len(group))
        try:
            with GROUP_SECONDS.time(), self._engine.connect() as connection, connection.begin():
                for unit in group:
                    if unit.future.set_running_or_notify_cancel():
                        outcomes.append((unit, *self._attempt(connection, unit)))
        except BaseException as exc:  # BEGIN or the shared COMMIT failed: nothing of the group is stored
            log.warning("group transaction of %d units failed", len(group), exc_info=True)
            for unit in group:
                if unit.future.running() or unit.future.set_running_or_notify_cancel():
                    unit.future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for unit, result, error in outcomes:
            if error is None:
                unit.future.set_result(result)
            else:
                unit.future.set_exception(error)

    @staticmethod
    def _attempt(connection: Connection, unit: _Unit) -> tuple[Any, Exception | None]:
        """(result, None) or (None, error): the unit in its own session and savepoint."""
        session = Session(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False, autoflush=False
        )
        try:
            result = unit.context.run(unit.work, session)
            session.commit()  # flushes and releases the savepoint; the group's COMMIT comes later
            return result, None
        except Exception as exc:
            session.rollback()  # back to the savepoint: the unit's rows are gone, the group's stay
            return None, exc
        finally:
            session.close()
