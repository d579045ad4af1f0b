"""The daily quota, the events other domains react to, the ledger statement, and the Toloker's view."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session

from crowdpost import events
from crowdpost.app import create_app
from crowdpost.config import Settings
from crowdpost.db import Database
from crowdpost.worker.loop import run_pending
from tests.fixtures.factories import Admin, RequesterInfo
from tests.fixtures.live_server import serve_in_thread
from tests.rewards.helpers import Crew, auth_client, bonus, bonus_count, make_crew, post_bonuses


def test_daily_quota_is_429_without_retry_after(crew: Crew, db: Database, settings: Settings) -> None:
    limited = settings.model_copy(update={"bonus_requests_per_day": 3})
    with serve_in_thread(create_app(limited, db)) as url, auth_client(url, crew.requester.token) as client:
        invalid = post_bonuses(client, bonus(crew.user_ids[0], "0"))  # rolled back: does not count
        answers = [post_bonuses(client, bonus(uid, "1")) for uid in crew.user_ids]
        refused = post_bonuses(client, bonus(crew.user_ids[0], "2"), async_mode=True)

    assert invalid.status_code == 400
    assert [a.status_code for a in answers] == [201, 201, 201]
    assert refused.status_code == 429
    body = refused.json()
    assert body["code"] == "TOO_MANY_REQUESTS"
    assert "interval" not in (body.get("payload") or {})
    assert "retry-after" not in refused.headers
    assert bonus_count(db) == 3


@pytest.fixture
def seen() -> Iterator[list[Any]]:
    """Every rewards event published while the test runs."""
    received: list[Any] = []

    def record(_: Session, event: Any) -> None:
        received.append(event)

    kinds = (events.BonusesPaid, events.BalanceChanged, events.OperationFinished)
    for kind in kinds:
        events.subscribe(kind, record)
    yield received
    for kind in kinds:
        events.unsubscribe(kind, record)


def test_payments_publish_events_in_the_same_transaction(
    client: httpx.Client, crew: Crew, db: Database, seen: list[Any]
) -> None:
    paid = post_bonuses(client, [bonus(uid, "1") for uid in crew.user_ids], operation_id="sync-op").json()
    post_bonuses(client, [bonus(crew.user_ids[0], "0.5")], async_mode=True, operation_id="op-events")
    run_pending(db)

    kinds = [type(e).__name__ for e in seen]
    # A sync request's operation row only serves retries: no OperationFinished for it. The
    # async batch changes the balance when it is stored (its reservation), then pays.
    assert kinds == ["BonusesPaid", "BalanceChanged", "BalanceChanged", "BonusesPaid", "OperationFinished"]
    assert [f"{n:012d}" for n in seen[0].bonus_ids] == [paid["items"][str(i)]["id"] for i in range(3)]
    assert seen[1].old_balance_micros == 100_000_000
    assert seen[1].new_balance_micros == 97_000_000
    assert seen[2].new_balance_micros == 96_500_000
    assert seen[4].operation_id == "op-events"
    assert seen[4].status == "SUCCESS"
    assert seen[4].details["success_count"] == 1


def test_toloker_sees_their_bonuses_in_their_language(
    crew: Crew, db: Database, admin: Admin, server_url: str, client: httpx.Client
) -> None:
    polyglot = admin.create_toloker(languages=["TR", "FR"])
    english = admin.create_toloker(languages=["DE"])
    admin.add_assignments([{"user_id": u, "pool_id": crew.pool_id} for u in (polyglot, english)])
    texts = {"public_title": {"EN": "Thanks", "FR": "Merci"}, "public_message": {"RU": "Спасибо", "EN": "Well done"}}
    items = [
        bonus(polyglot, "1.5", private_comment="secret", **texts),
        bonus(english, "0.25", **texts),
        bonus(polyglot, "0.001", public_title=None, public_message=None, without_message=True),
    ]
    assert post_bonuses(client, items).status_code == 201
    other = admin.create_requester(balance="10", name="Other desk")
    make_crew(db, admin, other, size=1)  # someone else's bonuses stay out of view

    with auth_client(server_url, admin.toloker_token(polyglot)) as toloker:
        mine = toloker.get("/api/toloker/v1/bonuses").json()
        newest = toloker.get("/api/toloker/v1/bonuses", params={"sort": "-id", "limit": 1}).json()
        refused = toloker.get("/api/v1/user-bonuses")
    with auth_client(server_url, admin.toloker_token(english)) as toloker:
        theirs = toloker.get("/api/toloker/v1/bonuses").json()

    assert [b["amount"] for b in mine["items"]] == [1.5, 0.001]
    first = mine["items"][0]
    assert first["title"] == "Merci"  # their language first
    assert first["message"] == "Well done"  # then English
    assert "private_comment" not in first
    assert first["requester"]["id"] == crew.requester.id
    assert "title" not in mine["items"][1]
    assert newest["items"][0]["amount"] == 0.001
    assert newest["has_more"] is True
    assert theirs["items"][0]["title"] == "Thanks"
    assert refused.status_code == 403


def test_admin_ledger_prints_a_statement(
    crew: Crew, client: httpx.Client, settings: Settings, requester: RequesterInfo
) -> None:
    post_bonuses(client, [bonus(uid, "0.007") for uid in crew.user_ids])
    env = {**os.environ, "CROWDPOST_DATABASE_URL": settings.database_url, "CROWDPOST_LOG_JSON": "false"}

    statement = subprocess.run(
        [sys.executable, "-m", "crowdpost", "admin", "ledger", requester.id],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout

    assert "DEPOSIT" in statement
    assert "BONUS" in statement
    assert "-0.021" in statement
    assert str(Decimal("99.979")) in statement
