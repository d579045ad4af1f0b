"""Unstorable characters: U+0000 (NUL) and lone surrogates in any text a request carries.

Before, SQLite stored a NUL and PostgreSQL refused it with a data error, so the same request
was a 201 on one backend and a 500 on the other (and a lone surrogate cannot be written as
UTF-8 at all). Now every JSON body, object keys included, and every query and path parameter
is checked where the request is decoded: a 400 VALIDATION_ERROR whose payload names the path
(`text.EN`, `0.public_title.EN`), the same on SQLite and PostgreSQL, and nothing is written.
Each test runs on both backends and asserts the exact payload.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from crowdpost.db import Database
from crowdpost.models import Bonus, Skill, Toloker
from tests.fixtures.factories import Admin, RequesterInfo
from tests.messaging.helpers import compose_body, crew

NUL = "\x00"
LONE = "\ud800"
BAD = pytest.mark.parametrize(("char", "message"), [(NUL, "U+0000 (NUL)"), (LONE, "a lone surrogate (U+D800)")])


def send(client: httpx.Client, method: str, path: str, body: Any, **params: Any) -> httpx.Response:
    """The body as JSON text with `\\u` escapes, as every client sends these characters."""
    raw = json.dumps(body, ensure_ascii=True).encode()
    return client.request(method, path, content=raw, params=params, headers={"Content-Type": "application/json"})


def refused(response: httpx.Response, path: str, message: str) -> dict[str, Any]:
    """A 400 VALIDATION_ERROR naming exactly `path`; returns that field error."""
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR", body
    assert list(body["payload"]) == [path], body
    error: dict[str, Any] = body["payload"][path]
    assert error["code"] == "INVALID_VALUE"
    assert error["message"].startswith(message) or error["message"].startswith("the key: " + message), error
    return error


def count(db: Database, model: Any) -> int:
    with db.transaction(write=False) as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


@BAD
def test_compose_text_and_topic_with_unstorable_characters_are_refused(
    requester_http: httpx.Client, admin: Admin, db: Database, requester: RequesterInfo, char: str, message: str
) -> None:
    """A compose whose text, topic or a language key holds NUL or a lone surrogate: 400 naming
    `text.EN`, `topic.RU` or the key, and no thread is created."""
    _, _, ids = crew(db, admin, requester.id, [{}])
    compose = "/api/v1/message-threads/compose"

    in_text = send(requester_http, "POST", compose, compose_body(recipients_ids=ids, text={"EN": f"Hi{char}there"}))
    in_topic = send(
        requester_http, "POST", compose, compose_body(recipients_ids=ids, topic={"EN": "ok", "RU": f"{char}"})
    )
    in_key = send(requester_http, "POST", compose, compose_body(recipients_ids=ids, text={f"E{char}N": "Hi"}))

    assert refused(in_text, "text.EN", message)["params"] == [2]
    assert refused(in_topic, "topic.RU", message)["params"] == [0]
    refused(in_key, "text.E\ufffdN", message)
    assert requester_http.get("/api/v1/message-threads").json()["items"] == []


@BAD
def test_reply_with_unstorable_characters_is_refused(
    requester_http: httpx.Client, admin: Admin, db: Database, requester: RequesterInfo, char: str, message: str
) -> None:
    """A reply on a real thread whose text holds NUL or a lone surrogate: 400 naming `text.EN`,
    and the thread still holds only its first message."""
    _, _, ids = crew(db, admin, requester.id, [{}])
    sent = requester_http.post("/api/v1/message-threads/compose", json=compose_body(recipients_ids=ids))
    assert sent.status_code == 201, sent.text
    thread = sent.json()["id"]

    reply = send(requester_http, "POST", f"/api/v1/message-threads/{thread}/reply", {"text": {"EN": f"a{char}"}})

    refused(reply, "text.EN", message)
    assert len(requester_http.get(f"/api/v1/message-threads/{thread}").json()["messages"]) == 1


@BAD
@pytest.mark.parametrize("async_mode", [False, True])
def test_bonus_title_and_message_with_unstorable_characters_are_refused(
    requester_http: httpx.Client,
    admin: Admin,
    db: Database,
    requester: RequesterInfo,
    char: str,
    message: str,
    async_mode: bool,
) -> None:
    """Bonuses (a list, sync and async) whose public title or message holds NUL or a lone
    surrogate: 400 naming `1.public_title.EN` / `0.public_message.EN`; nothing paid or stored."""
    _, _, (worker,) = crew(db, admin, requester.id, [{}])
    good = {
        "user_id": worker,
        "amount": "1.00",
        "public_title": {"EN": "Thanks"},
        "public_message": {"EN": "Well done"},
    }
    before = requester_http.get("/api/v1/requester").json()["balance"]
    params = {"async_mode": "true"} if async_mode else {}

    title = send(
        requester_http, "POST", "/api/v1/user-bonuses", [good, {**good, "public_title": {"EN": char}}], **params
    )
    text = send(
        requester_http, "POST", "/api/v1/user-bonuses", [{**good, "public_message": {"EN": f"x{char}"}}], **params
    )

    refused(title, "1.public_title.EN", message)
    refused(text, "0.public_message.EN", message)
    assert requester_http.get("/api/v1/requester").json()["balance"] == before
    assert count(db, Bonus) == 0
    assert requester_http.get("/api/v1/operations").json()["items"] == []


@BAD
def test_single_bonus_comment_with_unstorable_characters_is_refused(
    requester_http: httpx.Client, admin: Admin, db: Database, requester: RequesterInfo, char: str, message: str
) -> None:
    """One bonus object (the body toloka-kit's create_user_bonus sends, read as Any) whose
    private comment holds NUL or a lone surrogate: 400 naming `private_comment`."""
    _, _, (worker,) = crew(db, admin, requester.id, [{}])
    body = {"user_id": worker, "amount": "1.00", "private_comment": f"c{char}", "without_message": True}

    refused(send(requester_http, "POST", "/api/v1/user-bonuses", body), "private_comment", message)
    assert count(db, Bonus) == 0


@BAD
def test_toloker_import_with_unstorable_characters_is_refused(
    admin: Admin, db: Database, char: str, message: str
) -> None:
    """An admin Toloker import whose third item's browser holds NUL or a lone surrogate: 400
    naming `2.browser`; none of the three Tolokers is created."""
    people: list[dict[str, Any]] = [{"languages": ["EN"]}, {"languages": ["EN"]}, {"browser": f"Fire{char}fox"}]

    refused(send(admin.http, "POST", "/api/admin/v1/tolokers", people), "2.browser", message)
    assert count(db, Toloker) == 0


@BAD
def test_skill_name_and_pool_comment_with_unstorable_characters_are_refused(
    requester_http: httpx.Client, db: Database, char: str, message: str
) -> None:
    """A skill named with NUL or a lone surrogate, a pool whose private comment or a nested
    free-form value holds one: 400 naming `name`, `private_comment`, `metadata.tags.1`."""
    project = requester_http.post("/api/v1/projects", json={"public_name": "P"}).json()["id"]
    pool = {"project_id": project, "private_name": "pool"}

    skill = send(requester_http, "POST", "/api/v1/skills", {"name": f"Speed{char}"})
    comment = send(requester_http, "POST", "/api/v1/pools", {**pool, "private_comment": char})
    nested = send(requester_http, "POST", "/api/v1/pools", {**pool, "metadata": {"tags": ["a", f"b{char}"]}})

    refused(skill, "name", message)
    refused(comment, "private_comment", message)
    refused(nested, "metadata.tags.1", message)
    assert count(db, Skill) == 0
    assert requester_http.get("/api/v1/pools").json()["items"] == []


def test_query_and_path_parameters_with_nul_are_refused(requester_http: httpx.Client) -> None:
    """NUL in a query parameter (`name`, `user_id`, `sort`) or in a path id: 400 naming the
    parameter, not a PostgreSQL data error. (A lone surrogate cannot arrive in a URL:
    invalid UTF-8 there decodes to U+FFFD, which is storable.)"""
    for path, params, name in (
        ("/api/v1/skills", {"name": "a\x00"}, "name"),
        ("/api/v1/user-restrictions", {"user_id": "\x00"}, "user_id"),
        ("/api/v1/assignments", {"user_id": "x\x00y"}, "user_id"),
        ("/api/v1/user-bonuses", {"sort": "id\x00"}, "sort"),
    ):
        refused(requester_http.get(path, params=params), name, "U+0000 (NUL)")
    refused(requester_http.get("/api/v1/skills/0000%0000001"), "skill_id", "U+0000 (NUL)")
    refused(requester_http.get("/api/v1/user-skills", params={"a\x00": "1"}), "a\ufffd", "the name: U+0000 (NUL)")


def test_storable_text_still_goes_through(
    requester_http: httpx.Client, admin: Admin, db: Database, requester: RequesterInfo
) -> None:
    """The control: an emoji (a surrogate pair in JSON escapes) and U+FFFD are text and are
    stored as sent, on both backends."""
    _, _, ids = crew(db, admin, requester.id, [{}])
    text = "Thanks \U0001f600 \ufffd done"

    sent = send(
        requester_http, "POST", "/api/v1/message-threads/compose", compose_body(recipients_ids=ids, topic={"EN": text})
    )
    skill = send(requester_http, "POST", "/api/v1/skills", {"name": text})

    assert sent.status_code == 201, sent.text
    assert sent.json()["topic"] == {"EN": text}
    assert skill.status_code == 201, skill.text
    assert requester_http.get(f"/api/v1/skills/{skill.json()['id']}").json()["name"] == text
