"""Exactly-once money under crashes and concurrency: a SIGKILLed worker process, racing
payers, and one operation_id sent many times at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from crowdpost.app import create_app
from crowdpost.config import Settings
from crowdpost.db import Database
from crowdpost.models import Bonus, Job, Operation, Requester
from crowdpost.models.job import JobStatus
from crowdpost.worker.loop import run_pending
from tests.conftest import assert_ledgers_balance
from tests.fixtures.backends import SqliteBackend
from tests.fixtures.factories import Admin, settings_for
from tests.fixtures.live_server import serve_in_thread
from tests.rewards.helpers import auth_client, balance_of, bonus, make_crew, paid_total, post_bonuses

KILL_ITEMS = 20_000


@pytest.fixture
def file_db(sqlite_backend: SqliteBackend, tmp_path: Path) -> Iterator[tuple[Settings, Database]]:
    """A SQLite file database shared by this process and a `crowdpost worker` subprocess."""
    url = sqlite_backend.new_database()
    settings = settings_for(url, tmp_path, worker_chunk_size=250)
    database = Database.from_settings(settings)
    yield settings, database
    database.dispose()
    sqlite_backend.drop_database(url)


# `crowdpost worker`, started only when a line arrives on stdin: the process imports
# everything first, so the test does not wait seconds for the restart.
_WARM_WORKER = "import sys; from crowdpost.cli import app; sys.stdin.readline(); app(['worker'])"


LEASE_SECONDS = 3


def _start_worker(settings: Settings, log: Path, *, warm: bool = False) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "CROWDPOST_DATABASE_URL": settings.database_url,
        "CROWDPOST_LOG_JSON": "false",
        "CROWDPOST_WORKER_POLL_INTERVAL": "0.05",
        # A short lease, so the dead worker's job is reclaimed by the rules, not by the test.
        "CROWDPOST_WORKER_LEASE_SECONDS": str(LEASE_SECONDS),
    }
    command = [sys.executable, "-c", _WARM_WORKER] if warm else [sys.executable, "-m", "crowdpost", "worker"]
    with log.open("ab") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=out, stdin=subprocess.PIPE)


def _progress(db: Database) -> tuple[str, int]:
    """(status, items done) of the one operation, read cheaply while the worker writes."""
    with db.transaction(write=False) as session:
        row = session.execute(select(Operation.status, Operation.cursor)).one()
        return str(row.status), int(row.cursor)


def _bonus_count(db: Database) -> int:
    with db.transaction(write=False) as session:
        return int(session.execute(select(func.count()).select_from(Bonus)).scalar_one())


def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def _stop(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        worker.terminate()
        try:
            worker.wait(15)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(10)
            raise AssertionError("worker ignored SIGTERM") from None


def test_worker_killed_mid_operation_then_restarted_pays_each_item_once(
    file_db: tuple[Settings, Database], tmp_path: Path
) -> None:
    settings, db = file_db
    log = tmp_path / "worker.log"
    worker = _start_worker(settings, log)  # idles until there is work
    restarted = _start_worker(settings, log, warm=True)
    try:
        with serve_in_thread(create_app(settings, db)) as url:
            admin = Admin(url)
            requester = admin.create_requester(balance="1000")
            crew = make_crew(db, admin, requester, size=40)
            items = [
                bonus(crew.user_ids[n % 40], "0.007", private_comment=f"item {n}", __item_idx=str(n))
                for n in range(KILL_ITEMS)
            ]
            with auth_client(url, requester.token) as client:
                accepted = post_bonuses(client, items, async_mode=True, operation_id="op-kill", skip_invalid_items=True)
            admin.close()
        assert accepted.status_code == 202, accepted.text

        _wait(lambda: _progress(db)[1] >= 2000 or worker.poll() is not None, 60, "the worker to start paying")
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        status, done = _progress(db)
        assert 0 < done < KILL_ITEMS, log.read_text()
        assert status == "RUNNING"
        assert 0 < _bonus_count(db) < KILL_ITEMS
        with db.transaction(write=False) as session:
            unfinished = (
                session.execute(select(Job.status).where(Job.status.in_((JobStatus.RUNNING, JobStatus.QUEUED))))
                .scalars()
                .all()
            )
        # The rest of the operation is still owed: the step the kill interrupted (RUNNING
        # under the dead worker's lease; its work may or may not have committed) and/or
        # the next step (QUEUED). Nothing may have been marked finished.
        assert 1 <= len(unfinished) <= 2, unfinished
        assert len(set(unfinished)) == len(unfinished), unfinished

        assert restarted.stdin is not None
        restarted.stdin.write(b"go\n")
        restarted.stdin.flush()
        _wait(lambda: _progress(db)[0] in ("SUCCESS", "FAIL"), 120, "the operation to finish")
    finally:
        _stop(worker)
        _stop(restarted)

    assert _progress(db)[0] == "SUCCESS"
    with db.transaction(write=False) as session:
        indexes = session.execute(select(Bonus.item_idx)).scalars().all()
        details = session.execute(select(Operation.details)).scalar_one()
    assert len(indexes) == KILL_ITEMS
    assert sorted(i for i in indexes if i is not None) == list(range(KILL_ITEMS))  # with len: no None
    assert details["success_count"] == KILL_ITEMS
    assert paid_total(db, requester.id) == Decimal("140.000")
    assert balance_of(db, requester.id) == Decimal("860.000")
    assert_ledgers_balance(db)


def test_concurrent_payers_never_overdraw(db: Database, admin: Admin, server_url: str) -> None:
    requester = admin.create_requester(balance="500")
    crew = make_crew(db, admin, requester, size=5)
    lowest: list[int] = []
    done = threading.Event()

    def watch_balance() -> None:
        while not done.is_set():
            with db.transaction(write=False) as session:
                lowest.append(session.execute(select(Requester.balance_micros)).scalars().all()[0])
            time.sleep(0.01)

    def pay(client_no: int) -> list[int]:
        statuses = []
        with auth_client(server_url, requester.token) as client:
            for request_no in range(5):
                items = [bonus(uid, "2", private_comment=f"{client_no}/{request_no}") for uid in crew.user_ids]
                statuses.append(post_bonuses(client, items).status_code)  # $10 a request
        return statuses

    watcher = threading.Thread(target=watch_balance)
    watcher.start()
    try:
        with ThreadPoolExecutor(20) as pool:
            statuses = Counter(s for result in pool.map(pay, range(20)) for s in result)
    finally:
        done.set()
        watcher.join()

    assert statuses == {201: 50, 409: 50}  # $1000 asked of $500: exactly half goes through
    assert min(lowest) >= 0
    assert paid_total(db, requester.id) + balance_of(db, requester.id) == Decimal(500)
    assert balance_of(db, requester.id) == Decimal(0)
    assert_ledgers_balance(db)


def test_one_operation_id_sent_50_times_at_once_pays_once(db: Database, admin: Admin, server_url: str) -> None:
    requester = admin.create_requester(balance="100")
    crew = make_crew(db, admin, requester, size=2)
    items = [bonus(uid, "1.25") for uid in crew.user_ids]

    def send(mode: str) -> httpx.Response:
        with auth_client(server_url, requester.token) as client:
            return post_bonuses(client, items, operation_id=f"op-{mode}", async_mode=mode == "async")

    with ThreadPoolExecutor(25) as pool:
        sync_answers = list(pool.map(send, ["sync"] * 50))
        async_answers = list(pool.map(send, ["async"] * 50))
    run_pending(db)

    assert {r.status_code for r in sync_answers} == {201}
    assert len({r.text for r in sync_answers}) == 1  # every retry replays the same bonuses
    assert Counter(r.status_code for r in async_answers) == {202: 1, 409: 49}
    assert {r.json()["code"] for r in async_answers if r.status_code == 409} == {"OPERATION_ALREADY_EXISTS"}
    assert paid_total(db, requester.id) == Decimal("5.00")  # 2 bonuses per operation, once each
    with db.transaction(write=False) as session:
        assert session.execute(select(func.count()).select_from(Operation)).scalar_one() == 2
