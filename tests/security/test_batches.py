"""Async bonus batches are all or nothing with `skip_invalid_items=false`, and a batch's fee
is the fee on its total whatever the worker's chunk size (issue 19).

The attack of the review: two batches sent at once on a balance that covers one ended
with one paid whole and the other paid in part. Now a batch's whole cost is reserved by
the request that stores it, or the operation fails there with nothing paid.
"""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from toloka.client import TolokaClient

from crowdpost.app import create_app
from crowdpost.config import Settings
from crowdpost.db import Database
from crowdpost.kit.money import from_micros, percent_of
from crowdpost.models import Job, LedgerEntry
from crowdpost.worker.loop import run_pending
from tests.fixtures.factories import Admin, RequesterInfo
from tests.fixtures.live_server import serve_in_thread
from tests.rewards.helpers import (
    Crew,
    auth_client,
    balance_of,
    bonus,
    bonus_count,
    get_operation,
    get_operation_log,
    make_crew,
    post_bonuses,
)

ITEMS = 6000
AMOUNT = "0.010"


def _batch(crew: Crew, count: int = ITEMS, amount: str = AMOUNT, tag: str = "") -> list[dict[str, Any]]:
    """`count` distinct bonuses, tagged with `__item_idx` as toloka-kit's default path sends them."""
    return [
        bonus(crew.user_ids[n % len(crew.user_ids)], amount, private_comment=f"{tag}{n}", __item_idx=str(n))
        for n in range(count)
    ]


def _open_jobs(db: Database) -> int:
    with db.transaction(write=False) as session:
        return int(session.execute(select(func.count()).select_from(Job).where(Job.status != "DONE")).scalar_one())


def _fees(db: Database, requester_id: str) -> Decimal:
    with db.transaction(write=False) as session:
        total = session.execute(
            select(func.coalesce(func.sum(LedgerEntry.amount_micros), 0)).where(
                LedgerEntry.requester_id == int(requester_id), LedgerEntry.kind == "FEE"
            )
        ).scalar_one()
    return -from_micros(int(total))


def test_batch_the_balance_does_not_cover_pays_nothing(
    db: Database, admin: Admin, server_url: str, requester: RequesterInfo
) -> None:
    """A 6,000 x $0.010 batch with skip_invalid_items=false on a $55 balance (5,500 items):
    the operation ends FAIL with NOT_ENOUGH_BALANCE in its details, no bonus is paid, the
    balance is unchanged, every item's log entry names the reason, and toloka-kit parses
    the failed operation."""
    poor = admin.create_requester(balance="55")
    crew = make_crew(db, admin, poor)
    with auth_client(server_url, poor.token) as client:
        response = post_bonuses(client, _batch(crew), async_mode=True, operation_id="op-too-big")
        run_pending(db)
        done = get_operation(client, "op-too-big")
        log = get_operation_log(client, "op-too-big")

    assert response.status_code == 202, response.text
    assert response.json()["status"] == "FAIL"  # refused when stored: nothing was queued
    assert done["status"] == "FAIL"
    assert done["details"]["error"]["code"] == "NOT_ENOUGH_BALANCE"
    assert done["details"]["success_count"] == 0
    assert done["details"]["failed_count"] == ITEMS
    assert bonus_count(db, poor.id) == 0
    assert balance_of(db, poor.id) == Decimal(55)
    assert _open_jobs(db) == 0
    assert len(log) == ITEMS
    assert not any(entry["success"] for entry in log)
    assert {entry["output"]["item"]["code"] for entry in log} == {"NOT_ENOUGH_BALANCE"}
    assert [entry["input"]["__item_idx"] for entry in log[:3]] == ["0", "1", "2"]
    parsed = TolokaClient(poor.token, url=server_url, retries=0).get_operation("op-too-big")
    assert parsed.status == parsed.Status.FAIL
    assert parsed.details is not None
    assert parsed.details.success_count == 0


def test_two_batches_sent_at_once_on_a_balance_for_one(db: Database, admin: Admin, server_url: str) -> None:
    """Two 6,000 x $0.010 batches (skip_invalid_items=false) sent at the same moment on a
    $60 balance: one is paid whole, the other pays nothing -- never one and a part."""
    payer = admin.create_requester(balance="60")
    crew = make_crew(db, admin, payer)
    bodies = {"op-a": _batch(crew, tag="a"), "op-b": _batch(crew, tag="b")}
    answers: dict[str, httpx.Response] = {}
    start = threading.Barrier(2)

    def send(operation_id: str) -> None:
        with auth_client(server_url, payer.token) as client:
            start.wait()
            answers[operation_id] = post_bonuses(
                client, bodies[operation_id], async_mode=True, operation_id=operation_id
            )

    threads = [threading.Thread(target=send, args=(op,)) for op in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    run_pending(db)
    with auth_client(server_url, payer.token) as client:
        done = {op: get_operation(client, op) for op in bodies}

    assert {op: r.status_code for op, r in answers.items()} == {"op-a": 202, "op-b": 202}
    assert sorted(op["status"] for op in done.values()) == ["FAIL", "SUCCESS"]
    winner = next(op for op in done.values() if op["status"] == "SUCCESS")
    loser = next(op for op in done.values() if op["status"] == "FAIL")
    assert winner["details"]["success_count"] == ITEMS
    assert loser["details"]["success_count"] == 0
    assert loser["details"]["error"]["code"] == "NOT_ENOUGH_BALANCE"
    assert bonus_count(db, payer.id) == ITEMS
    assert balance_of(db, payer.id) == Decimal(0)


def test_skip_invalid_items_reports_the_items_that_do_not_fit_by_index(
    db: Database, admin: Admin, server_url: str
) -> None:
    """The same 6,000-item batch on $55 with skip_invalid_items=true: the first 5,500 are
    paid, each of the other 500 is reported by its index with NOT_ENOUGH_BALANCE."""
    poor = admin.create_requester(balance="55")
    crew = make_crew(db, admin, poor)
    with auth_client(server_url, poor.token) as client:
        post_bonuses(client, _batch(crew), async_mode=True, operation_id="op-lenient", skip_invalid_items=True)
        run_pending(db)
        done = get_operation(client, "op-lenient")
        log = get_operation_log(client, "op-lenient")

    assert done["status"] == "SUCCESS"
    assert done["details"]["success_count"] == 5500
    assert done["details"]["failed_count"] == 500
    assert len(log) == ITEMS
    refused = [entry for entry in log if not entry["success"]]
    assert [entry["input"]["__item_idx"] for entry in refused] == [str(n) for n in range(5500, ITEMS)]
    assert {entry["output"]["amount"]["code"] for entry in refused} == {"NOT_ENOUGH_BALANCE"}
    assert {entry["type"] for entry in refused} == {"USER_BONUS_PERSIST"}
    assert bonus_count(db, poor.id) == 5500
    assert balance_of(db, poor.id) == Decimal(0)


@pytest.mark.parametrize("skip_invalid_items", [False, True])
def test_fee_is_the_fee_on_the_total_whatever_the_chunk_size(
    db: Database, admin: Admin, settings: Settings, skip_invalid_items: bool
) -> None:
    """23 bonuses of $0.001 at a 3.33% fee: per item the fee would round up to 34 micros
    (782 in all), per chunk of 7 to 769; the fee on the total is 766 micros. Paid with a
    chunk size of 7 and of 5,000, the batch's fee rows add up to exactly 766 both times."""
    fee_percent = Decimal("3.33")
    count = 23
    expected = from_micros(percent_of(count * 1000, fee_percent))
    assert expected == Decimal("0.000766")
    fees = {}
    for chunk_size in (7, 5000):
        tuned = settings.model_copy(update={"worker_chunk_size": chunk_size, "bonus_fee_percent": fee_percent})
        with serve_in_thread(create_app(tuned, db)) as url:
            tuned_admin = Admin(url)
            payer = tuned_admin.create_requester(balance="1")
            crew = make_crew(db, tuned_admin, payer)
            tuned_admin.close()
            with auth_client(url, payer.token) as client:
                response = post_bonuses(
                    client,
                    _batch(crew, count, "0.001"),
                    async_mode=True,
                    operation_id=f"op-fee-{chunk_size}",
                    skip_invalid_items=skip_invalid_items,
                )
                assert response.status_code == 202, response.text
                run_pending(db)
                assert get_operation(client, f"op-fee-{chunk_size}")["status"] == "SUCCESS"
        fees[chunk_size] = _fees(db, payer.id)
        assert balance_of(db, payer.id) == Decimal(1) - Decimal("0.023") - fees[chunk_size]

    assert fees == {7: expected, 5000: expected}
