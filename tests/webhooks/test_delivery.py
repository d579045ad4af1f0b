"""Webhook events from their causes to a real HTTP receiver on 127.0.0.1, through the outbox
(`deliver_pending` drives it); every Toloka-Signature checked with the documented algorithm.
Both backends."""

from __future__ import annotations

import json
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crowdpost.config import Settings
from crowdpost.db import Database
from crowdpost.events import OperationFinished, publish
from crowdpost.kit.timefmt import utcnow
from crowdpost.models import OutboxItem, WebhookDelivery, WebhookSubscription
from crowdpost.outbox.delivery import deliver_pending
from crowdpost.webhooks import channel, signing
from tests.fixtures.factories import Admin, RequesterInfo, create_project_and_pool
from tests.fixtures.live_server import free_port
from tests.messaging.helpers import compose_body, toloker_client
from tests.webhooks.receiver import Receiver, receiving

SECRET = "s3cret-key"


def _subscribe(http: httpx.Client, url: str, *events: str, pool_id: str | None = None) -> list[str]:
    items = [
        {"webhook_url": url, "event_type": e, "secret_key": SECRET, **({"pool_id": pool_id} if pool_id else {})}
        for e in events
    ]
    response = http.put("/api/v1/webhook-subscriptions", json=items)
    assert response.status_code == 200, response.text
    return [response.json()["items"][str(i)]["id"] for i in range(len(items))]


def _make_due(db: Database) -> None:
    """Rows waiting out their backoff become due now (instead of sleeping)."""
    with db.transaction() as session:
        session.execute(update(OutboxItem).where(OutboxItem.status == "PENDING").values(next_attempt_at=utcnow()))


def _webhook_rows(session: Session) -> int:
    return len(session.execute(select(OutboxItem.id).where(OutboxItem.channel == "webhook")).all())


def _events(receiver: Receiver) -> list[dict[str, Any]]:
    """Every event received, each POST's signature checked as the guide's example does."""
    out: list[dict[str, Any]] = []
    for post in receiver.received:
        assert signing.is_valid(SECRET, post.body, post.headers["toloka-signature"]), post.headers
        assert post.headers["content-type"] == "application/json"
        out.extend(json.loads(post.body)["events"])
    return out


def test_each_cause_produces_its_event_in_order_despite_a_receiver_outage(
    server_url: str,
    db: Database,
    settings: Settings,
    admin: Admin,
    requester: RequesterInfo,
    requester_http: httpx.Client,
) -> None:
    receiver = Receiver(free_port())
    project_id, pool_id = create_project_and_pool(db, requester.id)
    user_id = admin.create_toloker()
    (assignment_id,) = admin.add_assignments([{"user_id": user_id, "pool_id": pool_id, "status": "SUBMITTED"}])
    sub_ids = _subscribe(
        requester_http,
        receiver.url,
        "ASSIGNMENT_APPROVED",
        "POOL_CLOSED",
        "MESSAGE_RECEIVED",
        "OPERATION_FINISHED",
        pool_id=None,
    )
    other_pool = _subscribe(
        requester_http, receiver.url, "POOL_CLOSED", pool_id=create_project_and_pool(db, requester.id)[1]
    )

    # The causes, each through its own path.
    assert requester_http.patch(f"/api/v1/assignments/{assignment_id}", json={"status": "ACCEPTED"}).status_code == 200
    assert requester_http.post(f"/api/v1/pools/{pool_id}/close").status_code in (202, 204)
    sent = requester_http.post("/api/v1/message-threads/compose", json=compose_body(recipients_ids=[user_id]))
    assert sent.status_code == 201, sent.text
    with toloker_client(server_url, admin, user_id) as toloker:
        reply = toloker.post(f"/message-threads/{sent.json()['id']}/reply", json={"text": {"EN": "Done?"}})
        assert reply.status_code == 201, reply.text
    with db.transaction() as session:
        publish(session, OperationFinished(int(requester.id), "op-1", "USER_BONUS.BATCH_CREATE", "SUCCESS", {}))

    # Receiver down: every attempt is refused, logged, and retried later; nothing is lost.
    assert deliver_pending(db, settings) > 0
    with db.transaction(write=False) as session:
        assert set(session.execute(select(OutboxItem.status).where(OutboxItem.channel == "webhook")).scalars()) == {
            "PENDING"
        }
        failed = session.execute(select(WebhookDelivery)).scalars().all()
        assert failed
        assert all(d.status_code is None and d.error for d in failed)

    with receiving(receiver):
        _make_due(db)
        deliver_pending(db, settings)

    events = _events(receiver)
    by_type = {e["type"]: e for e in events}
    assert [e["type"] for e in events] == [
        "ASSIGNMENT_APPROVED",
        "POOL_CLOSED",
        "MESSAGE_RECEIVED",
        "OPERATION_FINISHED",
    ]
    assert by_type["ASSIGNMENT_APPROVED"]["assignment_id"] == assignment_id
    assert by_type["ASSIGNMENT_APPROVED"]["pool_id"] == pool_id
    assert by_type["ASSIGNMENT_APPROVED"]["webhook_subscription_id"] == sub_ids[0]
    assert by_type["POOL_CLOSED"]["pool_id"] == pool_id
    assert by_type["POOL_CLOSED"]["project_id"] == project_id
    assert by_type["MESSAGE_RECEIVED"]["from_id"] == user_id
    assert by_type["MESSAGE_RECEIVED"]["message_thread_id"] == reply.json()["id"]
    assert by_type["OPERATION_FINISHED"]["operation_id"] == "op-1"
    assert len({e["uuid"] for e in events}) == len(events)
    # The other pool's subscription got nothing.
    assert all(e["webhook_subscription_id"] != other_pool[0] for e in events)
    with db.transaction(write=False) as session:
        assert set(session.execute(select(OutboxItem.status).where(OutboxItem.channel == "webhook")).scalars()) == {
            "DONE"
        }

    deliveries = requester_http.get(f"/api/v1/webhook-subscriptions/{sub_ids[1]}/deliveries").json()["items"]
    assert [d.get("status_code") for d in deliveries] == [None, 200]
    assert deliveries[1]["event_count"] == 1


def test_events_of_one_subscription_go_in_one_post_in_order_and_4xx_is_final(
    db: Database, settings: Settings, requester: RequesterInfo, requester_http: httpx.Client
) -> None:
    receiver = Receiver(free_port())
    (sub_id,) = _subscribe(requester_http, receiver.url, "OPERATION_FINISHED")
    with db.transaction() as session:
        for n in range(5):
            publish(session, OperationFinished(int(requester.id), f"op-{n}", "X", "SUCCESS", {}))

    with receiving(receiver):
        receiver.statuses = [503, 400]
        deliver_pending(db, settings)  # 503: retry
        _make_due(db)
        deliver_pending(db, settings)  # 400: failed for good
        first = [json.loads(p.body)["events"] for p in receiver.received]

    assert len(first) == 2
    assert [e["operation_id"] for e in first[0]] == [f"op-{n}" for n in range(5)]
    # A retry is the same events with the same ids.
    assert [e["uuid"] for e in first[0]] == [e["uuid"] for e in first[1]]
    with db.transaction(write=False) as session:
        statuses = session.execute(select(OutboxItem.status).where(OutboxItem.channel == "webhook")).scalars().all()
        assert statuses == ["FAILED"] * 5
        sub = session.get(WebhookSubscription, int(sub_id))
        assert sub is not None
        assert sub.consecutive_failures == 2


def test_pause_after_100_failures_tells_the_requester(
    db: Database, settings: Settings, requester: RequesterInfo, requester_http: httpx.Client
) -> None:
    receiver = Receiver(free_port())
    (sub_id,) = _subscribe(requester_http, receiver.url, "OPERATION_FINISHED")
    with db.transaction() as session:
        session.execute(
            update(WebhookSubscription)
            .where(WebhookSubscription.id == int(sub_id))
            .values(consecutive_failures=channel.PAUSE_AFTER - 1)
        )
        publish(session, OperationFinished(int(requester.id), "op-1", "X", "SUCCESS", {}))

    deliver_pending(db, settings)  # refused: the 100th failure in a row

    with db.transaction(write=False) as session:
        sub = session.get(WebhookSubscription, int(sub_id))
        assert sub is not None
        assert sub.paused
    threads = requester_http.get("/api/v1/message-threads", params={"folder": "AUTOMATIC_NOTIFICATION"}).json()["items"]
    assert any("paused" in t["topic"]["EN"] for t in threads), threads
    # Paused: new events are not queued for it; subscribing again resumes it.
    with db.transaction() as session:
        before = _webhook_rows(session)
        publish(session, OperationFinished(int(requester.id), "op-2", "X", "SUCCESS", {}))
        assert _webhook_rows(session) == before
    _subscribe(requester_http, receiver.url, "OPERATION_FINISHED")
    with db.transaction(write=False) as session:
        sub = session.get(WebhookSubscription, int(sub_id))
        assert sub is not None
        assert not sub.paused
        assert sub.consecutive_failures == 0


def test_imported_assignments_arrive_as_the_events_of_their_status(
    db: Database, settings: Settings, admin: Admin, requester: RequesterInfo, requester_http: httpx.Client
) -> None:
    receiver = Receiver(free_port())
    _, pool_id = create_project_and_pool(db, requester.id)
    other = admin.create_requester()
    _, others_pool = create_project_and_pool(db, other.id)
    user_id = admin.create_toloker()
    _subscribe(requester_http, receiver.url, "ASSIGNMENT_CREATED", "ASSIGNMENT_SUBMITTED", pool_id=pool_id)

    created, submitted, accepted, theirs = admin.add_assignments(
        [
            {"user_id": user_id, "pool_id": pool_id, "status": "ACTIVE"},
            {"user_id": user_id, "pool_id": pool_id, "status": "SUBMITTED"},
            {"user_id": user_id, "pool_id": pool_id, "status": "ACCEPTED"},  # no subscription to APPROVED
            {"user_id": user_id, "pool_id": others_pool, "status": "SUBMITTED"},  # another requester's
        ]
    )
    with receiving(receiver):
        deliver_pending(db, settings)

    events = _events(receiver)
    assert [(e["type"], e["assignment_id"]) for e in events] == [
        ("ASSIGNMENT_CREATED", created),
        ("ASSIGNMENT_SUBMITTED", submitted),
    ]
    assert {accepted, theirs}.isdisjoint(e["assignment_id"] for e in events)
