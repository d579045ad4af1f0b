"""The operator's requester tools: create, deposit, tokens; money exact and ledgered."""

from __future__ import annotations

from decimal import Decimal

import httpx
import simplejson
from sqlalchemy import select

from crowdpost.db import Database
from crowdpost.models import LedgerEntry
from tests.fixtures.factories import ADMIN_TOKEN, Admin

ADMIN = {"Authorization": f"OAuth {ADMIN_TOKEN}", "Content-Type": "application/json"}


def _post(http: httpx.Client, path: str, body: object) -> httpx.Response:
    return http.post(f"/api/admin/v1{path}", content=simplejson.dumps(body, use_decimal=True), headers=ADMIN)


def test_create_requester_returns_token_once(http: httpx.Client) -> None:
    response = _post(
        http,
        "/requesters",
        {"public_name": "Acme", "company": "Acme Ltd", "email": "ops@acme.test", "balance": Decimal("10.005")},
    )
    assert response.status_code == 201
    body = simplejson.loads(response.text, use_decimal=True)
    assert body["balance"] == Decimal("10.005")
    assert body["token"]
    assert body["public_name"] == {"EN": "Acme"}
    again = http.get(f"/api/admin/v1/requesters/{body['id']}", headers=ADMIN)
    assert "token" not in again.json()


def test_deposits_are_exact_and_ledgered(http: httpx.Client, admin: Admin, db: Database) -> None:
    info = admin.create_requester(balance=None)
    for amount in ("0.1", "0.2", "0.000001"):
        assert _post(http, f"/requesters/{info.id}/deposits", {"amount": Decimal(amount)}).status_code == 201
    response = http.get("/api/v1/requester", headers={"Authorization": f"OAuth {info.token}"})
    assert simplejson.loads(response.text, use_decimal=True)["balance"] == Decimal("0.300001")
    with db.transaction(write=False) as session:
        rows = session.execute(
            select(LedgerEntry.kind, LedgerEntry.amount_micros, LedgerEntry.balance_after_micros).order_by(
                LedgerEntry.id
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("DEPOSIT", 100_000, 100_000),
        ("DEPOSIT", 200_000, 300_000),
        ("DEPOSIT", 1, 300_001),
    ]


def test_bad_deposits_change_nothing(http: httpx.Client, admin: Admin) -> None:
    info = admin.create_requester(balance="5")
    for amount in (Decimal("-1"), Decimal("0"), Decimal("0.0000001"), "ten", None):
        response = _post(http, f"/requesters/{info.id}/deposits", {"amount": amount})
        assert response.status_code == 400, amount
        assert response.json()["code"] == "VALIDATION_ERROR"
        assert "amount" in response.json()["payload"]
    balance = http.get("/api/v1/requester", headers={"Authorization": f"OAuth {info.token}"}).json()["balance"]
    assert balance == 5


def test_deposit_to_unknown_requester_is_404(http: httpx.Client) -> None:
    response = _post(http, "/requesters/000000009999/deposits", {"amount": 1})
    assert response.status_code == 404
    assert response.json()["code"] == "DOES_NOT_EXIST"


def test_blank_public_name_is_refused(http: httpx.Client) -> None:
    response = _post(http, "/requesters", {"public_name": "   "})
    assert response.status_code == 400
    assert "public_name" in response.json()["payload"]


def test_extra_requester_tokens_work(http: httpx.Client, admin: Admin) -> None:
    info = admin.create_requester()
    response = _post(http, f"/requesters/{info.id}/tokens", {})
    assert response.status_code == 201
    token = response.json()["token"]
    assert token != info.token
    assert http.get("/api/v1/requester", headers={"Authorization": f"OAuth {token}"}).json()["id"] == info.id
