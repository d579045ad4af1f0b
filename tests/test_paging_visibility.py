"""Paging by `id_gt` never loses a row on PostgreSQL, on every list, while writers commit out of order.

Why PostgreSQL only: a sequence hands out ids at insert time while rows become visible at
commit, so a slow transaction with a smaller id can commit after a faster one with a larger
id, behind a reader that already paged past it (`kit.id_order` says how we prevent it).
SQLite writers are serial (`BEGIN IMMEDIATE`): nothing to race there.

Each test: `WRITERS` threads, each on its own connection, run `PER_WRITER` transactions through
the same service (or, for the worker's delivery log, repository) function the API or worker
uses, and hold each transaction open for a random 0-`MAX_DELAY` s after the insert before
committing. Meanwhile a reader follows the list through the real HTTP API like toloka-kit does
(`id_gt` of the last row seen, small `limit`, then again from there while `has_more` is false),
never restarting. When the writers are done it reads on to the end once more: it must have
seen every committed row, in id order, once. `ROUNDS` rounds per list
(`CROWDPOST_PAGING_ROUNDS` raises it to hunt for a rare skip).
"""

from __future__ import annotations

import os
import random
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Connection, event, select
from sqlalchemy.orm import Session

from crowdpost.config import Settings
from crowdpost.db import Database
from crowdpost.kit import id_order
from crowdpost.kit.ids import format_id
from crowdpost.kit.timefmt import utcnow
from crowdpost.messaging import platform, toloker_service
from crowdpost.messaging import service as messaging
from crowdpost.messaging.schemas import ComposeForm, PlatformMessageForm, SelectType
from crowdpost.models import MessageThread, WebhookDelivery
from crowdpost.operations import service as operations
from crowdpost.rewards import service as rewards
from crowdpost.webhooks import repository as webhook_repository
from crowdpost.webhooks import service as webhooks
from crowdpost.workforce.schemas import AssignmentIn, RestrictionScope, RestrictionSet, SkillCreate, UserSkillSet
from crowdpost.workforce.service import imports, pools, restrictions, skills
from tests.fixtures.factories import Admin, RequesterInfo, create_project_and_pool, settings_for

pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)

ROUNDS = int(os.environ.get("CROWDPOST_PAGING_ROUNDS", "2"))
WRITERS = 4
PER_WRITER = 6
MAX_DELAY = 0.03
PAGE = 2
CROWD = ROUNDS * WRITERS * PER_WRITER + 1

# (session, writer, transaction number) -> the public ids of the rows it inserted in the reader's scope
Write = Callable[[Session, int, int], list[str]]


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return settings_for(
        db_url,
        tmp_path,
        all_sends_per_day=100_000,
        bonus_requests_per_day=100_000,
        all_recipients_min_started=1,
        webhook_allow_private=True,
    )


@dataclass
class Follower:
    """A reader paging one list like toloka-kit: from the last id seen, never starting over."""

    client: httpx.Client
    path: str
    seen: list[str] = field(default_factory=list)

    def read_on(self) -> None:
        while True:
            params: dict[str, Any] = {"limit": PAGE}
            if self.seen:
                params["id_gt"] = self.seen[-1]
            response = self.client.get(self.path, params=params)
            assert response.status_code == 200, response.text
            body = response.json()
            self.seen += [item["id"] for item in body["items"]]
            if not body["has_more"]:
                return


@dataclass
class Outcome:
    committed: list[str]
    seen: list[str]

    @property
    def missed(self) -> list[str]:
        return sorted(set(self.committed) - set(self.seen))


def follow_while_writing(
    db: Database, reader: Follower, write: Write, committed: list[str] | None = None, rounds: int = ROUNDS
) -> Outcome:
    """`rounds` rounds of `WRITERS` concurrent writers while `reader` follows the list; then the
    reader reads on to the end once more. What was committed (appended to `committed` as each
    transaction's commit returns) and what the reader saw."""
    committed = [] if committed is None else committed
    guard = threading.Lock()
    failures: list[BaseException] = []

    def writer(w: int, round_no: int) -> None:
        rng = random.Random(f"{round_no}-{w}")
        try:
            for i in range(PER_WRITER):
                with db.transaction() as session:
                    ids = write(session, w, round_no * PER_WRITER + i)
                    time.sleep(rng.uniform(0, MAX_DELAY))  # the transaction stays open: it commits late
                with guard:
                    committed.extend(ids)
        except BaseException as exc:  # raised again on the reader's thread
            failures.append(exc)

    for round_no in range(rounds):
        threads = [threading.Thread(target=writer, args=(w, round_no)) for w in range(WRITERS)]
        for thread in threads:
            thread.start()
        while any(thread.is_alive() for thread in threads):
            reader.read_on()
        for thread in threads:
            thread.join()
        if failures:
            raise failures[0]
    reader.read_on()  # every commit is done: a row still missing was skipped for good
    return Outcome(committed, reader.seen)


def assert_never_skips(outcome: Outcome) -> None:
    assert outcome.committed, "the writers wrote nothing"
    assert outcome.missed == [], f"{len(outcome.missed)} of {len(outcome.committed)} committed rows skipped"
    assert outcome.seen == sorted(outcome.seen), "ids out of order"
    assert len(outcome.seen) == len(set(outcome.seen)), "a row seen twice"
    assert set(outcome.seen) >= set(outcome.committed)


# --- every insert into a listed table holds its claim -------------------------------------

# The tables whose ids a list pages by, and the parent whose id the thread lists page by.
THREAD_STATES = ("requester_threads", "toloker_threads")
GUARDED = {"skills", "user_skills", "user_restrictions", "projects", "pools", "assignments"}
GUARDED |= {"message_threads", *THREAD_STATES, "webhook_subscriptions", "webhook_deliveries"}
TABLE_OF_KEY = {id_order.lock_key(name): name for name in GUARDED}
WEBHOOK_SUBSCRIPTIONS_LOCK_CLASS = 7_041_995  # webhooks.repository.next_subscription_created's own lock
INSERT_INTO = re.compile(r"\s*INSERT INTO (\w+)", re.IGNORECASE)


@dataclass
class _Transaction:
    claimed: set[str] = field(default_factory=set)
    # What was claimed when the transaction first inserted a thread (allocated its id).
    at_first_thread: set[str] | None = None


class InsertGuard:
    """Watches every statement on the database's engine (the server's and the writers'): an
    INSERT into a listed table must come after its `keep_id_order` claim in the same
    transaction, and a thread's states after a claim taken before the thread's id was.
    (Bonuses are COPYed under their own id lock, `rewards.repository._take_bonus_ids`.)"""

    def __init__(self, db: Database) -> None:
        self.engine = db.write_engine
        self.open: dict[int, _Transaction] = {}
        self.checked: Counter[str] = Counter()
        self.violations: list[str] = []
        self.guard = threading.Lock()

    def __enter__(self) -> InsertGuard:
        event.listen(self.engine, "before_cursor_execute", self.statement)
        event.listen(self.engine, "commit", self.end)
        event.listen(self.engine, "rollback", self.end)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self.statement)
        event.remove(self.engine, "commit", self.end)
        event.remove(self.engine, "rollback", self.end)

    def end(self, conn: Connection) -> None:
        with self.guard:
            self.open.pop(id(conn.connection.dbapi_connection), None)

    def statement(self, conn: Connection, _cursor: Any, statement: str, params: Any, _ctx: Any, _many: bool) -> None:
        with self.guard:
            txn = self.open.setdefault(id(conn.connection.dbapi_connection), _Transaction())
            if "pg_advisory_xact_lock" in statement and isinstance(params, dict):
                if params.get("lock_class") == id_order.TABLE_LOCK_CLASS:
                    txn.claimed.add(TABLE_OF_KEY.get(params["key"], "?"))
                elif params.get("lock_class") == WEBHOOK_SUBSCRIPTIONS_LOCK_CLASS:
                    txn.claimed.add("webhook_subscriptions")
            match = INSERT_INTO.match(statement)
            if match is None or match.group(1) not in GUARDED:
                return
            table = match.group(1)
            self.checked[table] += 1
            if table == "message_threads":
                if txn.at_first_thread is None:
                    txn.at_first_thread = set(txn.claimed)
                if not txn.at_first_thread & set(THREAD_STATES):
                    self.violations.append(f"a thread inserted before any claim: {statement[:80]}")
            elif table in THREAD_STATES:
                before = txn.at_first_thread if txn.at_first_thread is not None else txn.claimed
                if table not in before:
                    self.violations.append(f"{table}: no claim before the thread id: {statement[:80]}")
            elif table not in txn.claimed:
                self.violations.append(f"{table}: inserted without its claim: {statement[:80]}")


# --- the data every list needs -----------------------------------------------------------


@dataclass
class Crowd:
    """Requesters, each with a project and a pool, and Tolokers who worked in every pool."""

    requesters: list[RequesterInfo]
    projects: list[str]
    pools: list[str]
    tolokers: list[str]

    def rid(self, w: int = 0) -> int:
        return int(self.requesters[w].id)


def make_crowd(admin: Admin, db: Database, requesters: int = 1, tolokers: int = CROWD) -> Crowd:
    people = [admin.create_requester(balance="1000.00") for _ in range(requesters)]
    ids = admin.create_tolokers([{"languages": ["EN"], "country": "GB"} for _ in range(tolokers)])
    projects, pool_ids = [], []
    for person in people:
        project, pool = create_project_and_pool(db, person.id)
        projects.append(project)
        pool_ids.append(pool)
        admin.add_assignments([{"user_id": u, "pool_id": pool, "status": "ACCEPTED"} for u in ids])
    return Crowd(people, projects, pool_ids, ids)


def client(server_url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=server_url, headers={"Authorization": f"OAuth {token}"}, timeout=30)


def run_list(server_url: str, token: str, path: str, db: Database, write: Write, table: str | None) -> Outcome:
    """The race on one list; every insert it makes into a listed table (`table` among them) held
    its claim (bonuses: None, their COPY is not a statement the guard sees)."""
    with InsertGuard(db) as guard, client(server_url, token) as http:
        outcome = follow_while_writing(db, Follower(http, path), write)
    # Shown with `pytest -s`: the figures docs/architecture.md quotes.
    print(f"{path}: {len(outcome.committed)} rows committed, {len(outcome.missed)} skipped, {ROUNDS} rounds")
    assert guard.violations == []  # first: a missing claim names itself
    assert_never_skips(outcome)
    assert table is None or guard.checked[table] > 0, guard.checked
    return outcome


def compose(session: Session, settings: Settings, requester_id: int, n: int, recipients: list[str] | None) -> str:
    """A DIRECT send to `recipients`, or an ALL send when None: the thread's id."""
    form = ComposeForm(
        recipients_select_type=SelectType.DIRECT if recipients is not None else SelectType.ALL,
        recipients_ids=recipients,
        topic={"EN": f"Topic {n}"},
        text={"EN": f"Message number {n}"},  # distinct: an identical send within 60 s is a retry
        answerable=True,
    )
    # Dozens of ALL sends to the same Tolokers in a minute: the bulk cap (3 a week) would leave
    # everyone out after the third; this test is about paging, not the cap.
    uncapped = settings.model_copy(update={"bulk_messages_per_toloker_week": 1_000_000})
    return str(messaging.do_compose(session, uncapped, requester_id, form)["id"])


def pay(session: Session, settings: Settings, requester_id: int, user_id: str, n: int) -> str:
    body = {
        "user_id": user_id,
        "amount": "0.01",
        "public_title": {"EN": f"Bonus {n}"},
        "public_message": {"EN": "Thanks"},
    }
    created = rewards.do_create_bonuses(session, settings, requester_id, body, rewards.BonusRequest())
    assert isinstance(created, rewards.BonusesCreated)
    assert not created.errors, created.errors
    return str(created.items[0]["id"])


def bonus_thread(session: Session, bonus_id: str) -> str:
    found = select(MessageThread.id).where(MessageThread.bonus_id == int(bonus_id))
    return format_id(session.execute(found).scalar_one())


# --- one test per list --------------------------------------------------------------------


def test_skills(server_url: str, admin: Admin, db: Database) -> None:
    crowd = make_crowd(admin, db, tolokers=1)

    def write(session: Session, w: int, n: int) -> list[str]:
        made = skills.do_create_skill(session, crowd.rid(), SkillCreate(name=f"skill {w}-{n}"))
        return [format_id(made.id)]

    run_list(server_url, crowd.requesters[0].token, "/api/v1/skills", db, write, "skills")


def test_user_skills(server_url: str, admin: Admin, db: Database) -> None:
    crowd = make_crowd(admin, db)
    with db.transaction() as session:
        skill = format_id(skills.do_create_skill(session, crowd.rid(), SkillCreate(name="skill")).id)

    def write(session: Session, w: int, n: int) -> list[str]:
        body = UserSkillSet(skill_id=skill, user_id=crowd.tolokers[n * WRITERS + w], value=1)
        return [format_id(skills.do_set_user_skill(session, crowd.rid(), body).id)]

    run_list(server_url, crowd.requesters[0].token, "/api/v1/user-skills", db, write, "user_skills")


def test_user_restrictions(server_url: str, admin: Admin, db: Database) -> None:
    crowd = make_crowd(admin, db)

    def write(session: Session, w: int, n: int) -> list[str]:
        body = RestrictionSet(scope=RestrictionScope.ALL_PROJECTS, user_id=crowd.tolokers[n * WRITERS + w])
        row, created = restrictions.do_set_restriction(session, crowd.rid(), body)
        assert created
        return [format_id(row.id)]

    run_list(server_url, crowd.requesters[0].token, "/api/v1/user-restrictions", db, write, "user_restrictions")


def test_projects(server_url: str, admin: Admin, db: Database) -> None:
    crowd = make_crowd(admin, db, tolokers=1)

    def write(session: Session, w: int, n: int) -> list[str]:
        return [format_id(pools.do_create_project(session, crowd.rid(), {"public_name": f"P {w}-{n}"}).id)]

    run_list(server_url, crowd.requesters[0].token, "/api/v1/projects", db, write, "projects")


def test_pools(server_url: str, admin: Admin, db: Database) -> None:
    crowd = make_crowd(admin, db, tolokers=1)
    project = crowd.projects[0]

    def write(session: Session, w: int, n: int) -> list[str]:
        body = {"project_id": project, "private_name": f"pool {w}-{n}"}
        return [format_id(pools.do_create_pool(session, crowd.rid(), body).id)]

    run_list(server_url, crowd.requesters[0].token, "/api/v1/pools", db, write, "pools")


def test_assignments(server_url: str, admin: Admin, db: Database) -> None:
    crowd = make_crowd(admin, db, tolokers=2)
    pool = crowd.pools[0]

    def write(session: Session, w: int, n: int) -> list[str]:
        # The operator's import (the admin API's service): a batch of two rows per transaction.
        items = [AssignmentIn(user_id=u, pool_id=pool) for u in crowd.tolokers]
        return [format_id(int(row["id"])) for row in imports.do_import_assignments(session, items)]

    outcome = run_list(server_url, crowd.requesters[0].token, "/api/v1/assignments", db, write, "assignments")
    assert len(outcome.seen) == 2 + 2 * ROUNDS * WRITERS * PER_WRITER  # the crowd's own two, then the batches


def test_requester_bonuses(server_url: str, admin: Admin, db: Database, settings: Settings) -> None:
    crowd = make_crowd(admin, db, tolokers=WRITERS)

    def write(session: Session, w: int, n: int) -> list[str]:
        return [pay(session, settings, crowd.rid(), crowd.tolokers[w], n)]

    run_list(server_url, crowd.requesters[0].token, "/api/v1/user-bonuses", db, write, None)


def test_toloker_bonuses(server_url: str, admin: Admin, db: Database, settings: Settings) -> None:
    crowd = make_crowd(admin, db, requesters=WRITERS, tolokers=1)
    toloker = crowd.tolokers[0]

    def write(session: Session, w: int, n: int) -> list[str]:
        return [pay(session, settings, crowd.rid(w), toloker, n)]

    run_list(server_url, admin.toloker_token(toloker), "/api/toloker/v1/bonuses", db, write, None)


def test_requester_message_threads(server_url: str, admin: Admin, db: Database, settings: Settings) -> None:
    """Writers: every way a thread reaches a requester's list. Their own sends (ALL, DIRECT);
    Tolokers' first replies to earlier sends (each opens a conversation in the INBOX); and in
    turn a SYSTEM notification, the operator's platform message, a Toloker's appeal."""
    crowd = make_crowd(admin, db, tolokers=WRITERS)
    rid = crowd.rid()
    appellant = crowd.tolokers[3]
    rejected = [
        {"user_id": appellant, "pool_id": crowd.pools[0], "status": "REJECTED", "rejected": utcnow().isoformat()}
        for _ in range(ROUNDS * PER_WRITER)
    ]
    appealable = admin.add_assignments(rejected)
    with db.transaction() as session:
        earlier = [compose(session, settings, rid, -1 - n, None) for n in range(ROUNDS * PER_WRITER)]

    def write(session: Session, w: int, n: int) -> list[str]:
        if w == 0:
            return [compose(session, settings, rid, n, None)]
        if w == 1:
            return [compose(session, settings, rid, n, [crowd.tolokers[n % WRITERS]])]
        if w == 2:
            reply = toloker_service.do_toloker_reply(session, crowd.tolokers[w], earlier[n], {"EN": f"reply {n}"})
            return [str(reply["id"])]
        if n % 3 == 0:
            return [format_id(platform.do_system_thread(session, rid, {"EN": "Note"}, {"EN": f"note {n}"}))]
        if n % 3 == 1:
            form = PlatformMessageForm(topic={"EN": "News"}, text={"EN": f"news {n}"}, requester_ids=[format_id(rid)])
            return [str(platform.do_platform_message(session, form)["id"])]
        return [str(toloker_service.do_appeal(session, appellant, appealable[n], f"appeal {n}")["id"])]

    run_list(server_url, crowd.requesters[0].token, "/api/v1/message-threads", db, write, "requester_threads")


def test_toloker_message_threads(server_url: str, admin: Admin, db: Database, settings: Settings) -> None:
    """Several requesters write to one Toloker at once (DIRECT and ALL sends, bonuses with a
    message) while the Toloker's own first replies open conversation threads."""
    crowd = make_crowd(admin, db, requesters=WRITERS, tolokers=2)
    toloker = crowd.tolokers[0]
    with db.transaction() as session:
        sent = [
            compose(session, settings, crowd.rid(), -1 - n, [toloker]) for n in range(ROUNDS * PER_WRITER * WRITERS)
        ]

    def write(session: Session, w: int, n: int) -> list[str]:
        rid = crowd.rid(w)
        kind = (w + n) % 4
        if kind == 0:
            return [compose(session, settings, rid, n, [toloker])]
        if kind == 1:
            return [compose(session, settings, rid, n, None)]
        if kind == 2:
            return [bonus_thread(session, pay(session, settings, rid, toloker, n))]
        reply = toloker_service.do_toloker_reply(session, toloker, sent[n * WRITERS + w], {"EN": f"reply {n}"})
        return [str(reply["id"])]

    run_list(server_url, admin.toloker_token(toloker), "/api/toloker/v1/message-threads", db, write, "toloker_threads")


def test_operations(server_url: str, admin: Admin, db: Database) -> None:
    """Operation ids are the client's (toloka-kit sends a random UUID): no lock can make them
    appear in id order, so a follower may pass one created below its position, by design (as on
    Toloka). What holds, and is checked: a pass from the start sees every operation committed
    before the pass began."""
    crowd = make_crowd(admin, db, tolokers=1)
    committed: list[str] = []
    passes = 0

    class Passes(Follower):
        def read_on(self) -> None:
            nonlocal passes
            before = set(committed)
            self.seen = []
            super().read_on()
            missing = before - set(self.seen)
            assert not missing, f"pass {passes}: {len(missing)} operations committed before it were not seen"
            passes += 1

    def write(session: Session, w: int, n: int) -> list[str]:
        operation, _ = operations.do_claim(session, crowd.rid(), str(uuid.uuid4()), rewards.BONUS_OPERATION)
        return [operation.public_id]

    with client(server_url, crowd.requesters[0].token) as http:
        outcome = follow_while_writing(db, Passes(http, "/api/v1/operations"), write, committed)
    assert passes > 1
    assert sorted(outcome.seen) == sorted(outcome.committed)  # the last pass began after every commit


def test_webhook_subscriptions(server_url: str, admin: Admin, db: Database, settings: Settings) -> None:
    crowd = make_crowd(admin, db, tolokers=1)

    def write(session: Session, w: int, n: int) -> list[str]:
        body = [{"webhook_url": f"http://127.0.0.1:9/hook/{w}/{n}", "event_type": "POOL_CLOSED"}]
        made = webhooks.do_upsert_subscriptions(session, settings, crowd.rid(), body)
        return [format_id(made[0].id)]

    run_list(server_url, crowd.requesters[0].token, "/api/v1/webhook-subscriptions", db, write, "webhook_subscriptions")


def test_webhook_deliveries(server_url: str, admin: Admin, db: Database, settings: Settings) -> None:
    """The worker logs delivery attempts (`record_delivery`, `record_successes`) while the requester reads them."""
    crowd = make_crowd(admin, db, tolokers=1)
    body = [{"webhook_url": "http://127.0.0.1:9/hook", "event_type": "POOL_CLOSED"}]
    with db.transaction() as session:
        subscription = webhooks.do_upsert_subscriptions(session, settings, crowd.rid(), body)[0].id

    def write(session: Session, w: int, n: int) -> list[str]:
        marker = 1_000 * w + n  # finds this transaction's row (event_count is free-form to the log)
        attempt = {
            "subscription_id": subscription,
            "attempted_at": utcnow(),
            "status_code": 200,
            "latency_ms": 1,
            "error": None,
            "event_count": marker,
        }
        if w % 2:
            webhook_repository.record_successes(session, [attempt])
        else:
            webhook_repository.record_delivery(session, attempt, ok=True, pause_after=100)
        row = select(WebhookDelivery.id).where(WebhookDelivery.event_count == marker)
        return [format_id(session.execute(row).scalar_one())]

    path = f"/api/v1/webhook-subscriptions/{format_id(subscription)}/deliveries"
    run_list(server_url, crowd.requesters[0].token, path, db, write, "webhook_deliveries")
