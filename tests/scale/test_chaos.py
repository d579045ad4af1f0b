"""Chaos: kill -9 under load, on PostgreSQL through pgbouncer and directly, and nothing is lost.

3 `crowdpost serve` processes (one port each; clients spread their tries over them, as a
load balancer would) and 2 `crowdpost worker` processes; 16 client processes
(`chaos_client.py`) pay sync bonuses with an operation_id, start async operations, send to
filtered groups, reply as Tolokers and page through bonuses, retrying like toloka-kit. Every
`KILL_EVERY` seconds one API process and one worker get SIGKILL and are started again; once,
halfway, PostgreSQL itself is restarted. Afterwards, from the database:

- every sync bonus whose request got a 2xx exists exactly once, and no item of any request
  (answered or not) was paid twice: no operation_id paid twice;
- every async operation a client started reached SUCCESS or FAIL, its items paid once;
- every requester's ledger sums to its balance, and no balance is below zero;
- every send answered 2xx has exactly one Toloker thread per recipient (and one thread);
- every reply answered 2xx exists once;
- every paging pass saw, in id order and once, every bonus confirmed before the pass began.

The counts are printed (`-s` shows them); any difference fails the test. Durations:
CROWDPOST_CHAOS_SECONDS (60, through pgbouncer) and CROWDPOST_CHAOS_DIRECT_SECONDS (25).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from crowdpost.app import create_app
from crowdpost.db import Database
from crowdpost.kit.ids import format_id
from crowdpost.models import Bonus, Message, MessageThread, Operation, TolokerThread
from tests.conftest import assert_ledgers_balance, assert_messaging_rows_whole
from tests.fixtures.factories import ADMIN_TOKEN, Admin, settings_for
from tests.fixtures.live_server import free_port, serve_in_thread
from tests.fixtures.pgbouncer import PooledServer
from tests.messaging.helpers import crew
from tests.scale.chaos_client import GIVE_UP_SECONDS, ClientPlan, main

pytestmark = pytest.mark.slow

CHAOS_SECONDS = float(os.environ.get("CROWDPOST_CHAOS_SECONDS", "60"))
DIRECT_SECONDS = float(os.environ.get("CROWDPOST_CHAOS_DIRECT_SECONDS", "25"))
KILL_EVERY = 10.0
CLIENTS = 16
API_PROCESSES = 3
WORKERS = 2
REQUESTERS = 4
COUNTRIES = ["GB", "DE"]
PER_COUNTRY = 10  # Tolokers per country per requester
START_TIMEOUT = 120.0
FINISH_TIMEOUT = 240.0


@dataclass
class Seeded:
    requester_id: str
    token: str
    tolokers: list[str]
    by_country: dict[str, list[str]]
    toloker_tokens: dict[str, str]


def _seed(db: Database, url: str) -> list[Seeded]:
    admin = Admin(url)
    try:
        seeded = []
        for _ in range(REQUESTERS):
            info = admin.create_requester(balance="1000")
            profiles = [{"country": c} for c in COUNTRIES for _ in range(PER_COUNTRY)]
            _, _, ids = crew(db, admin, info.id, profiles)
            by_country = {c: ids[n * PER_COUNTRY : (n + 1) * PER_COUNTRY] for n, c in enumerate(COUNTRIES)}
            repliers = ids[:: max(1, len(ids) // (CLIENTS // REQUESTERS))][: CLIENTS // REQUESTERS]
            tokens = {uid: admin.toloker_token(uid) for uid in repliers}
            seeded.append(Seeded(info.id, info.token, ids, by_country, tokens))
        return seeded
    finally:
        admin.close()


@dataclass
class Fleet:
    """The API and worker processes, each restartable in its slot."""

    env: dict[str, str]
    logs: Path
    ports: list[int] = field(default_factory=list)
    api: list[subprocess.Popen[bytes]] = field(default_factory=list)
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    kills: int = 0
    crashed: int = 0

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        with (self.logs / f"{name}.log").open("ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "crowdpost", *args], env=self.env, stdout=log, stderr=subprocess.STDOUT
            )

    def _serve(self, slot: int) -> subprocess.Popen[bytes]:
        return self._spawn(f"api-{slot}", ["serve", "--port", str(self.ports[slot]), "--no-worker"])

    def start(self) -> None:
        self.ports = [free_port() for _ in range(API_PROCESSES)]
        self.api = [self._serve(slot) for slot in range(API_PROCESSES)]
        self.workers = [self._spawn(f"worker-{slot}", ["worker"]) for slot in range(WORKERS)]
        self.wait_ready()

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.ports]

    def wait_ready(self) -> None:
        def ready(url: str) -> bool:
            try:
                return httpx.get(f"{url}/readyz", timeout=5).status_code == 200
            except httpx.HTTPError:
                return False

        def all_ready() -> bool:
            # A supervisor keeps restarting what exits while we wait: an API process started
            # during the PostgreSQL restart may exit after the last look at the fleet.
            self.restart_the_dead()
            return all(ready(url) for url in self.urls)

        try:
            _wait(all_ready, START_TIMEOUT, "every API process to be ready")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.log_tails()}") from None

    def log_tails(self, lines: int = 30) -> str:
        """The end of every process's log, for a failure message."""
        parts = []
        for log in sorted(self.logs.glob("*.log")):
            tail = log.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {log.name} (last {len(tail)} lines)\n" + "\n".join(tail))
        return "\n".join(parts)

    def restart_the_dead(self) -> None:
        """What a supervisor does: a process that exited by itself (e.g. an API process that
        started while PostgreSQL was restarting and could not migrate) is started again."""
        for slot, process in enumerate(self.api):
            if process.poll() is not None:
                self.api[slot] = self._serve(slot)
                self.crashed += 1
        for slot, process in enumerate(self.workers):
            if process.poll() is not None:
                self.workers[slot] = self._spawn(f"worker-{slot}", ["worker"])
                self.crashed += 1

    def kill_and_restart(self, round_no: int) -> None:
        slot = round_no % API_PROCESSES
        self.api[slot].send_signal(signal.SIGKILL)
        self.api[slot].wait(30)
        self.api[slot] = self._serve(slot)
        slot = round_no % WORKERS
        self.workers[slot].send_signal(signal.SIGKILL)
        self.workers[slot].wait(30)
        self.workers[slot] = self._spawn(f"worker-{slot}", ["worker"])
        self.kills += 2

    def stop(self) -> list[str]:
        """SIGTERM to everything; the processes that did not exit 0."""
        processes = self.api + self.workers
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        names = [f"api-{n}" for n in range(len(self.api))] + [f"worker-{n}" for n in range(len(self.workers))]
        bad = []
        for name, process in zip(names, processes, strict=True):
            try:
                code = process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                code = process.wait(30)
            if code != 0:
                bad.append(f"{name} exited {code} on SIGTERM")
        return bad


def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _env(url: str, via_pgbouncer: bool) -> dict[str, str]:
    return {
        **os.environ,
        "CROWDPOST_DATABASE_URL": url,
        "CROWDPOST_DATABASE_POOLER": "transaction" if via_pgbouncer else "none",
        "CROWDPOST_ENVIRONMENT": "testing",
        "CROWDPOST_ADMIN_TOKEN": ADMIN_TOKEN,
        "CROWDPOST_LOG_JSON": "false",
        "CROWDPOST_LOG_LEVEL": "WARNING",
        "CROWDPOST_DATABASE_POOL_SIZE": "5",
        # Several steps per operation, so kills land between them; a killed worker's job and
        # outbox rows come back after a short lease.
        "CROWDPOST_WORKER_CHUNK_SIZE": "50",
        "CROWDPOST_WORKER_LEASE_SECONDS": "5",
        "CROWDPOST_OUTBOX_LEASE_SECONDS": "5",
        "CROWDPOST_WORKER_POLL_INTERVAL": "0.1",
        # The quotas and the bulk cap are other tests' business: lifted here.
        "CROWDPOST_BONUS_REQUESTS_PER_DAY": "10000000",
        "CROWDPOST_BULK_MESSAGES_PER_TOLOKER_WEEK": "1000000",
    }


def _run_clients(
    fleet: Fleet, seeded: list[Seeded], seconds: float, postgres_restart: Callable[[], None], out: Path
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + seconds
    plans = []
    for n in range(CLIENTS):
        mine = seeded[n % REQUESTERS]
        toloker_id, toloker_token = list(mine.toloker_tokens.items())[(n // REQUESTERS) % len(mine.toloker_tokens)]
        plans.append(
            ClientPlan(
                number=n,
                urls=fleet.urls,
                requester_token=mine.token,
                toloker_id=toloker_id,
                toloker_token=toloker_token,
                tolokers=mine.tolokers,
                countries=COUNTRIES,
                deadline=deadline,
                out=str(out / f"client-{n}.json"),
                seed=n,
            )
        )
    context = multiprocessing.get_context("spawn")
    clients = [context.Process(target=main, args=(plan,)) for plan in plans]
    for client in clients:
        client.start()
    restarted_postgres = False
    round_no = 0
    next_kill = time.monotonic() + KILL_EVERY
    while time.monotonic() < deadline:
        time.sleep(max(0.0, min(next_kill, deadline, time.monotonic() + 0.5) - time.monotonic()))
        fleet.restart_the_dead()
        if time.monotonic() >= deadline:
            break
        if time.monotonic() < next_kill:
            continue
        fleet.kill_and_restart(round_no)
        round_no += 1
        next_kill += KILL_EVERY
        if not restarted_postgres and time.monotonic() >= deadline - seconds / 2:
            postgres_restart()
            restarted_postgres = True
    if not restarted_postgres:
        postgres_restart()
    for client in clients:
        client.join(GIVE_UP_SECONDS + 60)
        assert client.exitcode == 0, f"a client process failed ({client.exitcode})"
    return [json.loads(Path(plan.out).read_text()) for plan in plans]


def _finished(db: Database) -> bool:
    with db.transaction(write=False) as session:
        statuses = session.execute(select(Operation.status)).scalars().all()
    return all(status in ("SUCCESS", "FAIL") for status in statuses)


@dataclass
class Checked:
    problems: list[str] = field(default_factory=list)
    rows: Counter[str] = field(default_factory=Counter)

    def expect(self, ok: bool, problem: str) -> None:
        if not ok:
            self.problems.append(problem)


def _check(db: Database, seeded: list[Seeded], records: list[dict[str, Any]]) -> Checked:
    checked = Checked()
    with db.transaction(write=False) as session:
        bonuses = session.execute(select(Bonus.id, Bonus.requester_id, Bonus.private_comment)).all()
        operations = {row.public_id: row for row in session.execute(select(Operation.public_id, Operation.status))}
        threads = session.execute(
            select(MessageThread.id, MessageThread.topic, MessageThread.delivered_count).where(
                MessageThread.select_type == "FILTER"
            )
        ).all()
        recipients: dict[int, Counter[str]] = defaultdict(Counter)
        for thread_id, user_id in session.execute(select(TolokerThread.thread_id, TolokerThread.user_id)):
            recipients[thread_id][user_id] += 1
        message_texts = Counter(
            json.dumps(text, sort_keys=True) for text in session.execute(select(Message.text)).scalars()
        )
        threads_of_bonus = select(func.count()).where(MessageThread.bonus_id == Bonus.id).scalar_subquery()
        unthreaded = session.execute(
            select(func.count()).select_from(Bonus).where(Bonus.without_message.is_(False), threads_of_bonus != 1)
        ).scalar_one()
    paid = Counter(comment for _, _, comment in bonuses)
    id_of = {comment: format_id(bonus_id) for bonus_id, _, comment in bonuses}
    checked.rows["bonuses"] = len(bonuses)
    # One thread per paid bonus with a message, written in the payment's transaction.
    checked.expect(unthreaded == 0, f"{unthreaded} bonuses with a message have no thread, or several")
    for comment, count in paid.items():
        checked.expect(comment is None or count == 1, f"bonus {comment!r} paid {count} times")

    by_token = {s.token: s for s in seeded}
    confirmed: dict[str, list[tuple[float, str]]] = defaultdict(list)  # requester -> (when, bonus id)
    for record, plan_requester in _with_requesters(records, seeded):
        for operation_id, comments, status, ids, when in record["sync"]:
            checked.rows["sync requests"] += 1
            # Retried for up to 2 minutes through kills and a restart, every request gets through.
            checked.expect(status == 201, f"sync {operation_id}: answered {status}")
            if status == 201:
                checked.rows["sync 2xx"] += 1
                for comment in comments:
                    checked.expect(
                        paid[comment] == 1, f"sync {operation_id}: {comment!r} answered 201, paid {paid[comment]}"
                    )
                checked.expect(
                    sorted(ids) == sorted(id_of.get(c, "?") for c in comments), f"sync {operation_id}: ids differ"
                )
                confirmed[plan_requester].extend((when, bonus_id) for bonus_id in ids)
        for operation_id, comments, status, code in record["operations"]:
            checked.rows["async requests"] += 1
            accepted = status == 202 or code == "OPERATION_ALREADY_EXISTS"
            checked.expect(accepted, f"operation {operation_id}: answered {status} {code}")
            if accepted:
                checked.rows["async accepted"] += 1
                state = operations.get(operation_id)
                checked.expect(state is not None, f"operation {operation_id} accepted but not stored")
                if state is not None:
                    checked.expect(state.status in ("SUCCESS", "FAIL"), f"operation {operation_id} is {state.status}")
                    if state.status == "SUCCESS":
                        missing = [c for c in comments if paid[c] != 1]
                        checked.expect(not missing, f"operation {operation_id}: {len(missing)} items not paid once")
                        checked.rows["async items"] += len(comments)
        for marker, country, status, thread_id in record["composes"]:
            checked.rows["composes"] += 1
            checked.expect(status == 201, f"send {marker}: answered {status}")
            if status != 201:
                continue
            checked.rows["composes 2xx"] += 1
            mine = [t for t in threads if t.topic == {"EN": marker}]
            checked.expect(len(mine) == 1, f"send {marker}: {len(mine)} threads")
            if len(mine) == 1:
                thread = mine[0]
                checked.expect(format_id(thread.id) == thread_id, f"send {marker}: answered another thread id")
                got = recipients[thread.id]
                expected = set(by_token[_token_of(seeded, plan_requester)].by_country[country])
                checked.expect(set(got) == expected, f"send {marker}: recipients differ")
                checked.expect(all(n == 1 for n in got.values()), f"send {marker}: a recipient has two threads")
                checked.expect(thread.delivered_count == len(expected), f"send {marker}: delivered count")
                checked.rows["recipient threads"] += len(got)
        for marker, status in record["replies"]:
            checked.rows["replies"] += 1
            checked.expect(status == 201, f"reply {marker}: answered {status}")
            if status == 201:
                checked.rows["replies 2xx"] += 1
                count = message_texts[json.dumps({"EN": marker})]
                checked.expect(count == 1, f"reply {marker}: {count} messages")
    for record, plan_requester in _with_requesters(records, seeded):
        before = sorted(confirmed[plan_requester])
        for started, seen in record["passes"]:
            checked.rows["paging passes"] += 1
            checked.rows["rows paged"] += len(seen)
            checked.expect(seen == sorted(set(seen)), "a paging pass saw rows twice or out of id order")
            owed = {bonus_id for when, bonus_id in before if when < started}
            skipped = owed - set(seen)
            checked.expect(not skipped, f"a paging pass skipped {len(skipped)} bonuses committed before it began")
            checked.rows["rows owed to readers"] += len(owed)
    try:
        assert_ledgers_balance(db)
    except AssertionError as exc:
        checked.problems.append(f"ledger: {exc}")
    try:
        assert_messaging_rows_whole(db)
    except AssertionError as exc:
        checked.problems.append(f"messaging rows: {exc}")
    return checked


def _with_requesters(records: list[dict[str, Any]], seeded: list[Seeded]) -> list[tuple[dict[str, Any], str]]:
    return [(record, seeded[n % REQUESTERS].requester_id) for n, record in enumerate(records)]


def _token_of(seeded: list[Seeded], requester_id: str) -> str:
    return next(s.token for s in seeded if s.requester_id == requester_id)


def _chaos(pooled_server: PooledServer, tmp_path: Path, *, via_pgbouncer: bool, seconds: float) -> None:
    began = time.monotonic()
    name = pooled_server.new_database()
    url = pooled_server.pooled_url(name) if via_pgbouncer else pooled_server.direct_url(name)
    direct = Database.from_settings(settings_for(pooled_server.direct_url(name), tmp_path))
    logs = tmp_path / "logs"
    logs.mkdir()
    fleet = Fleet(_env(url, via_pgbouncer), logs)
    postgres = pooled_server.postgres

    def restart_postgres() -> None:
        postgres.stop("fast")
        postgres.start()

    try:
        with serve_in_thread(create_app(settings_for(pooled_server.direct_url(name), tmp_path), direct)) as seed_url:
            seeded = _seed(direct, seed_url)
        fleet.start()
        try:
            records = _run_clients(fleet, seeded, seconds, restart_postgres, tmp_path)

            def finished() -> bool:
                fleet.restart_the_dead()
                return _finished(direct)

            _wait(finished, FINISH_TIMEOUT, "every operation to finish")
            fleet.wait_ready()
        finally:
            not_clean = fleet.stop()
        checked = _check(direct, seeded, records)
    finally:
        direct.dispose()
        if postgres.running():
            pooled_server.drop_database(name)
    checked.problems.extend(not_clean)
    counts = {
        "requests": sum(r["requests"] for r in records),
        "retries": sum(r["retries"] for r in records),
        "gave up": sum(r["gave_up"] for r in records),
        "kills": fleet.kills,
        "restarted after exiting": fleet.crashed,
        "postgresql restarts": 1,
        **checked.rows,
    }
    where = "through pgbouncer" if via_pgbouncer else "directly"
    print(f"\nchaos {where}, {seconds:g} s of load, {time.monotonic() - began:.0f} s in all:")
    for key, value in counts.items():
        print(f"  {key:<24} {value}")
    causes: Counter[str] = Counter()
    for record in records:
        causes.update(record["retry_causes"])
    print(f"  {'retries by cause':<24} {dict(causes.most_common())}")
    for problem in checked.problems[:50]:
        print(f"  PROBLEM: {problem}")
    assert checked.problems == [], f"{len(checked.problems)} differences (see the output)"
    # The run did what it claims: load, kills, answers to check.
    assert fleet.kills >= 2 * int(seconds // KILL_EVERY) - 2
    for what in ("sync 2xx", "async accepted", "composes 2xx", "paging passes"):
        assert checked.rows[what] > 0, what


def test_chaos_through_pgbouncer(pooled_server: PooledServer, tmp_path: Path) -> None:
    _chaos(pooled_server, tmp_path, via_pgbouncer=True, seconds=CHAOS_SECONDS)


def test_chaos_directly(pooled_server: PooledServer, tmp_path: Path) -> None:
    _chaos(pooled_server, tmp_path, via_pgbouncer=False, seconds=DIRECT_SECONDS)
