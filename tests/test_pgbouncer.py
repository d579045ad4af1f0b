"""crowdpost through pgbouncer in transaction pooling mode (Debian's pgbouncer, a real server).

Behind such a pooler consecutive transactions of one client connection run on different
server connections, so nothing may rely on state a connection keeps between transactions:
session advisory locks, prepared statements, SET without LOCAL (or set_config(..., false)),
temporary tables, LISTEN. A representative workload runs here through pgbouncer with every
statement recorded, and a statement that would leave session state fails the test.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import toloka.client.filter as f
from sqlalchemy import event, text
from toloka.client import TolokaClient
from toloka.client.message_thread import RecipientsSelectType
from toloka.client.search_requests import MessageThreadSearchRequest, UserBonusSearchRequest
from toloka.client.user_bonus import UserBonus

from crowdpost.app import create_app
from crowdpost.db import Database, make_engine
from crowdpost.migrate import is_up_to_date, upgrade
from crowdpost.worker.loop import EmbeddedWorker
from tests.conftest import assert_ledgers_balance
from tests.fixtures.factories import Admin, settings_for
from tests.fixtures.live_server import serve_in_thread
from tests.fixtures.pgbouncer import PooledServer
from tests.messaging.helpers import crew, toloker_client
from tests.rewards.helpers import auth_client, bonus, post_bonuses

# Statements that leave state on the server connection beyond their transaction.
SESSION_STATE = re.compile(
    r"pg_(try_)?advisory_lock(_shared)?\s*\("
    r"|set_config\s*\([^)]*,\s*false\s*\)"
    r"|^\s*SET\s+(?!LOCAL\b)"
    r"|^\s*(RESET|LISTEN|UNLISTEN|PREPARE|DISCARD)\b"
    r"|\bCREATE\s+(TEMP|TEMPORARY)\b"
    r"|\bWITH\s+HOLD\b",
    re.IGNORECASE | re.MULTILINE,
)


def test_the_session_state_pattern_catches_what_it_should() -> None:
    for bad in (
        "SELECT pg_advisory_lock(1)",
        "SELECT pg_try_advisory_lock_shared(1, 2)",
        "SELECT set_config('work_mem', '64MB', false)",
        "SET work_mem = '64MB'",
        "LISTEN outbox",
        "CREATE TEMP TABLE t (x int)",
        "DECLARE c CURSOR WITH HOLD FOR SELECT 1",
    ):
        assert SESSION_STATE.search(bad), bad
    for good in (
        "SELECT pg_advisory_xact_lock(1)",
        "SELECT set_config('work_mem', '64MB', true)",
        "SET LOCAL work_mem = '64MB'",
        "UPDATE jobs SET status = 'DONE'",
    ):
        assert not SESSION_STATE.search(good), good


@pytest.fixture
def database_name(pooled_server: PooledServer) -> Iterator[str]:
    name = pooled_server.new_database()
    yield name
    pooled_server.drop_database(name)


def test_migrations_started_together_through_pgbouncer_run_once(pooled_server: PooledServer) -> None:
    """`migrate`'s lock is a transaction lock and every migration runs inside that transaction,
    so it holds through transaction pooling: three processes starting at once migrate once."""
    name = "crowdpost_m_" + threading.get_native_id().__str__()
    pooled_server.postgres.ensure_database(name)
    engines = [make_engine(pooled_server.pooled_url(name), pool_size=1, transaction_pooler=True) for _ in range(3)]
    try:
        with ThreadPoolExecutor(3) as pool:
            list(pool.map(upgrade, engines))  # an error in any of them is raised here
        assert is_up_to_date(engines[0])
        with engines[0].connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() >= 1
    finally:
        for engine in engines:
            engine.dispose()
        pooled_server.drop_database(name)


class StatementLog:
    """Every statement an engine runs, from any thread."""

    def __init__(self) -> None:
        self.statements: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        with self._lock:
            self.statements.append(statement)

    def with_session_state(self) -> list[str]:
        return sorted({s for s in self.statements if SESSION_STATE.search(s)})


def test_a_representative_workload_through_pgbouncer(
    pooled_server: PooledServer, database_name: str, tmp_path: Path
) -> None:
    settings = settings_for(
        pooled_server.pooled_url(database_name), tmp_path, database_pooler="transaction", worker_chunk_size=50
    )
    db = Database.from_settings(settings)
    recorded = StatementLog()
    event.listen(db.engine, "before_cursor_execute", recorded)
    worker = EmbeddedWorker(db, 0.05, timedelta(seconds=30), settings)
    worker.start()
    try:
        with serve_in_thread(create_app(settings, db)) as url:
            _workload(db, url)
    finally:
        worker.stop()
        event.remove(db.engine, "before_cursor_execute", recorded)
    try:
        assert_ledgers_balance(db)
    finally:
        db.dispose()
    assert recorded.with_session_state() == []
    joined = "\n".join(recorded.statements)
    # The per-transaction timeouts and id order's transaction locks did run through pgbouncer.
    assert "set_config('statement_timeout'" in joined
    assert "pg_advisory_xact_lock" in joined


def _workload(db: Database, url: str) -> None:
    admin = Admin(url)
    info = admin.create_requester(balance="1000")
    _, _, people = crew(db, admin, info.id, [{"country": "GB"}] * 12 + [{"country": "DE"}] * 8)
    client = TolokaClient(info.token, url=url, retries=0)

    # Sync bonuses from 4 threads at once (so pgbouncer hands transactions to several server
    # connections), each with an operation_id sent twice: the second is the first's answer.
    def pay(n: int) -> tuple[int, int]:
        with auth_client(url, info.token) as http:
            items = [bonus(people[(n + k) % len(people)], "0.125", private_comment=f"{n}/{k}") for k in range(5)]
            first = post_bonuses(http, items, operation_id=f"op-sync-{n}")
            again = post_bonuses(http, items, operation_id=f"op-sync-{n}")
            assert first.json() == again.json()
            return first.status_code, again.status_code

    with ThreadPoolExecutor(4) as pool:
        assert set(pool.map(pay, range(16))) == {(201, 201)}

    # An async batch, paid by the worker in chunks through pgbouncer.
    batch = [
        UserBonus(
            user_id=people[k % len(people)],
            amount=Decimal("0.010"),
            private_comment=f"async {k}",
            public_title={"EN": "Thanks"},
            public_message={"EN": "For the batch"},
        )
        for k in range(300)
    ]
    operation = client.wait_operation(
        client.create_user_bonuses_async(batch, skip_invalid_items=True), timeout=timedelta(minutes=3)
    )
    assert operation.status is not None
    assert operation.status.value == "SUCCESS"
    assert operation.details is not None
    assert operation.details.success_count == 300
    # Paging with id_gt, as toloka-kit does: every bonus, once.
    seen = [b.id for b in client.get_user_bonuses(UserBonusSearchRequest(), batch_size=7)]
    assert len(seen) == len(set(seen)) == 16 * 5 + 300

    # A filtered send, a Toloker's reply, and the requester's threads paged.
    thread = client.compose_message_thread(
        recipients_select_type=RecipientsSelectType.FILTER,
        topic={"EN": "For GB"},
        text={"EN": "hello"},
        answerable=True,
        recipients_filter=f.Country == "GB",
    )
    assert thread._unexpected is not None
    assert thread._unexpected["delivery"]["delivered"] == 12
    with toloker_client(url, admin, people[0]) as toloker:
        inbox = toloker.get("/message-threads", params={"limit": 300}).json()["items"]
        received = next(t for t in inbox if t["topic"] == {"EN": "For GB"})
        reply = toloker.post(f"/message-threads/{received['id']}/reply", json={"text": {"EN": "thanks"}})
        assert reply.status_code in (200, 201), reply.text
    threads = list(client.get_message_threads(MessageThreadSearchRequest(), batch_size=2))
    assert len({t.id for t in threads}) == len(threads) >= 2
    with httpx.Client(base_url=url, timeout=30) as http:
        assert http.get("/readyz").status_code == 200
    admin.close()
