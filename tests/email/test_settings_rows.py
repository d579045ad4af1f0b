"""NEW_MESSAGE / OPERATION_FINISHED e-mail rows written with their cause (crowdpost.email.subscribers)."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select, update

from crowdpost.db import Database
from crowdpost.events import OperationFinished, publish
from crowdpost.models import Message, OutboxItem, Requester
from tests.fixtures.factories import Admin, RequesterInfo
from tests.messaging.helpers import compose_body, crew, toloker_client

COMPOSE = "/api/v1/message-threads/compose"


def _rows(db: Database, kind: str = "NEW_MESSAGE") -> list[tuple[Any, ...]]:
    with db.transaction(write=False) as session:
        return [
            tuple(r)
            for r in session.execute(
                select(OutboxItem.channel, OutboxItem.requester_id, OutboxItem.user_id, OutboxItem.ref_id)
                .where(OutboxItem.kind == kind)
                .order_by(OutboxItem.id)
            )
        ]


def _set_requester(db: Database, requester_id: str, **values: Any) -> None:
    with db.transaction() as session:
        session.execute(update(Requester).where(Requester.id == int(requester_id)).values(**values))


def _last_message_id(db: Database) -> int:
    with db.transaction(write=False) as session:
        return int(session.execute(select(Message.id).order_by(Message.id.desc()).limit(1)).scalar_one())


def test_requester_gets_rows_for_replies_only_when_verified_and_on(
    db: Database, admin: Admin, server_url: str, requester: RequesterInfo, requester_http: httpx.Client
) -> None:
    _, _, (alice,) = crew(db, admin, requester.id, [{}])
    sent = requester_http.post(COMPOSE, json=compose_body(recipients_ids=[alice])).json()
    rid = int(requester.id)
    with toloker_client(server_url, admin, alice) as client:
        reply = f"/message-threads/{sent['id']}/reply"
        # No address: nothing. Unverified: nothing. Switch off: nothing.
        assert client.post(reply, json={"text": {"EN": "no address"}}).status_code in (200, 201)
        _set_requester(db, requester.id, email="req@example.org", email_verified=False, email_new_message=True)
        client.post(reply, json={"text": {"EN": "unverified"}})
        _set_requester(db, requester.id, email_verified=True, email_new_message=False)
        client.post(reply, json={"text": {"EN": "switched off"}})
        assert _rows(db) == []
        _set_requester(db, requester.id, email_new_message=True)
        client.post(reply, json={"text": {"EN": "now"}})
        assert _rows(db) == [("email", rid, None, _last_message_id(db))]
    # The requester's own reply writes no requester row (the Toloker has no address).
    threads = requester_http.get("/api/v1/message-threads").json()["items"]
    private = next(t for t in threads if t["id"] != sent["id"])
    requester_http.post(f"/api/v1/message-threads/{private['id']}/reply", json={"text": {"EN": "answer"}})
    assert len(_rows(db)) == 1


def test_send_to_tolokers_writes_one_row_per_recipient_with_email(
    db: Database, admin: Admin, requester: RequesterInfo, requester_http: httpx.Client
) -> None:
    profiles = [{"email": f"t{i}@example.org"} for i in range(5)] + [{}, {}]
    _, _, ids = crew(db, admin, requester.id, profiles)
    with toloker_client(requester_http.base_url.join("/").__str__().rstrip("/"), admin, ids[4]) as client:
        client.patch("/notification-settings", json={"events": {"NEW_MESSAGE": {"email": False}}})
    _set_requester(db, requester.id, email="req@example.org", email_verified=True, email_new_message=True)
    answer = requester_http.post(COMPOSE, json=compose_body("ALL"))
    assert answer.status_code == 201, answer.text
    message_id = _last_message_id(db)
    rows = _rows(db)
    # Tolokers 0-3 (4 switched off, 5-6 have no address); never the sending requester.
    assert sorted(r[2] for r in rows) == sorted(ids[:4])
    assert {(r[0], r[1], r[3]) for r in rows} == {("email", int(requester.id), message_id)}


def test_administrator_news_and_operation_finished_reach_requesters_with_the_switch_on(
    db: Database, admin: Admin
) -> None:
    # (one test: one database and server per backend for both)
    on, off = admin.create_requester(), admin.create_requester()
    _set_requester(db, on.id, email="on@example.org", email_verified=True, email_new_message=True)
    _set_requester(db, off.id, email="off@example.org", email_verified=True)
    news = admin.http.post(
        "/api/admin/v1/messages", json={"topic": {"EN": "News"}, "text": {"EN": "hello"}, "all_requesters": True}
    )
    assert news.status_code == 201
    assert _rows(db) == [("email", int(on.id), None, _last_message_id(db))]

    on, off = admin.create_requester(), admin.create_requester()
    _set_requester(db, on.id, email="on@example.org", email_verified=True, email_operation_finished=True)
    _set_requester(db, off.id, email="off@example.org", email_verified=True)
    with db.transaction() as session:
        for who in (on, off):
            publish(session, OperationFinished(int(who.id), "op-1", "USER_BONUS.BATCH_CREATE", "SUCCESS", {}))
    assert _rows(db, "OPERATION_FINISHED") == [("email", int(on.id), None, None)]
