"""Group commit: units queued together share one transaction, each in its own savepoint.

`GroupCommit` is what SQLite processes run hot writes through (`Database.writes`); the
mechanism is plain SQL savepoints, so these tests run it on both backends.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import bindparam, event, text
from sqlalchemy.orm import Session

from crowdpost.db import Database
from crowdpost.errors import request_id_var
from crowdpost.writes import GroupCommit, PooledWrites

# A bound on every wait (a broken GroupCommit fails the test rather than hanging it);
# nothing waits for time to pass: each step waits for the event that makes it safe.
WAIT = 10


class _QueueWatch:
    """Wraps a GroupCommit's queue: every put (a unit, or close's stop mark) releases a
    semaphore, so a test waits until units are queued instead of sleeping. The group
    thread keeps reading the same queue underneath."""

    def __init__(self, group: GroupCommit) -> None:
        self._inner = group._queue
        self._puts = threading.Semaphore(0)
        group._queue = self  # type: ignore[assignment]

    def put(self, item: Any) -> None:
        self._inner.put(item)
        self._puts.release()

    def get(self) -> Any:
        return self._inner.get()

    def get_nowait(self) -> Any:
        return self._inner.get_nowait()

    async def queued(self, count: int) -> None:
        """Returns once `count` more items were put (from a thread: the puts happen on the loop)."""

        def wait() -> bool:
            return all(self._puts.acquire(timeout=WAIT) for _ in range(count))

        assert await asyncio.to_thread(wait), f"{count} units were not queued"


@pytest.fixture
def committer(db: Database) -> Iterator[GroupCommit]:
    group = GroupCommit(db.write_engine)
    yield group
    group.close()


def _commits(db: Database) -> list[int]:
    """Counts COMMITs (not savepoint releases) of the database's engine."""
    seen: list[int] = []
    event.listen(db.engine, "commit", lambda conn: seen.append(1))
    return seen


def _add_toloker(user_id: str, then: Callable[[], None] | None = None) -> Callable[[Session], str]:
    def work(session: Session) -> str:
        session.execute(
            text("INSERT INTO tolokers (id, country, created) VALUES (:id, 'GB', CURRENT_TIMESTAMP)"), {"id": user_id}
        )
        if then is not None:
            then()
        return user_id

    return work


def _stored(db: Database, *ids: str) -> set[str]:
    with db.transaction(write=False) as session:
        query = text("SELECT id FROM tolokers WHERE id IN :ids").bindparams(bindparam("ids", expanding=True))
        rows = session.execute(query, {"ids": list(ids)})
        return {row.id for row in rows}


async def _start_blocking_unit(committer: GroupCommit) -> tuple[asyncio.Future[Any], threading.Event]:
    """A unit that is running (its group closed) and waits for the returned event."""
    started, release = threading.Event(), threading.Event()

    def hold() -> None:
        started.set()
        release.wait(WAIT)

    first = asyncio.ensure_future(committer.run(_add_toloker("gc-first", hold)))
    assert await asyncio.to_thread(started.wait, WAIT)
    return first, release


async def _blocked_then(committer: GroupCommit, works: list[Callable[[Session], Any]]) -> list[Any]:
    """Runs a first unit that waits until every other unit is queued, so they form one group."""
    first, release = await _start_blocking_unit(committer)
    watch = _QueueWatch(committer)
    tasks = [asyncio.ensure_future(committer.run(work)) for work in works]
    await watch.queued(len(works))
    release.set()
    results = await asyncio.gather(first, *tasks, return_exceptions=True)
    return results[1:]


def test_queued_units_share_one_commit(db: Database, committer: GroupCommit) -> None:
    commits = _commits(db)
    ids = [f"gc-{n}" for n in range(6)]
    results = asyncio.run(_blocked_then(committer, [_add_toloker(i) for i in ids]))
    assert results == ids
    assert len(commits) == 2  # the first unit alone, then the six queued behind it
    assert _stored(db, "gc-first", *ids) == {"gc-first", *ids}


def test_a_failing_unit_is_rolled_back_alone(db: Database, committer: GroupCommit) -> None:
    def fail() -> None:
        raise ValueError("this unit fails after its insert")

    results = asyncio.run(
        _blocked_then(committer, [_add_toloker("gc-a"), _add_toloker("gc-b", fail), _add_toloker("gc-c")])
    )
    assert results[0] == "gc-a"
    assert isinstance(results[1], ValueError)
    assert results[2] == "gc-c"
    assert _stored(db, "gc-a", "gc-b", "gc-c") == {"gc-a", "gc-c"}


def test_a_failed_commit_fails_every_unit_and_stores_nothing(db: Database, committer: GroupCommit) -> None:
    failing = {"on": False}

    def refuse_commit(conn: Any) -> None:
        if failing["on"]:
            raise RuntimeError("COMMIT refused")

    def arm() -> None:
        failing["on"] = True

    event.listen(db.engine, "commit", refuse_commit)
    # The first group commits; the second (arming the refusal in its first unit) fails whole.
    results = asyncio.run(_blocked_then(committer, [_add_toloker("gc-x", arm), _add_toloker("gc-y")]))
    failing["on"] = False
    assert all(isinstance(r, RuntimeError) for r in results), results
    assert _stored(db, "gc-first", "gc-x", "gc-y") == {"gc-first"}
    # The thread is still serving.
    assert asyncio.run(committer.run(_add_toloker("gc-after"))) == "gc-after"


def test_a_unit_cancelled_before_it_starts_never_runs(db: Database, committer: GroupCommit) -> None:
    async def scenario() -> None:
        first, release = await _start_blocking_unit(committer)
        watch = _QueueWatch(committer)
        doomed = asyncio.ensure_future(committer.run(_add_toloker("gc-cancelled")))
        await watch.queued(1)
        doomed.cancel()
        # Done (cancelled) only after its unit's future was cancelled: that callback of the
        # awaited future runs before the task's own wake-up.
        with pytest.raises(asyncio.CancelledError):
            await doomed
        release.set()
        await first
        await committer.run(_add_toloker("gc-later"))  # the cancelled unit's group is over

    asyncio.run(scenario())
    assert _stored(db, "gc-first", "gc-cancelled", "gc-later") == {"gc-first", "gc-later"}


def test_units_run_in_their_callers_context(committer: GroupCommit) -> None:
    async def call(request_id: str) -> str:
        request_id_var.set(request_id)
        return await committer.run(lambda session: request_id_var.get())

    async def scenario() -> list[str]:
        return list(await asyncio.gather(call("req-1"), call("req-2"), call("req-3")))

    assert asyncio.run(scenario()) == ["req-1", "req-2", "req-3"]


def test_a_closed_group_commit_runs_what_was_queued_and_refuses_more(db: Database) -> None:
    group = GroupCommit(db.write_engine)

    async def scenario() -> None:
        first, release = await _start_blocking_unit(group)
        watch = _QueueWatch(group)
        queued = asyncio.ensure_future(group.run(_add_toloker("gc-queued")))
        await watch.queued(1)
        closing = asyncio.ensure_future(asyncio.to_thread(group.close))
        await watch.queued(1)  # close() has marked the group closed and queued its stop
        release.set()
        assert await queued == "gc-queued"
        await first
        await closing
        with pytest.raises(RuntimeError):
            await group.run(_add_toloker("gc-refused"))

    asyncio.run(scenario())
    assert _stored(db, "gc-first", "gc-queued", "gc-refused") == {"gc-first", "gc-queued"}


def test_pooled_writes_run_each_unit_in_its_own_transaction(db: Database) -> None:
    commits = _commits(db)
    writes = PooledWrites(db.transaction)

    async def scenario() -> list[str]:
        return list(await asyncio.gather(*(writes.run(_add_toloker(f"pw-{n}")) for n in range(3))))

    assert asyncio.run(scenario()) == ["pw-0", "pw-1", "pw-2"]
    assert len(commits) == 3  # one per unit
    assert _stored(db, "pw-0", "pw-1", "pw-2") == {"pw-0", "pw-1", "pw-2"}


def test_database_groups_writes_on_sqlite_only(db: Database) -> None:
    expected = GroupCommit if db.is_sqlite else PooledWrites
    assert isinstance(db.writes, expected)
    assert db.writes is db.writes
