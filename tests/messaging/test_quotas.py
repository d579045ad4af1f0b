"""Daily quotas: ALL once a day, targeted sends up to a limit; 429 without Retry-After."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from crowdpost.config import Settings
from crowdpost.db import Database
from tests.fixtures.factories import Admin, RequesterInfo, settings_for
from tests.messaging.helpers import compose_body, crew

COMPOSE = "/api/v1/message-threads/compose"


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return settings_for(db_url, tmp_path, targeted_sends_per_day=2)


def test_targeted_quota_and_all_quota_are_separate_and_per_requester(
    requester_http: httpx.Client, server_url: str, admin: Admin, db: Database, requester: RequesterInfo
) -> None:
    _, _, (worker,) = crew(db, admin, requester.id, [{}])
    sends = [
        requester_http.post(COMPOSE, json=compose_body(recipients_ids=[worker], text={"EN": f"n{i}"})) for i in range(3)
    ]
    retried = requester_http.post(COMPOSE, json=compose_body(recipients_ids=[worker], text={"EN": "n0"}))
    dry = requester_http.post(COMPOSE, json=compose_body(recipients_ids=[worker]), params={"dry_run": "true"})
    everyone = requester_http.post(COMPOSE, json=compose_body("ALL"))
    everyone_again = requester_http.post(COMPOSE, json=compose_body("ALL", text={"EN": "again"}))
    other = admin.create_requester()
    _, _, (theirs,) = crew(db, admin, other.id, [{}])
    with httpx.Client(base_url=server_url, headers={"Authorization": f"OAuth {other.token}"}) as client:
        other_send = client.post(COMPOSE, json=compose_body(recipients_ids=[theirs]))

    assert [r.status_code for r in sends] == [201, 201, 429]
    assert sends[2].json()["code"] == "TOO_MANY_REQUESTS"
    assert "retry-after" not in sends[2].headers
    assert "interval" not in str(sends[2].json().get("payload"))
    assert retried.status_code == 201  # a retry of the first send is not a new send
    assert retried.json()["id"] == sends[0].json()["id"]
    assert dry.status_code == 200
    assert everyone.status_code == 201
    assert everyone_again.status_code == 429
    assert other_send.status_code == 201
