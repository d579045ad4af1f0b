"""`POST /user-bonuses?async_mode=true`: the request stores the batch, a worker pays it in chunks."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from crowdpost.app import create_app
from crowdpost.config import Settings
from crowdpost.db import Database
from crowdpost.models import Job, Operation, RequesterToloker
from crowdpost.models.job import JobStatus
from crowdpost.rewards.runner import do_operation_step
from crowdpost.worker.loop import run_pending
from tests.fixtures.factories import Admin
from tests.fixtures.live_server import serve_in_thread
from tests.rewards.helpers import (
    Crew,
    auth_client,
    balance_of,
    bonus,
    bonus_count,
    get_operation,
    get_operation_log,
    ledger_kinds,
    make_crew,
    paid_total,
    post_bonuses,
)


def _tagged(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """As toloka-kit's default path sends them: `__item_idx` first."""
    return [{"__item_idx": str(i), **item} for i, item in enumerate(items)]


def test_async_batch_is_stored_then_paid_by_the_worker(client: httpx.Client, crew: Crew, db: Database) -> None:
    items = _tagged([bonus(uid, "0.005", private_comment=f"c{n}") for n in range(4) for uid in crew.user_ids])

    response = post_bonuses(client, items, async_mode=True, operation_id="op-1", skip_invalid_items=True)

    assert response.status_code == 202, response.text
    submitted = response.json()
    assert submitted["id"] == "op-1"
    assert submitted["type"] == "USER_BONUS.BATCH_CREATE"
    assert submitted["status"] == "PENDING"
    assert submitted["parameters"] == {"skip_invalid_items": True}
    assert submitted["details"]["total_count"] == 12
    assert bonus_count(db) == 0  # the request only stored the batch

    assert run_pending(db) >= 1

    done = get_operation(client, "op-1")
    assert done["status"] == "SUCCESS"
    assert done["progress"] == 100
    assert done["started"]
    assert done["finished"]
    assert done["details"] == {
        "total_count": 12,
        "valid_count": 12,
        "not_valid_count": 0,
        "success_count": 12,
        "failed_count": 0,
    }
    log = get_operation_log(client, "op-1")
    assert len(log) == 12
    assert [entry["input"]["__item_idx"] for entry in log] == [str(i) for i in range(12)]
    assert all(entry["success"] for entry in log)
    assert log[0]["input"]["amount"] == 0.005
    ids = [entry["output"]["user_bonus_id"] for entry in log]
    assert ids == sorted(ids)  # text order is creation order
    found = client.get("/api/v1/user-bonuses", params={"id_gte": min(ids), "id_lte": max(ids), "sort": "id"}).json()
    assert [b["id"] for b in found["items"]] == ids
    assert paid_total(db, crew.requester.id) == Decimal("0.060")


def test_chunks_each_pay_in_their_own_transaction(
    client: httpx.Client, crew: Crew, db: Database, settings: Settings
) -> None:
    small = settings.model_copy(update={"worker_chunk_size": 2})
    items = [bonus(uid, "1", private_comment=f"c{n}") for n in range(2) for uid in crew.user_ids]
    with serve_in_thread(create_app(small, db)) as url, auth_client(url, crew.requester.token) as small_client:
        post_bonuses(small_client, items, async_mode=True, operation_id="op-chunks")
    # All or nothing: the request reserved the whole batch (one BONUS row for 6 items).
    assert ledger_kinds(db, crew.requester.id) == [("DEPOSIT", Decimal(100)), ("BONUS", Decimal(-6))]
    assert balance_of(db, crew.requester.id) == Decimal(94)

    if db.engine.dialect.name == "postgresql":
        # Every item passed its checks when it was stored: no check pass, the worker pays at once.
        assert get_operation(client, "op-chunks")["progress"] == 25
    else:  # SQLite's one writer: the worker checks them, 6 items in chunks of 2
        assert run_pending(db, limit=3) == 3
        assert get_operation(client, "op-chunks")["progress"] == 25
    assert run_pending(db, limit=1) == 1  # the first of 3 pay steps
    middle = get_operation(client, "op-chunks")
    assert middle["status"] == "RUNNING"
    assert middle["details"]["success_count"] == 2
    assert bonus_count(db) == 2
    assert 25 < middle["progress"] < 100
    assert len(get_operation_log(client, "op-chunks")) == 2  # entries for the items handled so far

    run_pending(db)

    assert get_operation(client, "op-chunks")["status"] == "SUCCESS"
    # The chunks drew on the reservation: no more ledger rows, nothing to refund.
    assert ledger_kinds(db, crew.requester.id) == [("DEPOSIT", Decimal(100)), ("BONUS", Decimal(-6))]
    assert bonus_count(db) == 6


def test_invalid_items_without_skip_fail_the_operation_and_pay_nothing(
    client: httpx.Client, crew: Crew, db: Database
) -> None:
    items = _tagged([bonus(crew.user_ids[0], "1"), bonus(crew.user_ids[1], "0.0001"), bonus("nobody", "1")])

    post_bonuses(client, items, async_mode=True, operation_id="op-strict")
    run_pending(db)

    done = get_operation(client, "op-strict")
    assert done["status"] == "FAIL"
    assert done["details"]["valid_count"] == 1
    assert done["details"]["not_valid_count"] == 2
    assert done["details"]["success_count"] == 0
    assert done["details"]["failed_count"] == 1
    log = get_operation_log(client, "op-strict")
    assert [entry["success"] for entry in log] == [False, False, False]
    assert log[0]["output"]["item"]["code"] == "INVALID_ITEMS"
    assert log[1]["output"]["amount"]["code"] == "VALUE_LESS_THAN_MIN"
    assert log[2]["output"]["user_id"]["code"] == "ENTITY_DOES_NOT_EXIST"
    assert bonus_count(db) == 0


def test_an_invalid_batch_is_checked_through_in_chunks_and_pays_nothing(
    client: httpx.Client, crew: Crew, db: Database, settings: Settings
) -> None:
    """All or nothing with an invalid item: the check pass runs chunk by chunk to record
    which items fail, then the operation fails; nothing is paid and the reservation returns."""
    small = settings.model_copy(update={"worker_chunk_size": 2})
    items = [bonus(uid, "1", private_comment=f"c{n}") for n in range(2) for uid in crew.user_ids]
    items[5] = bonus(crew.user_ids[2], "0.0001")
    with serve_in_thread(create_app(small, db)) as url, auth_client(url, crew.requester.token) as small_client:
        post_bonuses(small_client, items, async_mode=True, operation_id="op-checked")

    assert run_pending(db) == 3  # three check steps, no pay step

    done = get_operation(client, "op-checked")
    assert done["status"] == "FAIL"
    assert (done["details"]["valid_count"], done["details"]["not_valid_count"]) == (5, 1)
    assert bonus_count(db) == 0
    assert balance_of(db, crew.requester.id) == Decimal(100)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # SQLite checks in the worker only
def test_a_batch_valid_when_stored_is_checked_again_as_it_is_paid(
    client: httpx.Client, crew: Crew, db: Database
) -> None:
    """Stored valid (so no check pass: PostgreSQL checks a batch when it is stored), then one
    Toloker no longer counts as having worked for the requester before the worker pays: that
    item is not paid, its share is refunded, and the all-or-nothing operation ends FAIL with
    the rest paid (what is paid stays paid)."""
    items = [bonus(uid, "1") for uid in crew.user_ids]
    post_bonuses(client, items, async_mode=True, operation_id="op-changed")
    with db.transaction() as session:
        gone = crew.user_ids[1]
        session.execute(update(RequesterToloker).where(RequesterToloker.user_id == gone).values(started_count=0))

    run_pending(db)

    done = get_operation(client, "op-changed")
    assert done["status"] == "FAIL"
    assert (done["details"]["success_count"], done["details"]["failed_count"]) == (2, 1)
    log = get_operation_log(client, "op-changed")
    assert [entry["success"] for entry in log] == [True, False, True]
    assert log[1]["output"]["user_id"]["code"] == "ENTITY_DOES_NOT_EXIST"
    assert paid_total(db, crew.requester.id) == Decimal(2)
    assert balance_of(db, crew.requester.id) == Decimal(98)


def test_skip_invalid_items_pays_the_valid_ones(client: httpx.Client, crew: Crew, db: Database) -> None:
    items = _tagged([bonus(crew.user_ids[0], "1"), bonus(crew.user_ids[1], "0.0001"), bonus(crew.user_ids[2], "2")])

    post_bonuses(client, items, async_mode=True, operation_id="op-lenient", skip_invalid_items=True)
    run_pending(db)

    done = get_operation(client, "op-lenient")
    assert done["status"] == "SUCCESS"
    assert done["details"] == {
        "total_count": 3,
        "valid_count": 2,
        "not_valid_count": 1,
        "success_count": 2,
        "failed_count": 0,
    }
    assert [entry["success"] for entry in get_operation_log(client, "op-lenient")] == [True, False, True]
    assert paid_total(db, crew.requester.id) == Decimal(3)


def test_balance_is_checked_before_paying_anything(admin: Admin, db: Database, server_url: str) -> None:
    requester = admin.create_requester(balance="2")
    crew = make_crew(db, admin, requester)
    items = [bonus(uid, "1") for uid in crew.user_ids]
    with auth_client(server_url, requester.token) as client:
        post_bonuses(client, items, async_mode=True, operation_id="op-poor")
        post_bonuses(client, items, async_mode=True, operation_id="op-poor-lenient", skip_invalid_items=True)
        run_pending(db)
        strict = get_operation(client, "op-poor")
        lenient = get_operation(client, "op-poor-lenient")
        lenient_log = get_operation_log(client, "op-poor-lenient")

    assert strict["status"] == "FAIL"
    assert strict["details"]["error"]["code"] == "NOT_ENOUGH_BALANCE"
    assert lenient["status"] == "SUCCESS"
    assert lenient["details"]["success_count"] == 2
    assert lenient["details"]["failed_count"] == 1
    assert lenient_log[2]["output"]["amount"]["code"] == "NOT_ENOUGH_BALANCE"
    assert balance_of(db, requester.id) == Decimal(0)


def test_repeated_operation_id_is_409_operation_already_exists(client: httpx.Client, crew: Crew, db: Database) -> None:
    items = [bonus(crew.user_ids[0], "1")]

    first = post_bonuses(client, items, async_mode=True, operation_id="op-dup")
    second = post_bonuses(client, items, async_mode=True, operation_id="op-dup")
    as_sync = post_bonuses(client, items, operation_id="op-dup")
    run_pending(db)

    assert first.status_code == 202
    assert second.status_code == as_sync.status_code == 409
    assert second.json()["code"] == as_sync.json()["code"] == "OPERATION_ALREADY_EXISTS"
    assert bonus_count(db) == 1


def test_a_leftover_step_job_does_nothing(client: httpx.Client, crew: Crew, db: Database) -> None:
    """A worker that dies after a step commits but before its job is marked done runs the
    step's job again: the (phase, cursor) check turns it into a no-op."""
    post_bonuses(client, [bonus(crew.user_ids[0], "1")], async_mode=True, operation_id="op-again")
    with db.transaction(write=False) as session:
        payload = dict(session.execute(select(Job.payload)).scalar_one())
    run_pending(db)
    assert bonus_count(db) == 1

    with db.transaction() as session:
        do_operation_step(session, payload)
    with db.transaction() as session:  # even with the operation forced back to running
        session.execute(update(Operation).values(status="RUNNING", phase="PAY", cursor=0))
    # The unique (operation, item) key refuses a second payment; the step rolls back whole.
    with pytest.raises(IntegrityError), db.transaction() as session:
        do_operation_step(session, {**payload, "phase": "PAY"})

    assert bonus_count(db) == 1
    assert paid_total(db, crew.requester.id) == Decimal(1)


def test_large_batch_is_accepted_in_one_request(client: httpx.Client, crew: Crew, db: Database) -> None:
    items = [bonus(crew.user_ids[n % 3], "0.001", private_comment=str(n)) for n in range(5000)]

    response = post_bonuses(client, items, async_mode=True, skip_invalid_items=True)

    assert response.status_code == 202
    operation_id = response.json()["id"]
    assert len(operation_id) == 36  # a UUID when the client sent none
    run_pending(db)
    assert get_operation(client, operation_id)["details"]["success_count"] == 5000
    with db.transaction(write=False) as session:
        assert (
            session.execute(select(func.count()).select_from(Job).where(Job.status != JobStatus.DONE)).scalar_one() == 0
        )
    assert paid_total(db, crew.requester.id) == Decimal(5)
