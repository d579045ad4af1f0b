"""Responses match /openapi.json: real answers of every list and get endpoint that declares a
response model, with rows in them (schemathesis' generated requests mostly see empty pages),
checked against the schema the document gives for their status."""

from __future__ import annotations

from typing import Any

import httpx
import schemathesis

from crowdpost.db import Database
from tests.fixtures.factories import ADMIN_TOKEN, Admin, RequesterInfo
from tests.messaging.helpers import compose_body, toloker_client
from tests.rewards.helpers import bonus, make_crew, post_bonuses
from tests.workforce.conftest import PROJECT_BODY


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
        # Read by the worker below first: `read_at` holds a datetime in its wire form.
        ("/api/v1/message-threads/{thread_id}/recipients", f"/api/v1/message-threads/{thread_id}/recipients"),
    ]
    toloker_gets = [
        ("/api/toloker/v1/bonuses", "/bonuses"),
        ("/api/toloker/v1/message-threads", "/message-threads"),
        ("/api/toloker/v1/message-threads/{thread_id}", f"/message-threads/{thread_id}"),
        ("/api/toloker/v1/message-threads/counts", "/message-threads/counts"),
    ]
    admin_http = httpx.Client(base_url=server_url, headers={"Authorization": f"OAuth {ADMIN_TOKEN}"}, timeout=30)
    with toloker_client(server_url, admin, worker) as toloker, admin_http:
        read = toloker.post(f"/message-threads/{thread_id}/remove-from-folders", json={"folders": ["UNREAD"]})
        assert read.status_code == 201, read.text
        answers = [(template, requester_http.get(url)) for template, url in requester_gets]
        answers += [(template, toloker.get(url)) for template, url in toloker_gets]
        answers.append(
            ("/api/admin/v1/requesters/{requester_id}", admin_http.get(f"/api/admin/v1/requesters/{requester.id}"))
        )
    recipients = dict(answers)["/api/v1/message-threads/{thread_id}/recipients"].json()["items"]
    assert [r["read"] for r in recipients] == [True]
    assert "+" not in recipients[0]["read_at"]  # naive UTC, as every datetime on the wire
    assert "Z" not in recipients[0]["read_at"]
    for template, response in answers:
        assert response.status_code == 200, (template, response.text)
        body = response.json()
        assert body.get("items", [body]), (template, "an empty page checks nothing")
        schema[template]["GET"].validate_response(response)


def test_workforce_answers_match_their_documented_schemas(server_url: str, requester_http: httpx.Client) -> None:
    """Every optional field shown: a skill with a TTL and spec fields, a fractional Toloker skill,
    a PROJECT ban with a comment and expiry, an opened pool, an accepted assignment with a solution."""
    schema = schemathesis.openapi.from_url(f"{server_url}/openapi.json")
    answers: list[tuple[str, str, httpx.Response]] = []
    admin_http = httpx.Client(base_url=server_url, headers={"Authorization": f"OAuth {ADMIN_TOKEN}"}, timeout=30)
    with admin_http:

        def send(method: str, template: str, url: str, body: Any = None, *, admin_api: bool = False) -> Any:
            client = admin_http if admin_api else requester_http
            response = client.request(method, url, json=body)
            assert response.status_code in (200, 201), (template, response.text)
            answers.append((method, template, response))
            return response.json()

        project_id = send("POST", "/api/v1/projects", "/api/v1/projects", PROJECT_BODY)["id"]
        pool_body = {"project_id": project_id, "private_name": "main", "reward_per_assignment": 0.05}
        pool_id = send("POST", "/api/v1/pools", "/api/v1/pools", pool_body)["id"]
        opened = requester_http.post(f"/api/v1/pools/{pool_id}/open")
        assert opened.status_code == 204, opened.text
        tolokers = [{"id": "wf-toloker", "languages": ["EN", "DE"], "country": "DE"}, {"languages": []}]
        worker = send("POST", "/api/admin/v1/tolokers", "/api/admin/v1/tolokers", tolokers, admin_api=True)[0]["id"]
        done = {
            "user_id": worker,
            "pool_id": pool_id,
            "status": "ACCEPTED",
            "task_suite_id": "suite-1",
            "reward": "0.05",
            "submitted": "2026-01-02T03:04:05.678",
            "accepted": "2026-01-02T04:00:00",
            "public_comment": "Well done",
            "solutions": [{"output_values": {"label": "pos"}}],
        }
        imported = [done, {"user_id": worker, "pool_id": pool_id}]
        assignment_id = send(
            "POST", "/api/admin/v1/assignments", "/api/admin/v1/assignments", imported, admin_api=True
        )[0]["id"]
        skill_body = {"name": "quality", "skill_ttl_hours": 24, "private_comment": "mine", "public_name": {"EN": "Q"}}
        skill_id = send("POST", "/api/v1/skills", "/api/v1/skills", skill_body)["id"]
        user_skill = {"skill_id": skill_id, "user_id": worker, "value": 12.5}
        user_skill_id = send("PUT", "/api/v1/user-skills", "/api/v1/user-skills", user_skill)["id"]
        ban = {
            "scope": "PROJECT",
            "user_id": worker,
            "project_id": project_id,
            "private_comment": "spam",
            "will_expire": "2099-01-01T00:00:00",
        }
        ban_id = send("PUT", "/api/v1/user-restrictions", "/api/v1/user-restrictions", ban)["id"]
        gets = [
            ("/api/v1/skills", "/api/v1/skills"),
            ("/api/v1/skills/{skill_id}", f"/api/v1/skills/{skill_id}"),
            ("/api/v1/user-skills", "/api/v1/user-skills"),
            ("/api/v1/user-skills/{user_skill_id}", f"/api/v1/user-skills/{user_skill_id}"),
            ("/api/v1/user-restrictions", "/api/v1/user-restrictions"),
            ("/api/v1/user-restrictions/{restriction_id}", f"/api/v1/user-restrictions/{ban_id}"),
            ("/api/v1/projects", "/api/v1/projects"),
            ("/api/v1/projects/{project_id}", f"/api/v1/projects/{project_id}"),
            ("/api/v1/pools", "/api/v1/pools"),
            ("/api/v1/pools/{pool_id}", f"/api/v1/pools/{pool_id}"),
            ("/api/v1/assignments", "/api/v1/assignments"),
            ("/api/v1/assignments/{assignment_id}", f"/api/v1/assignments/{assignment_id}"),
        ]
        for template, url in gets:
            send("GET", template, url)
    opened_pool = next(r.json() for _, template, r in answers if template == "/api/v1/pools/{pool_id}")
    assert "last_started" in opened_pool, "the opened pool shows last_started"
    for method, template, response in answers:
        body = response.json()
        assert body.get("items", [body]) if isinstance(body, dict) else body, (template, "nothing to check")
        schema[template][method].validate_response(response)
