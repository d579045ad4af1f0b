"""The workforce endpoints over plain HTTP: validation, isolation between requesters,
skill history, paging, and the review rules for assignments."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from crowdpost.db import Database
from crowdpost.models import Pool, UserSkillChange
from tests.fixtures.factories import Admin
from tests.workforce.conftest import Workplace, make_workplace, worked


def error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def test_skill_values_keep_their_history_and_reject_bad_values(
    admin: Admin, workplace: Workplace, db: Database
) -> None:
    uid = admin.create_toloker()
    worked(admin, workplace.pool_id, [uid])
    skill = workplace.post("/skills", {"name": "Accuracy"})
    for value in ("10", "55.125", "100"):
        workplace.put("/user-skills", {"skill_id": skill["id"], "user_id": uid, "value": value, "reason": "QC"})
    current = workplace.http.get("/api/v1/user-skills", params={"user_id": uid}).json()["items"]
    deleted = workplace.http.delete(f"/api/v1/user-skills/{current[0]['id']}")

    assert skill["hidden"] is True
    assert [(c["value"], c["exact_value"]) for c in current] == [(100, 100)]
    assert deleted.status_code == 204
    assert workplace.http.get(f"/api/v1/user-skills/{current[0]['id']}").status_code == 404
    with db.transaction(write=False) as session:
        history = session.execute(select(UserSkillChange.value_micros).order_by(UserSkillChange.id)).scalars().all()
    assert history == [10_000_000, 55_125_000, 100_000_000, None]

    for body, field in (
        ({"skill_id": skill["id"], "user_id": uid, "value": "100.5"}, "value"),
        ({"skill_id": skill["id"], "user_id": uid, "value": "-1"}, "value"),
        ({"skill_id": skill["id"], "user_id": uid, "value": "1.0000001"}, "value"),
        ({"skill_id": skill["id"], "user_id": "nobody", "value": "1"}, "user_id"),
        ({"skill_id": "000000000999", "user_id": uid, "value": "1"}, "skill_id"),
    ):
        assert list(error(workplace.http.put("/api/v1/user-skills", json=body), 400)["payload"]) == [field]


def test_requesters_never_see_each_others_objects(admin: Admin, workplace: Workplace, server_url: str) -> None:
    uid = admin.create_toloker()
    assignment = admin.add_assignments([{"user_id": uid, "pool_id": workplace.pool_id, "status": "SUBMITTED"}])[0]
    skill = workplace.post("/skills", {"name": "Mine"})
    user_skill = workplace.put("/user-skills", {"skill_id": skill["id"], "user_id": uid, "value": "5"})
    ban = workplace.put("/user-restrictions", {"scope": "ALL_PROJECTS", "user_id": uid})
    other = admin.create_requester()
    with httpx.Client(base_url=server_url, headers={"Authorization": f"OAuth {other.token}"}) as them:
        for path in (
            f"/skills/{skill['id']}",
            f"/user-skills/{user_skill['id']}",
            f"/user-restrictions/{ban['id']}",
            f"/projects/{workplace.project_id}",
            f"/pools/{workplace.pool_id}",
            f"/assignments/{assignment}",
        ):
            assert error(them.get(f"/api/v1{path}"), 404)["code"] == "DOES_NOT_EXIST", path
        for path in ("/skills", "/user-skills", "/user-restrictions", "/projects", "/pools", "/assignments"):
            assert them.get(f"/api/v1{path}").json() == {"items": [], "has_more": False}, path
        assert error(them.post(f"/api/v1/pools/{workplace.pool_id}/open"), 404)["code"] == "DOES_NOT_EXIST"
        review = them.patch(f"/api/v1/assignments/{assignment}", json={"status": "ACCEPTED"})
        assert error(review, 404)["code"] == "DOES_NOT_EXIST"
        theirs = make_workplace(admin, them, other)
        foreign_pool = theirs.pool_id
    bad_ban = workplace.http.put(
        "/api/v1/user-restrictions", json={"scope": "POOL", "user_id": uid, "pool_id": foreign_pool}
    )
    assert list(error(bad_ban, 400)["payload"]) == ["pool_id"]


def test_ban_scopes_are_checked(admin: Admin, workplace: Workplace) -> None:
    uid = admin.create_toloker()
    worked(admin, workplace.pool_id, [uid])
    cases = [
        ({"scope": "SYSTEM", "user_id": uid}, "scope"),
        ({"scope": "PROJECT", "user_id": uid}, "project_id"),
        ({"scope": "POOL", "user_id": uid}, "pool_id"),
        ({"scope": "ALL_PROJECTS", "user_id": uid, "project_id": workplace.project_id}, "project_id"),
        ({"scope": "PROJECT", "user_id": uid, "project_id": workplace.project_id, "pool_id": "1"}, "pool_id"),
        ({"scope": "ALL_PROJECTS", "user_id": "nobody"}, "user_id"),
        ({"scope": "TEAM", "user_id": uid}, "scope"),
    ]
    for body, field in cases:
        assert list(error(workplace.http.put("/api/v1/user-restrictions", json=body), 400)["payload"]) == [field]

    first = workplace.http.put("/api/v1/user-restrictions", json={"scope": "ALL_PROJECTS", "user_id": uid})
    again = workplace.http.put(
        "/api/v1/user-restrictions", json={"scope": "ALL_PROJECTS", "user_id": uid, "private_comment": "still"}
    )
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["private_comment"] == "still"


def test_pools_keep_unknown_fields_refuse_bad_filters_and_page_by_id(workplace: Workplace, db: Database) -> None:
    body = {
        "project_id": workplace.project_id,
        "private_name": "kept",
        "reward_per_assignment": 0.07,
        "mixer_config": {"real_tasks_count": 10, "golden_tasks_count": 0},
        "custom": {"nested": [1, "two", None]},
        "filter": {"and": [{"or": [{"category": "profile", "key": "languages", "operator": "IN", "value": "EN"}]}]},
    }
    created = workplace.post("/pools", body)
    bad = workplace.http.post(
        "/api/v1/pools",
        json={**body, "filter": {"and": [{"category": "profile", "key": "nope", "operator": "EQ", "value": 1}]}},
    )
    missing = workplace.http.post("/api/v1/pools", json={"private_name": "x"})
    foreign = workplace.http.post("/api/v1/pools", json={"project_id": "000000009999", "private_name": "x"})
    for _ in range(3):
        workplace.new_pool()
    first = workplace.http.get("/api/v1/pools", params={"sort": "id", "limit": 2}).json()
    rest = workplace.http.get("/api/v1/pools", params={"sort": "id", "id_gt": first["items"][-1]["id"]}).json()

    assert {k: created[k] for k in body} == body
    assert created["status"] == "CLOSED"
    assert created["type"] == "REGULAR"
    assert list(error(bad, 400)["payload"]) == ["filter.and.0.key"]
    assert list(error(missing, 400)["payload"]) == ["project_id"]
    assert list(error(foreign, 400)["payload"]) == ["project_id"]
    assert first["has_more"] is True
    assert rest["has_more"] is False
    assert len(first["items"]) + len(rest["items"]) == 5
    with db.transaction(write=False) as session:
        assert session.execute(select(Pool.status).where(Pool.id == int(created["id"]))).scalar_one() == "CLOSED"


def test_projects_need_typed_specs(workplace: Workplace) -> None:
    untyped = {"public_name": "p", "task_spec": {"input_spec": {"text": {"required": True}}, "output_spec": {}}}

    response = workplace.http.post("/api/v1/projects", json=untyped)

    assert list(error(response, 400)["payload"]) == ["task_spec"]
    assert error(workplace.http.post("/api/v1/projects", json=["x"]), 400)["code"] == "VALIDATION_ERROR"


def test_review_rules(admin: Admin, workplace: Workplace) -> None:
    uid = admin.create_toloker()
    active, submitted = admin.add_assignments(
        [
            {"user_id": uid, "pool_id": workplace.pool_id, "status": "ACTIVE"},
            {"user_id": uid, "pool_id": workplace.pool_id, "status": "SUBMITTED"},
        ]
    )

    def patch(aid: str, **body: Any) -> httpx.Response:
        return workplace.http.patch(f"/api/v1/assignments/{aid}", json=body)

    not_yet = error(patch(active, status="ACCEPTED"), 409)
    no_reason = error(patch(submitted, status="REJECTED"), 400)
    to_active = error(patch(submitted, status="ACTIVE"), 400)
    rejected = patch(submitted, status="REJECTED", public_comment="Wrong answers")

    assert not_yet["code"] == "INAPPROPRIATE_STATUS"
    assert not_yet["payload"] == {"appropriate_statuses": ["SUBMITTED", "REJECTED"]}
    assert list(no_reason["payload"]) == ["public_comment"]
    assert list(to_active["payload"]) == ["status"]
    assert rejected.status_code == 200
    assert rejected.json()["rejected"]
    listed = workplace.http.get(
        "/api/v1/assignments", params={"status": "REJECTED,ACCEPTED", "rejected_gte": "2000-01-01"}
    ).json()
    assert [a["id"] for a in listed["items"]] == [submitted]
    assert error(workplace.http.get("/api/v1/assignments", params={"status": "DONE"}), 400)["payload"]["status"]
