"""Test data and HTTP helpers for rewards: Tolokers who worked for a requester, exact-decimal bodies."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import simplejson
from sqlalchemy import func, select

from crowdpost.db import Database
from crowdpost.kit.money import from_micros
from crowdpost.models import Bonus, LedgerEntry, Requester
from tests.fixtures.factories import Admin, RequesterInfo, create_project_and_pool

BONUSES = "/api/v1/user-bonuses"


@dataclass(frozen=True)
class Crew:
    """Tolokers who each started one task (assignment) in a pool of `requester`."""

    requester: RequesterInfo
    pool_id: str
    user_ids: list[str]
    assignment_ids: list[str]


def make_crew(db: Database, admin: Admin, requester: RequesterInfo, size: int = 3) -> Crew:
    _, pool_id = create_project_and_pool(db, requester.id)
    user_ids = admin.create_tolokers([{"languages": ["EN"], "country": "GB"} for _ in range(size)])
    assignment_ids = admin.add_assignments(
        [{"user_id": uid, "pool_id": pool_id, "status": "ACCEPTED"} for uid in user_ids]
    )
    return Crew(requester, pool_id, user_ids, assignment_ids)


def bonus(user_id: str, amount: str = "1.00", **fields: Any) -> dict[str, Any]:
    """A bonus item with a message in English; `fields` override or add keys."""
    item: dict[str, Any] = {
        "user_id": user_id,
        "amount": Decimal(amount),
        "public_title": {"EN": "Thank you"},
        "public_message": {"EN": "Great work on the tasks"},
    }
    item.update(fields)
    return item


def post_bonuses(client: httpx.Client, body: Any, **params: Any) -> httpx.Response:
    """POST /user-bonuses with numbers written exactly (httpx's json= would use floats)."""
    query = {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in params.items() if v is not None}
    return client.post(
        BONUSES,
        content=simplejson.dumps(body, use_decimal=True),
        headers={"Content-Type": "application/json"},
        params=query,
    )


def auth_client(server_url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=server_url, headers={"Authorization": f"OAuth {token}"}, timeout=60)


def balance_of(db: Database, requester_id: str) -> Decimal:
    with db.transaction(write=False) as session:
        return from_micros(
            session.execute(select(Requester.balance_micros).where(Requester.id == int(requester_id))).scalar_one()
        )


def paid_total(db: Database, requester_id: str) -> Decimal:
    with db.transaction(write=False) as session:
        total = session.execute(
            select(func.coalesce(func.sum(Bonus.amount_micros), 0)).where(Bonus.requester_id == int(requester_id))
        ).scalar_one()
        return from_micros(int(total))


def bonus_count(db: Database, requester_id: str | None = None) -> int:
    with db.transaction(write=False) as session:
        stmt = select(func.count()).select_from(Bonus)
        if requester_id is not None:
            stmt = stmt.where(Bonus.requester_id == int(requester_id))
        return int(session.execute(stmt).scalar_one())


def ledger_kinds(db: Database, requester_id: str) -> list[tuple[str, Decimal]]:
    with db.transaction(write=False) as session:
        rows = session.execute(
            select(LedgerEntry.kind, LedgerEntry.amount_micros)
            .where(LedgerEntry.requester_id == int(requester_id))
            .order_by(LedgerEntry.id)
        ).all()
        return [(kind, from_micros(amount)) for kind, amount in rows]


def item_errors(response: httpx.Response) -> dict[str, Any]:
    payload: dict[str, Any] = response.json()["payload"]
    return payload


def codes(errors: dict[str, Any]) -> dict[str, str]:
    return {field: error["code"] for field, error in errors.items()}


def ids_of(items: Sequence[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in items]


def get_operation(client: httpx.Client, operation_id: str) -> dict[str, Any]:
    """`GET /operations/{id}`, which must answer 200."""
    response = client.get(f"/api/v1/operations/{operation_id}")
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def get_operation_log(client: httpx.Client, operation_id: str) -> list[dict[str, Any]]:
    """`GET /operations/{id}/log`, which must answer 200."""
    response = client.get(f"/api/v1/operations/{operation_id}/log")
    assert response.status_code == 200, response.text
    result: list[dict[str, Any]] = response.json()
    return result
