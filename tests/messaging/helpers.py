"""Test data for messaging: Tolokers who worked for a requester, and Toloker clients."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from crowdpost.db import Database
from tests.fixtures.factories import Admin, create_project_and_pool


def crew(
    db: Database,
    admin: Admin,
    requester_id: str,
    profiles: Sequence[dict[str, Any]],
    *,
    started: int = 2,
) -> tuple[str, str, list[str]]:
    """Tolokers (one per profile) who each started `started` tasks in a new pool of the requester.

    Returns (project_id, pool_id, toloker ids)."""
    project_id, pool_id = create_project_and_pool(db, requester_id)
    people = [{"languages": ["EN"], "country": "GB", **p} for p in profiles]
    ids = admin.create_tolokers(people)
    if started:
        admin.add_assignments(
            [{"user_id": uid, "pool_id": pool_id, "status": "SUBMITTED"} for uid in ids for _ in range(started)]
        )
    return project_id, pool_id, ids


def toloker_client(server_url: str, admin: Admin, toloker_id: str) -> httpx.Client:
    token = admin.toloker_token(toloker_id)
    return httpx.Client(
        base_url=f"{server_url}/api/toloker/v1", headers={"Authorization": f"OAuth {token}"}, timeout=30
    )


def compose_body(select_type: str = "DIRECT", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "recipients_select_type": select_type,
        "topic": {"EN": "New instructions"},
        "text": {"EN": "Please re-read the instructions."},
        "answerable": True,
    }
    body.update(extra)
    return body
