"""Bulk feeds of Tolokers and assignments: validated by index, all or nothing."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select

from crowdpost.db import Database
from crowdpost.models import Assignment, RequesterToloker, Toloker, TolokerLanguage
from tests.fixtures.factories import ADMIN_TOKEN, Admin, RequesterInfo, create_project_and_pool

ADMIN = {"Authorization": f"OAuth {ADMIN_TOKEN}"}


def _count(db: Database, model: type) -> int:
    with db.transaction(write=False) as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def test_tolokers_are_created_with_profiles(http: httpx.Client, db: Database) -> None:
    people = [
        {
            "id": "u-1",
            "languages": ["EN", "FR"],
            "country": "FR",
            "gender": "FEMALE",
            "date_of_birth": "1990-05-01",
            "os_version": "14.2.1",
            "os_family": "IOS",
            "device_category": "SMARTPHONE",
            "browser": "SAFARI",
        },
        {"languages": ["RU"], "country": "RU", "city": 213, "adult_allowed": True},
    ]
    response = http.post("/api/admin/v1/tolokers", json=people, headers=ADMIN)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body[0]["id"] == "u-1"
    assert len(body[1]["id"]) == 32
    with db.transaction(write=False) as session:
        first = session.get(Toloker, "u-1")
        assert first is not None
        assert first.date_of_birth == 641520000
        assert (first.os_version_major, first.os_version_minor, first.os_version_bugfix) == (14, 2, 1)
        assert first.user_agent_family == "SAFARI"
        langs = set(session.execute(select(TolokerLanguage.language).where(TolokerLanguage.user_id == "u-1")).scalars())
        # The filter engine's copy of the same codes, written in the same statement batch.
        assert first.language_list == "|EN|FR|"
        second = session.get(Toloker, body[1]["id"])
        assert second is not None
    assert langs == {"EN", "FR"}
    assert second.language_list == "|RU|"


def test_reimport_updates_profile_and_languages(http: httpx.Client, db: Database) -> None:
    http.post("/api/admin/v1/tolokers", json=[{"id": "u-2", "languages": ["EN"], "country": "GB"}], headers=ADMIN)
    response = http.post(
        "/api/admin/v1/tolokers", json=[{"id": "u-2", "languages": ["TR"], "country": "TR"}], headers=ADMIN
    )
    assert response.status_code == 201
    with db.transaction(write=False) as session:
        toloker = session.get(Toloker, "u-2")
        assert toloker is not None
        assert toloker.country == "TR"
        assert toloker.language_list == "|TR|"
        assert list(
            session.execute(select(TolokerLanguage.language).where(TolokerLanguage.user_id == "u-2")).scalars()
        ) == ["TR"]


def test_invalid_items_are_reported_by_index_and_nothing_is_written(http: httpx.Client, db: Database) -> None:
    people = [
        {"id": "ok-1", "languages": ["EN"]},
        {"id": "bad-1", "country": "Britain"},
        {"id": "ok-2"},
        {"id": "bad-2", "gender": "OTHER", "shoe_size": 44},
    ]
    response = http.post("/api/admin/v1/tolokers", json=people, headers=ADMIN)
    assert response.status_code == 400
    payload = response.json()["payload"]
    assert set(payload) == {"1", "3"}
    assert "country" in payload["1"]
    assert set(payload["3"]) == {"gender", "shoe_size"}
    assert _count(db, Toloker) == 0


def test_duplicate_ids_in_one_request_are_refused(http: httpx.Client, db: Database) -> None:
    response = http.post("/api/admin/v1/tolokers", json=[{"id": "d"}, {"id": "d"}], headers=ADMIN)
    assert response.status_code == 400
    assert response.json()["payload"]["1"]["id"]["code"] == "DUPLICATE_VALUE_IN_ARRAY"
    assert _count(db, Toloker) == 0


def test_more_than_10000_items_is_413(http: httpx.Client, db: Database) -> None:
    response = http.post("/api/admin/v1/tolokers", json=[{}] * 10_001, headers=ADMIN)
    assert response.status_code == 413
    assert _count(db, Toloker) == 0


def test_ten_thousand_tolokers_in_one_request(http: httpx.Client, db: Database) -> None:
    people = [{"languages": ["EN", "RU"], "country": "GB"} for _ in range(10_000)]
    response = http.post("/api/admin/v1/tolokers", json=people, headers=ADMIN)
    assert response.status_code == 201
    assert len({row["id"] for row in response.json()}) == 10_000
    assert _count(db, Toloker) == 10_000
    assert _count(db, TolokerLanguage) == 20_000


def test_empty_or_non_list_bodies_are_400(http: httpx.Client) -> None:
    body: list[object] | dict[str, str]
    for body in ([], {"id": "x"}):
        response = http.post("/api/admin/v1/tolokers", json=body, headers=ADMIN)
        assert response.status_code == 400
        assert response.json()["code"] == "VALIDATION_ERROR"


def test_assignments_count_started_tasks_per_requester(
    http: httpx.Client, admin: Admin, requester: RequesterInfo, db: Database
) -> None:
    _, pool = create_project_and_pool(db, requester.id)
    worker = admin.create_toloker(id="w-1")
    ids = admin.add_assignments(
        [
            {"user_id": worker, "pool_id": pool, "status": "ACCEPTED", "submitted": "2026-01-01T10:00:00"},
            {"user_id": worker, "pool_id": pool, "status": "ACTIVE"},
        ]
    )
    assert ids == sorted(ids)
    admin.add_assignments([{"user_id": worker, "pool_id": pool, "status": "REJECTED"}])
    with db.transaction(write=False) as session:
        row = session.execute(select(RequesterToloker)).scalar_one()
    assert (row.user_id, row.started_count) == ("w-1", 3)


def test_assignments_with_unknown_pool_or_toloker_write_nothing(
    http: httpx.Client, admin: Admin, requester: RequesterInfo, db: Database
) -> None:
    _, pool = create_project_and_pool(db, requester.id)
    worker = admin.create_toloker()
    rows = [
        {"user_id": worker, "pool_id": pool},
        {"user_id": "ghost", "pool_id": pool},
        {"user_id": worker, "pool_id": "000000999999"},
        {"user_id": worker, "pool_id": pool, "status": "LOST"},
    ]
    response = http.post("/api/admin/v1/assignments", json=rows, headers=ADMIN)
    assert response.status_code == 400
    payload = response.json()["payload"]
    assert set(payload) == {"3"}  # schema errors are reported first
    response = http.post("/api/admin/v1/assignments", json=rows[:3], headers=ADMIN)
    payload = response.json()["payload"]
    assert payload["1"]["user_id"]["code"] == "ENTITY_DOES_NOT_EXIST"
    assert payload["2"]["pool_id"]["code"] == "ENTITY_DOES_NOT_EXIST"
    assert _count(db, Assignment) == 0
    assert _count(db, RequesterToloker) == 0
