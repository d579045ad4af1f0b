"""Bonus titles and messages reach Tolokers through the messages' HTML allow-list (issue 19).

The attack: a requester pays bonuses whose title and message carry scripts, event
handlers and `javascript:` links, then the Toloker reads `GET /api/toloker/v1/bonuses`.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import update
from toloka.client import TolokaClient

from crowdpost.db import Database
from crowdpost.models import Bonus
from crowdpost.worker.loop import run_pending
from tests.fixtures.factories import Admin, RequesterInfo
from tests.rewards.helpers import Crew, auth_client, bonus, make_crew, post_bonuses

HOSTILE_TITLES = [
    "<script>alert(1)</script>Thanks",
    '<img src=x onerror="alert(1)">Thanks',
    "&lt;script&gt;alert(1)&lt;/script&gt;Thanks",
    "<svg onload=alert(1)>Thanks</svg>",
]
HOSTILE_MESSAGES = [
    'Well <b>done</b><script>steal(document.cookie)</script><img src="x" onerror="alert(1)">',
    '<a href="javascript:alert(1)" onclick="alert(2)">details</a> <b>done</b>',
    "<iframe src=//evil.example></iframe><style>body{display:none}</style><b>done</b>",
    '<div onmouseover="alert(1)"><b>done</b></div><object data="x"></object>',
]
FORBIDDEN = ("<script", "onerror", "onload", "onclick", "onmouseover", "javascript:", "<iframe", "<svg", "<object")


@pytest.fixture
def crew(db: Database, admin: Admin, requester: RequesterInfo) -> Crew:
    return make_crew(db, admin, requester)


def _toloker_bonuses(server_url: str, admin: Admin, user_id: str) -> tuple[str, list[dict[str, Any]]]:
    with auth_client(server_url, admin.toloker_token(user_id)) as toloker:
        response = toloker.get("/api/toloker/v1/bonuses", params={"limit": 100})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return response.text, items


def _assert_clean(raw: str, items: list[dict[str, Any]], count: int) -> None:
    lowered = raw.lower()
    assert [word for word in FORBIDDEN if word in lowered] == []
    assert len(items) == count
    for item in items:
        assert "<" not in item["title"]  # titles are plain text
        assert item["title"].endswith("Thanks")
        assert "<b>done</b>" in item["message"]  # allowed markup stays


def test_markup_in_bonus_texts_never_reaches_tolokers(
    requester_http: httpx.Client, crew: Crew, db: Database, admin: Admin, server_url: str
) -> None:
    """Hostile titles and messages paid synchronously and asynchronously: the Toloker's
    GET /bonuses carries no script, event handler or javascript: URL, keeps the allowed
    markup, and the requester's GET /user-bonuses still parses with toloka-kit."""
    user = crew.user_ids[0]
    sync_items = [
        bonus(user, "0.01", private_comment=f"s{n}", public_title={"EN": t}, public_message={"EN": m})
        for n, (t, m) in enumerate(zip(HOSTILE_TITLES, HOSTILE_MESSAGES, strict=True))
    ]
    async_items = [
        bonus(user, "0.01", private_comment=f"a{n}", public_title={"EN": t}, public_message={"EN": m})
        for n, (t, m) in enumerate(zip(HOSTILE_TITLES, HOSTILE_MESSAGES, strict=True))
    ]
    assert post_bonuses(requester_http, sync_items).status_code == 201
    assert post_bonuses(requester_http, async_items, async_mode=True, operation_id="op-texts").status_code == 202
    run_pending(db)

    raw, items = _toloker_bonuses(server_url, admin, user)

    _assert_clean(raw, items, 8)
    stored = TolokaClient(crew.requester.token, url=server_url, retries=0).find_user_bonuses(user_id=user, limit=100)
    assert stored.items is not None
    assert len(stored.items) == 8
    for paid in stored.items:
        assert isinstance(paid.public_title, dict)
        assert paid.public_message is not None
        assert [w for w in FORBIDDEN if w in paid.public_title["EN"].lower() + paid.public_message["EN"].lower()] == []


def test_bonus_rows_stored_unsanitized_are_cleaned_on_the_way_out(
    requester_http: httpx.Client, crew: Crew, admin: Admin, server_url: str, db: Database
) -> None:
    """Rows written before bonus texts were sanitized (put back raw here in SQL) are
    sanitized again when a Toloker reads them."""
    user = crew.user_ids[1]
    items = [bonus(user, "0.01", private_comment=f"r{n}") for n in range(len(HOSTILE_TITLES))]
    assert post_bonuses(requester_http, items).status_code == 201
    with db.transaction() as session:
        for n, (title, message) in enumerate(zip(HOSTILE_TITLES, HOSTILE_MESSAGES, strict=True)):
            session.execute(
                update(Bonus)
                .where(Bonus.user_id == user, Bonus.private_comment == f"r{n}")
                .values(public_title={"EN": title}, public_message={"EN": message})
            )

    raw, listed = _toloker_bonuses(server_url, admin, user)

    _assert_clean(raw, listed, len(HOSTILE_TITLES))
