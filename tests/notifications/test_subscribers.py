"""Domain events become SYSTEM threads (requesters) or bonus threads (Tolokers), same transaction."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from crowdpost.db import Database
from crowdpost.events import BalanceChanged, BonusesPaid, OperationFinished, PoolStatusChanged, publish
from crowdpost.kit.ids import format_id
from crowdpost.kit.timefmt import utcnow
from crowdpost.models import Bonus, MessageThread
from tests.fixtures.factories import Admin, RequesterInfo
from tests.messaging.helpers import crew, toloker_client

THREADS = "/api/v1/message-threads"


def _notifications(client: httpx.Client) -> list[dict[str, Any]]:
    response = client.get(THREADS, params={"folder": "AUTOMATIC_NOTIFICATION", "sort": "id"})
    assert response.status_code == 200
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_pool_closed_and_operation_finished(
    requester_http: httpx.Client, db: Database, requester: RequesterInfo
) -> None:
    rid = int(requester.id)
    with db.transaction() as session:
        publish(session, PoolStatusChanged(rid, 7, 3, "OPEN", "CLOSED", "MANUAL"))
        publish(session, PoolStatusChanged(rid, 8, 3, "CLOSED", "OPEN"))
        publish(
            session,
            OperationFinished(
                rid, "op-1", "USER_BONUS.BATCH_CREATE", "SUCCESS", {"total_count": 3, "success_count": 2}
            ),
        )

    pool, operation = _notifications(requester_http)

    assert pool["topic"] == {"EN": f"Pool {format_id(7)} closed"}
    assert pool["meta"] == {"pool_id": format_id(7), "project_id": format_id(3)}
    assert set(pool["folders"]) == {"AUTOMATIC_NOTIFICATION", "UNREAD"}
    assert pool["messages"][0]["from"]["role"] == "SYSTEM"
    assert pool["answerable"] is False
    text = operation["messages"][0]["text"]["EN"]
    assert "total_count: 3" in text
    assert "success_count: 2" in text
    assert "SUCCESS" in text


def test_low_balance_only_on_the_crossing(requester_http: httpx.Client, db: Database, requester: RequesterInfo) -> None:
    rid = int(requester.id)
    with db.transaction() as session:
        publish(session, BalanceChanged(rid, 10_000_000, 6_000_000))  # 10 -> 6: above $5
        publish(session, BalanceChanged(rid, 6_000_000, 4_500_000))  # crosses
        publish(session, BalanceChanged(rid, 4_500_000, 1_000_000))  # already below

    (notice,) = _notifications(requester_http)
    assert notice["topic"] == {"EN": "Your balance is below $5.00"}
    assert "$4.50" in notice["messages"][0]["text"]["EN"]


def test_a_rolled_back_cause_leaves_no_notification(
    requester_http: httpx.Client, db: Database, requester: RequesterInfo
) -> None:
    def close_then_fail() -> None:
        with db.transaction() as session:
            publish(session, PoolStatusChanged(int(requester.id), 7, 3, "OPEN", "CLOSED"))
            raise RuntimeError("the cause failed")

    with pytest.raises(RuntimeError):
        close_then_fail()

    assert _notifications(requester_http) == []


def test_paid_bonuses_with_messages_reach_tolokers_in_their_language(
    server_url: str, admin: Admin, db: Database, requester: RequesterInfo
) -> None:
    _, _, (german, english) = crew(db, admin, requester.id, [{"languages": ["DE"]}, {"languages": ["EN"]}])
    rid = int(requester.id)
    now = utcnow()
    with db.transaction() as session:
        rows = [
            Bonus(requester_id=rid, user_id=german, amount_micros=1_000, public_title={"DE": "Prämie"},
                  public_message={"EN": "Thanks", "DE": "Danke <script>x</script>"}, without_message=False,
                  created=now),
            Bonus(requester_id=rid, user_id=english, amount_micros=2_000, public_title={"EN": "Bonus"},
                  public_message={"EN": "Great work"}, without_message=False, created=now),
            Bonus(requester_id=rid, user_id=english, amount_micros=3_000, public_title=None, public_message=None,
                  without_message=True, created=now),
        ]  # fmt: skip
        session.add_all(rows)
        session.flush()
        publish(session, BonusesPaid(rid, tuple(b.id for b in rows)))
        made = session.execute(select(MessageThread.id).where(MessageThread.kind == "BONUS")).scalars().all()

    with toloker_client(server_url, admin, german) as de, toloker_client(server_url, admin, english) as en:
        (de_thread,) = de.get("/message-threads").json()["items"]
        en_threads = en.get("/message-threads").json()["items"]
        refused = de.post(f"/message-threads/{de_thread['id']}/reply", json={"text": {"EN": "x"}})

    assert len(made) == 2
    assert de_thread["topic"] == {"DE": "Prämie"}
    assert de_thread["messages"][0]["text"] == {"DE": "Danke "}
    assert de_thread["messages"][0]["from"] == {"id": requester.id, "role": "REQUESTER"}
    assert set(de_thread["folders"]) == {"INBOX", "AUTOMATIC_NOTIFICATION", "UNREAD"}
    assert [t["messages"][0]["text"] for t in en_threads] == [{"EN": "Great work"}]
    assert refused.status_code == 409
