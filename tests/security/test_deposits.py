"""Admin deposits take an idempotency key: `POST /api/admin/v1/requesters/{id}/deposits?operation_id=<uuid>`.

Before, a deposit retried 4 times at once credited 4 times. Now a repeat with the same
operation_id, concurrent or not, credits once and answers exactly as the first did; the
same id with another amount is a 409. (The `db` fixture checks on teardown that every
balance equals the sum of its ledger rows.)
"""

from __future__ import annotations

import threading
import uuid
from decimal import Decimal

import httpx
from sqlalchemy import func, select

from crowdpost.db import Database
from crowdpost.kit.ids import parse_id
from crowdpost.models import LedgerEntry
from tests.fixtures.factories import Admin, RequesterInfo
from tests.rewards.helpers import bonus, make_crew, post_bonuses

CONCURRENCY = 8


def _deposit_url(requester_id: str, operation_id: str | None = None) -> str:
    url = f"/api/admin/v1/requesters/{requester_id}/deposits"
    return f"{url}?operation_id={operation_id}" if operation_id else url


def _balance(admin: Admin, requester_id: str) -> Decimal:
    return Decimal(admin.http.get(f"/api/admin/v1/requesters/{requester_id}").json()["balance"])


def _deposit_rows(db: Database, requester_id: str) -> int:
    with db.transaction(write=False) as session:
        return session.execute(
            select(func.count()).where(
                LedgerEntry.requester_id == parse_id(requester_id), LedgerEntry.kind == "DEPOSIT"
            )
        ).scalar_one()


def test_concurrent_deposits_with_one_operation_id_credit_once_and_answer_alike(
    server_url: str, admin: Admin, requester: RequesterInfo, db: Database
) -> None:
    """8 identical deposits with one operation_id sent at the same instant (a client retrying
    on timeouts): the balance grows by the amount once, one ledger row is written, and every
    caller gets the same 201 body."""
    operation_id = str(uuid.uuid4())
    url = _deposit_url(requester.id, operation_id)
    rows_before = _deposit_rows(db, requester.id)
    start = threading.Barrier(CONCURRENCY)
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def send() -> None:
        with httpx.Client(base_url=server_url, headers=admin.http.headers, timeout=60) as client:
            start.wait()
            answer = client.post(url, json={"amount": "25.50"})
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=send) for _ in range(CONCURRENCY)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert [a.status_code for a in answers] == [201] * CONCURRENCY, [a.text for a in answers]
    bodies = [a.json() for a in answers]
    assert all(body == bodies[0] for body in bodies)
    assert Decimal(bodies[0]["balance"]) == Decimal("125.50")
    assert _balance(admin, requester.id) == Decimal("125.50")
    assert _deposit_rows(db, requester.id) == rows_before + 1


def test_a_repeated_deposit_with_the_same_operation_id_credits_nothing_more(
    admin: Admin, requester: RequesterInfo, db: Database
) -> None:
    """A deposit, another deposit without a key, then the first one retried: the retry answers
    the first body (its balance as it was then), and credits nothing."""
    operation_id = str(uuid.uuid4())
    first = admin.http.post(_deposit_url(requester.id, operation_id), json={"amount": "10", "description": "wire 1"})
    admin.http.post(_deposit_url(requester.id), json={"amount": "1"})
    retry = admin.http.post(
        _deposit_url(requester.id, operation_id), json={"amount": "10.000", "description": "wire 1"}
    )

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert Decimal(first.json()["balance"]) == Decimal("110")
    assert _balance(admin, requester.id) == Decimal("111")


def test_a_deposit_with_another_amount_under_the_same_operation_id_is_409(
    admin: Admin, requester: RequesterInfo
) -> None:
    """The same operation_id for a different amount is a mistake, not a retry: 409
    OPERATION_ID_REUSED, nothing credited, and the first deposit still replays."""
    operation_id = str(uuid.uuid4())
    first = admin.http.post(_deposit_url(requester.id, operation_id), json={"amount": "10"})

    other = admin.http.post(_deposit_url(requester.id, operation_id), json={"amount": "20"})

    assert first.status_code == 201
    assert other.status_code == 409, other.text
    assert other.json()["code"] == "OPERATION_ID_REUSED"
    assert _balance(admin, requester.id) == Decimal("110")
    assert admin.http.post(_deposit_url(requester.id, operation_id), json={"amount": "10"}).json() == first.json()


def test_an_operation_id_belongs_to_its_requester(admin: Admin, requester: RequesterInfo) -> None:
    """One operation_id used for two requesters is two deposits: the key is per requester."""
    other = admin.create_requester(balance=None)
    operation_id = str(uuid.uuid4())

    here = admin.http.post(_deposit_url(requester.id, operation_id), json={"amount": "5"})
    there = admin.http.post(_deposit_url(other.id, operation_id), json={"amount": "5"})

    assert here.status_code == there.status_code == 201
    assert _balance(admin, requester.id) == Decimal("105")
    assert _balance(admin, other.id) == Decimal("5")


def test_an_operation_id_of_a_requesters_bonus_operation_is_409(
    admin: Admin, requester: RequesterInfo, requester_http: httpx.Client, db: Database
) -> None:
    """An operation_id the requester already used for a bonus batch cannot be a deposit too:
    409, nothing credited (the ids share the requester's operation namespace)."""
    operation_id = str(uuid.uuid4())
    crew = make_crew(db, admin, requester, size=1)
    paid = post_bonuses(requester_http, [bonus(crew.user_ids[0], "0.50")], operation_id=operation_id)
    assert paid.status_code == 201, paid.text
    balance = _balance(admin, requester.id)

    answer = admin.http.post(_deposit_url(requester.id, operation_id), json={"amount": "5"})

    assert answer.status_code == 409, answer.text
    assert answer.json()["code"] == "OPERATION_ID_REUSED"
    assert _balance(admin, requester.id) == balance


def test_deposits_without_an_operation_id_credit_every_time(admin: Admin, requester: RequesterInfo) -> None:
    """No key, no deduplication: behaviour as before (two identical deposits are two)."""
    answers = [admin.http.post(_deposit_url(requester.id), json={"amount": "1.25"}) for _ in range(2)]

    assert [a.status_code for a in answers] == [201, 201]
    assert answers[0].json()["ledger_entry_id"] != answers[1].json()["ledger_entry_id"]
    assert _balance(admin, requester.id) == Decimal("102.50")


def test_a_malformed_operation_id_is_400(admin: Admin, requester: RequesterInfo) -> None:
    """An operation_id that is not 1-64 URL-safe characters: 400, nothing credited."""
    for bad in ("a b", "x" * 65, "../x"):
        answer = admin.http.post(_deposit_url(requester.id), params={"operation_id": bad}, json={"amount": "1"})
        assert answer.status_code == 400, (bad, answer.text)
        assert answer.json()["code"] == "VALIDATION_ERROR"
    assert _balance(admin, requester.id) == Decimal("100")
