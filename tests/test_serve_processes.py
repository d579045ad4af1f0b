"""`crowdpost serve` and `crowdpost worker` as real processes: several API processes on one
port, SQLite's refusal of them, SIGTERM with a request in flight, a worker's clean stop, and
/readyz while PostgreSQL is stopped and started again."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from crowdpost.app import create_app
from crowdpost.config import Settings
from crowdpost.db import Database
from crowdpost.models import Bonus, Job, Operation
from crowdpost.models.job import JobStatus
from tests.conftest import assert_ledgers_balance
from tests.fixtures.backends import SqliteBackend
from tests.fixtures.factories import ADMIN_TOKEN, Admin, settings_for
from tests.fixtures.live_server import free_port, serve_in_thread
from tests.fixtures.pgbouncer import PooledServer
from tests.rewards.helpers import auth_client, bonus, make_crew, post_bonuses

START_TIMEOUT = 90.0


def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _env(database_url: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "CROWDPOST_DATABASE_URL": database_url,
        "CROWDPOST_ENVIRONMENT": "testing",
        "CROWDPOST_ADMIN_TOKEN": ADMIN_TOKEN,
        "CROWDPOST_LOG_JSON": "false",
        **extra,
    }


def _crowdpost(*args: str) -> list[str]:
    return [sys.executable, "-m", "crowdpost", *args]


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid and b"spawn_main" in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
    return found


def test_several_api_processes_are_refused_on_sqlite_before_anything_is_touched(tmp_path: Path) -> None:
    path = tmp_path / "never.sqlite3"
    result = subprocess.run(
        _crowdpost("serve", "--workers", "2", "--port", str(free_port())),
        env=_env(f"sqlite:///{path}"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    message = " ".join(result.stderr.split())
    assert "--workers 2 needs PostgreSQL" in message
    assert "one writer at a time" in message  # why
    assert "CROWDPOST_DATABASE_URL=postgresql" in message  # what to do
    assert not path.exists()  # refused before migrating, let alone binding


def _send_headers_and_half_a_body(port: int) -> tuple[socket.socket, bytes]:
    body = b'{"public_name": "in flight", "balance": "1.00"}'
    head = (
        f"POST /api/admin/v1/requesters HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: OAuth {ADMIN_TOKEN}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    conn = socket.create_connection(("127.0.0.1", port), timeout=60)
    conn.sendall(head + body[:10])
    return conn, body[10:]


def _read_status(conn: socket.socket) -> int:
    data = b""
    while b"\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else 0


@pytest.fixture(params=["sqlite-1", "postgresql-2"])
def served(
    request: pytest.FixtureRequest, sqlite_backend: SqliteBackend, pooled_server: PooledServer, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[bytes], int, int]]:
    """A running `crowdpost serve` (1 process on SQLite, 2 on PostgreSQL through pgbouncer)."""
    backend, processes = str(request.param).split("-")
    extra: dict[str, str] = {}
    if backend == "sqlite":
        url = sqlite_backend.new_database()
    else:
        name = pooled_server.new_database()
        url = pooled_server.pooled_url(name)
        extra["CROWDPOST_DATABASE_POOLER"] = "transaction"
    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        _crowdpost("serve", "--port", str(port), "--workers", processes, "--no-worker"),
        env=_env(url, **extra),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait(lambda: _ready(port) or process.poll() is not None, START_TIMEOUT, "serve to be ready")
        assert process.poll() is None, (tmp_path / "serve.log").read_text()
        yield process, port, int(processes)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)
        log.close()
        if backend == "sqlite":
            sqlite_backend.drop_database(url)


def test_sigterm_finishes_the_request_in_flight_and_exits_0(
    served: tuple[subprocess.Popen[bytes], int, int], tmp_path: Path
) -> None:
    process, port, processes = served
    if processes > 1:
        _wait(lambda: len(_children(process.pid)) == processes, START_TIMEOUT, f"{processes} API processes")
    conn, rest = _send_headers_and_half_a_body(port)
    try:
        # The request's headers reach the server and it waits for the body; then the signal.
        time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert process.poll() is None, "serve exited with a request in flight"
        conn.sendall(rest)
        assert _read_status(conn) == 201
    finally:
        conn.close()
    assert process.wait(60) == 0, (tmp_path / "serve.log").read_text()
    assert not _ready(port)


def _operation(db: Database) -> tuple[str, int]:
    with db.transaction(write=False) as session:
        row = session.execute(select(Operation.status, Operation.cursor)).one()
        return str(row.status), int(row.cursor)


def _start_worker(settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            _crowdpost("worker"),
            env=_env(settings.database_url, CROWDPOST_WORKER_CHUNK_SIZE="20", CROWDPOST_WORKER_POLL_INTERVAL="0.05"),
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def test_a_worker_stops_on_sigterm_between_jobs_holding_nothing(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    items = 3000
    # The request stores the batch in chunks of this size: 150 steps, one job each.
    settings = settings.model_copy(update={"worker_chunk_size": 20})
    with serve_in_thread(create_app(settings, db)) as url:
        admin = Admin(url)
        requester = admin.create_requester(balance="1000")
        crew = make_crew(db, admin, requester, size=30)
        admin.close()
        batch = [
            bonus(crew.user_ids[n % 30], "0.01", private_comment=f"item {n}", __item_idx=str(n)) for n in range(items)
        ]
        with auth_client(url, requester.token) as client:
            accepted = post_bonuses(client, batch, async_mode=True, operation_id="op-term", skip_invalid_items=True)
    assert accepted.status_code == 202, accepted.text

    log = tmp_path / "worker.log"
    worker = _start_worker(settings, log)
    try:
        _wait(lambda: _operation(db)[1] >= 100 or worker.poll() is not None, START_TIMEOUT, "the worker to pay")
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(60) == 0, log.read_text()
    finally:
        if worker.poll() is None:
            worker.kill()
    status, paid = _operation(db)
    assert status == "RUNNING", "the worker drained the queue instead of stopping"
    assert paid < items
    with db.transaction(write=False) as session:
        held = session.execute(select(Job.id).where(Job.status == JobStatus.RUNNING)).all()
    assert held == []  # no claim left for a lease to expire: the next worker goes on at once

    restarted = _start_worker(settings, log)
    try:
        _wait(lambda: _operation(db)[0] != "RUNNING", START_TIMEOUT, "the operation to finish")
    finally:
        restarted.send_signal(signal.SIGTERM)
        assert restarted.wait(60) == 0
    with db.transaction(write=False) as session:
        indexes = sorted(i for i in session.execute(select(Bonus.item_idx)).scalars() if i is not None)
    assert _operation(db)[0] == "SUCCESS"
    assert indexes == list(range(items))  # each item paid once
    assert_ledgers_balance(db)


@pytest.mark.parametrize("mode", ["direct", "pgbouncer"])
def test_readyz_fails_while_postgresql_is_down_and_recovers_by_itself(
    pooled_server: PooledServer, mode: str, tmp_path: Path
) -> None:
    name = pooled_server.new_database()
    if mode == "pgbouncer":
        settings = settings_for(pooled_server.pooled_url(name), tmp_path, database_pooler="transaction")
    else:
        settings = settings_for(pooled_server.direct_url(name), tmp_path)
    db = Database.from_settings(settings)
    try:
        with serve_in_thread(create_app(settings, db)) as url, httpx.Client(base_url=url, timeout=30) as http:
            assert http.get("/readyz").status_code == 200
            pooled_server.postgres.stop()
            try:
                down = http.get("/readyz")
                assert down.status_code == 503
                assert down.json()["code"] == "REMOTE_SERVICE_UNAVAILABLE"
                assert http.get("/healthz").status_code == 200  # the process itself is fine
            finally:
                pooled_server.postgres.start()
            _wait(lambda: http.get("/readyz").status_code == 200, 60, "/readyz to recover")
            # And requests work again on the same pool.
            admin = Admin(url)
            assert admin.create_requester(balance="1").id
            admin.close()
    finally:
        db.dispose()
        pooled_server.drop_database(name)
