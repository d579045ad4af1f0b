"""Workforce fixtures: a requester with a project, a pool and Tolokers who worked in it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from crowdpost import events
from tests.fixtures.factories import Admin, RequesterInfo

PROJECT_BODY: dict[str, Any] = {
    "public_name": "Sentiment",
    "public_description": "Rate sentiment",
    "task_spec": {
        "input_spec": {"text": {"type": "string", "required": True}},
        "output_spec": {"label": {"type": "string", "allowed_values": ["pos", "neg"]}},
        "view_spec": {"type": "classic", "markup": "<p>{{input.text}}</p>"},
    },
    "assignments_issuing_type": "AUTOMATED",
}


@dataclass
class Workplace:
    requester: RequesterInfo
    http: httpx.Client
    project_id: str
    pool_id: str

    def post(self, path: str, body: Any) -> Any:
        response = self.http.post(f"/api/v1{path}", json=body)
        assert response.status_code in (200, 201), response.text
        return response.json()

    def put(self, path: str, body: Any) -> Any:
        response = self.http.put(f"/api/v1{path}", json=body)
        assert response.status_code in (200, 201), response.text
        return response.json()

    def new_pool(self) -> str:
        return str(self.post("/pools", {"project_id": self.project_id, "private_name": "extra"})["id"])


def make_workplace(admin: Admin, http: httpx.Client, requester: RequesterInfo) -> Workplace:
    project = http.post("/api/v1/projects", json=PROJECT_BODY)
    assert project.status_code == 201, project.text
    pool = http.post("/api/v1/pools", json={"project_id": project.json()["id"], "private_name": "main"})
    assert pool.status_code == 201, pool.text
    return Workplace(requester, http, project.json()["id"], pool.json()["id"])


@pytest.fixture
def workplace(admin: Admin, requester_http: httpx.Client, requester: RequesterInfo) -> Workplace:
    return make_workplace(admin, requester_http, requester)


def worked(admin: Admin, pool_id: str, user_ids: list[str], times: int = 1, status: str = "ACCEPTED") -> list[str]:
    """Each Toloker started `times` tasks in the pool."""
    rows = [{"user_id": uid, "pool_id": pool_id, "status": status} for uid in user_ids for _ in range(times)]
    return admin.add_assignments(rows)


@pytest.fixture
def published() -> Iterator[list[object]]:
    """Every domain event published while the test runs, in order."""
    seen: list[object] = []

    def record(_session: object, event: object) -> None:
        seen.append(event)

    kinds = (events.PoolStatusChanged, events.AssignmentReviewed)
    for kind in kinds:
        events.subscribe(kind, record)
    yield seen
    for kind in kinds:
        events.unsubscribe(kind, record)
