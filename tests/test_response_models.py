"""Responses match /openapi.json: real answers of every list and get endpoint that declares a
response model, with rows in them (schemathesis' generated requests mostly see empty pages),
checked against the schema the document gives for their status."""

from __future__ import annotations

import httpx
import schemathesis

from crowdpost.db import Database
from tests.fixtures.factories import ADMIN_TOKEN, Admin, RequesterInfo
from tests.messaging.helpers import compose_body, toloker_client
from tests.rewards.helpers import bonus, make_crew, post_bonuses


def test_list_and_get_answers_match_their_documented_schemas(
    server_url: str, requester_http: httpx.Client, admin: Admin, db: Database, requester: RequesterInfo
) -> None:
    worker = make_crew(db, admin, requester, size=1).user_ids[0]
    admin.deposit(requester.id, "100")
    paid = post_bonuses(requester_http, bonus(worker, "1.25"))
    assert paid.status_code == 201, paid.text
    bonus_id = paid.json()["id"]
    queued = post_bonuses(requester_http, [bonus(worker, "0.5")], async_mode=True, operation_id="op-1")
    assert queued.status_code == 202, queued.text
    sent = requester_http.post("/api/v1/message-threads/compose", json=compose_body(recipients_ids=[worker]))
    assert sent.status_code in (200, 201), sent.text
    thread_id = sent.json()["id"]

    schema = schemathesis.openapi.from_url(f"{server_url}/openapi.json")
    requester_gets = [
        ("/api/v1/requester", "/api/v1/requester"),
        ("/api/v1/user-bonuses", "/api/v1/user-bonuses"),
        ("/api/v1/user-bonuses/{bonus_id}", f"/api/v1/user-bonuses/{bonus_id}"),
        ("/api/v1/operations", "/api/v1/operations"),
        ("/api/v1/operations/{operation_id}", "/api/v1/operations/op-1"),
        ("/api/v1/message-threads", "/api/v1/message-threads"),
        ("/api/v1/message-threads/{thread_id}", f"/api/v1/message-threads/{thread_id}"),
        ("/api/v1/message-threads/counts", "/api/v1/message-threads/counts"),
    ]
    toloker_gets = [
        ("/api/toloker/v1/bonuses", "/bonuses"),
        ("/api/toloker/v1/message-threads", "/message-threads"),
        ("/api/toloker/v1/message-threads/{thread_id}", f"/message-threads/{thread_id}"),
        ("/api/toloker/v1/message-threads/counts", "/message-threads/counts"),
    ]
    admin_http = httpx.Client(base_url=server_url, headers={"Authorization": f"OAuth {ADMIN_TOKEN}"}, timeout=30)
    with toloker_client(server_url, admin, worker) as toloker, admin_http:
        answers = [(template, requester_http.get(url)) for template, url in requester_gets]
        answers += [(template, toloker.get(url)) for template, url in toloker_gets]
        answers.append(
            ("/api/admin/v1/requesters/{requester_id}", admin_http.get(f"/api/admin/v1/requesters/{requester.id}"))
        )
    for template, response in answers:
        assert response.status_code == 200, (template, response.text)
        body = response.json()
        assert body.get("items", [body]), (template, "an empty page checks nothing")
        schema[template]["GET"].validate_response(response)
