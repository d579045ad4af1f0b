"""A reply re-broadcasts: it must count against the quota of the send it answers.

Chosen rule (README, Security): a requester's reply on an ALL or FILTER thread reaches every
recipient again, so it is another send of that kind; replies in one Toloker's thread count as
targeted sends. Before, a reply on the day's ALL thread notified everyone again, unlimited.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from crowdpost.config import Settings
from crowdpost.db import Database
from tests.fixtures.factories import Admin, RequesterInfo, settings_for
from tests.messaging.helpers import compose_body, crew, toloker_client

COMPOSE = "/api/v1/message-threads/compose"


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return settings_for(db_url, tmp_path, targeted_sends_per_day=3)


def test_reply_on_the_days_all_send_is_refused_and_reaches_nobody(
    requester_http: httpx.Client, server_url: str, admin: Admin, db: Database, requester: RequesterInfo
) -> None:
    _, _, (worker,) = crew(db, admin, requester.id, [{}])
    sent = requester_http.post(COMPOSE, json=compose_body("ALL"))
    assert sent.status_code == 201
    with toloker_client(server_url, admin, worker) as toloker:
        (thread,) = toloker.get("/message-threads").json()["items"]
        toloker.post(f"/message-threads/{thread['id']}/add-to-folders", json={"folders": []})
        toloker.post("/message-threads/mark-all-read", json={})
        assert toloker.get("/message-threads/counts").json()["unread"] == 0

        rebroadcast = requester_http.post(
            f"/api/v1/message-threads/{sent.json()['id']}/reply", json={"text": {"EN": "Once more, to everyone"}}
        )

        assert rebroadcast.status_code == 429, rebroadcast.text
        assert rebroadcast.json()["code"] == "TOO_MANY_REQUESTS"
        assert "retry-after" not in rebroadcast.headers
        # Nothing was stored or announced: the Toloker has no unread message and one message.
        assert toloker.get("/message-threads/counts").json()["unread"] == 0
        assert len(toloker.get(f"/message-threads/{thread['id']}").json()["messages"]) == 1


def test_replies_on_targeted_threads_use_the_targeted_quota(
    requester_http: httpx.Client, admin: Admin, db: Database, requester: RequesterInfo
) -> None:
    _, _, (worker,) = crew(db, admin, requester.id, [{}])
    sent = requester_http.post(
        COMPOSE,
        json=compose_body(
            "FILTER",
            recipients_filter={"and": [{"category": "profile", "key": "country", "operator": "EQ", "value": "GB"}]},
        ),
    )
    assert sent.status_code == 201, sent.text
    reply = f"/api/v1/message-threads/{sent.json()['id']}/reply"

    answers = [requester_http.post(reply, json={"text": {"EN": f"follow-up {i}"}}) for i in range(3)]
    resent = requester_http.post(reply, json={"text": {"EN": "follow-up 0"}})

    # The compose used 1 of 3 targeted sends; two replies fit, the third is refused.
    assert [a.status_code for a in answers] == [201, 201, 429]
    # A retried identical reply (toloka-kit resends POSTs) is the first one again, not a new send.
    assert resent.status_code == 201
    direct = requester_http.post(COMPOSE, json=compose_body(recipients_ids=[worker], text={"EN": "another"}))
    assert direct.status_code == 429
