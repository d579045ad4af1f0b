"""Audiences (ALL, FILTER, DIRECT), bans of every scope, and the recipients dry-run endpoint."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Column, MetaData, String, Table, func, insert, select, text

from crowdpost.db import Database
from crowdpost.workforce.repository import audience
from crowdpost.workforce.schemas import AudienceRequest
from crowdpost.workforce.service.audience import audience_select, count_audience
from tests.fixtures.factories import Admin
from tests.workforce.conftest import Workplace, make_workplace, worked

EVERYONE_EN = {"and": [{"category": "profile", "key": "languages", "operator": "IN", "value": "EN"}]}


def count(workplace: Workplace, **body: Any) -> dict[str, Any]:
    response = workplace.http.post("/api/v1/recipients/count", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def crowd(admin: Admin, n: int) -> list[str]:
    return admin.create_tolokers([{"languages": ["EN"], "country": "GB"} for _ in range(n)])


def test_all_is_who_started_at_least_two_tasks_and_filter_who_started_one(admin: Admin, workplace: Workplace) -> None:
    ids = crowd(admin, 5)
    worked(admin, workplace.pool_id, ids[:2], times=2)
    worked(admin, workplace.pool_id, ids[2:4])

    assert count(workplace, recipients_select_type="ALL") == {"count": 2, "excluded": {"banned": 0, "unknown": 0}}
    assert count(workplace, recipients_select_type="FILTER", recipients_filter=EVERYONE_EN)["count"] == 4


def test_direct_reports_unknown_and_banned_ids(admin: Admin, workplace: Workplace) -> None:
    ids = crowd(admin, 4)
    worked(admin, workplace.pool_id, ids[:3])
    workplace.put("/user-restrictions", {"scope": "ALL_PROJECTS", "user_id": ids[1]})

    result = count(
        workplace, recipients_select_type="DIRECT", recipients_ids=[ids[0], ids[1], ids[3], "no-such-toloker", ids[0]]
    )

    assert result == {
        "count": 1,
        "excluded": {"banned": 1, "unknown": 2},
        "unknown_ids": [ids[3], "no-such-toloker"],
        "banned_ids": [ids[1]],
    }


@pytest.mark.parametrize("plan", ["walk the requester's Tolokers", "scan all Tolokers"])
@pytest.mark.parametrize("scope", ["ALL_PROJECTS", "PROJECT", "POOL"])
def test_an_active_ban_of_any_scope_excludes_from_every_audience(
    admin: Admin, workplace: Workplace, scope: str, plan: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if plan == "scan all Tolokers":
        monkeypatch.setattr(audience, "LARGE_AUDIENCE", 0)
    ids = crowd(admin, 3)
    worked(admin, workplace.pool_id, ids, times=2)
    target = {"PROJECT": {"project_id": workplace.project_id}, "POOL": {"pool_id": workplace.new_pool()}}
    workplace.put("/user-restrictions", {"scope": scope, "user_id": ids[0], **target.get(scope, {})})

    for body in (
        {"recipients_select_type": "ALL"},
        {"recipients_select_type": "FILTER", "recipients_filter": EVERYONE_EN},
    ):
        assert count(workplace, **body) == {"count": 2, "excluded": {"banned": 1, "unknown": 0}}
    assert count(workplace, recipients_select_type="DIRECT", recipients_ids=ids)["banned_ids"] == [ids[0]]


def test_expired_and_lifted_bans_stop_counting_without_any_job(admin: Admin, workplace: Workplace) -> None:
    ids = crowd(admin, 4)
    worked(admin, workplace.pool_id, ids, times=2)
    past = (datetime.now(UTC) - timedelta(seconds=1)).replace(tzinfo=None).isoformat()
    future = (datetime.now(UTC) + timedelta(days=1)).replace(tzinfo=None).isoformat()
    workplace.put("/user-restrictions", {"scope": "ALL_PROJECTS", "user_id": ids[0], "will_expire": past})
    workplace.put("/user-restrictions", {"scope": "ALL_PROJECTS", "user_id": ids[1], "will_expire": future})
    lifted = workplace.put("/user-restrictions", {"scope": "ALL_PROJECTS", "user_id": ids[2]})
    assert workplace.http.delete(f"/api/v1/user-restrictions/{lifted['id']}").status_code == 204

    assert count(workplace, recipients_select_type="ALL") == {"count": 3, "excluded": {"banned": 1, "unknown": 0}}
    listed = workplace.http.get("/api/v1/user-restrictions").json()["items"]
    assert [r["user_id"] for r in listed] == [ids[1]]


def test_another_requesters_bans_and_workers_do_not_count(admin: Admin, workplace: Workplace, server_url: str) -> None:
    ids = crowd(admin, 3)
    worked(admin, workplace.pool_id, ids[:2], times=2)
    other = admin.create_requester()
    with httpx.Client(base_url=server_url, headers={"Authorization": f"OAuth {other.token}"}) as other_http:
        theirs = make_workplace(admin, other_http, other)
        worked(admin, theirs.pool_id, ids, times=3)
        theirs.put("/user-restrictions", {"scope": "ALL_PROJECTS", "user_id": ids[0]})

        assert count(workplace, recipients_select_type="ALL")["count"] == 2
        assert count(theirs, recipients_select_type="ALL") == {"count": 2, "excluded": {"banned": 1, "unknown": 0}}


def test_audience_select_is_one_statement_that_feeds_insert_select(
    admin: Admin, workplace: Workplace, db: Database
) -> None:
    ids = crowd(admin, 3)
    worked(admin, workplace.pool_id, ids, times=2)
    workplace.put("/user-restrictions", {"scope": "ALL_PROJECTS", "user_id": ids[2]})
    inbox = Table("audience_probe", MetaData(), Column("user_id", String(64)), prefixes=["TEMPORARY"])
    req = AudienceRequest(int(workplace.requester.id), "FILTER", recipients_filter=EVERYONE_EN)

    with db.transaction() as session:
        inbox.create(session.connection())
        session.execute(insert(inbox).from_select(["user_id"], audience_select(req, min_started=2)))
        delivered = set(session.execute(select(inbox.c.user_id)).scalars())
        counted = count_audience(session, req, min_started=2)
        total = session.execute(select(func.count()).select_from(inbox)).scalar_one()

    assert delivered == set(ids[:2])
    assert (counted.count, counted.banned, total) == (2, 1, 2)


BAD_FILTERS: list[tuple[Any, str, str]] = [
    ([], "recipients_filter", "OBJECT_EXPECTED"),
    ({"and": []}, "recipients_filter.and", "ARRAY_SIZE_LESS_THAN_MIN"),
    ({"and": {"category": "profile"}}, "recipients_filter.and", "ARRAY_EXPECTED"),
    ({"and": [], "or": []}, "recipients_filter", "MAX_ONE_PROPERTY_ALLOWED"),
    ({"and": ["EN"]}, "recipients_filter.and.0", "OBJECT_EXPECTED"),
    (
        {"and": [{"or": [{"category": "profile", "key": "shoe_size", "operator": "EQ", "value": 9}]}]},
        "recipients_filter.and.0.or.0.key",
        "UNKNOWN_ENUM_VALUE",
    ),
    (
        {"and": [{"category": "profile", "key": "os_family", "operator": "EQ", "value": "IOS"}]},
        "recipients_filter.and.0.key",
        "INVALID_VALUE",
    ),
    (
        {"and": [{"category": "secret", "key": "country", "operator": "EQ", "value": "GB"}]},
        "recipients_filter.and.0.category",
        "UNKNOWN_ENUM_VALUE",
    ),
    (
        {"and": [{"category": "profile", "key": "country", "operator": "GT", "value": "GB"}]},
        "recipients_filter.and.0.operator",
        "UNKNOWN_ENUM_VALUE",
    ),
    (
        {"and": [{"category": "profile", "key": "languages", "operator": "EQ", "value": "EN"}]},
        "recipients_filter.and.0.operator",
        "UNKNOWN_ENUM_VALUE",
    ),
    (
        {"and": [{"category": "profile", "key": "country", "operator": "EQ", "value": "gb"}]},
        "recipients_filter.and.0.value",
        "PATTERN_MISMATCH",
    ),
    (
        {"and": [{"category": "profile", "key": "adult_allowed", "operator": "EQ", "value": "true"}]},
        "recipients_filter.and.0.value",
        "BOOLEAN_EXPECTED",
    ),
    (
        {"and": [{"category": "profile", "key": "gender", "operator": "EQ", "value": "OTHER"}]},
        "recipients_filter.and.0.value",
        "UNKNOWN_ENUM_VALUE",
    ),
    (
        {"and": [{"category": "profile", "key": "date_of_birth", "operator": "LT", "value": 1.5}]},
        "recipients_filter.and.0.value",
        "INTEGER_EXPECTED",
    ),
    (
        {"and": [{"category": "computed", "key": "region_by_ip", "operator": "IN", "value": 10**30}]},
        "recipients_filter.and.0.value",
        "INTEGER_EXPECTED",
    ),
    (
        {"and": [{"category": "profile", "key": "date_of_birth", "operator": "LT", "value": None}]},
        "recipients_filter.and.0.value",
        "VALUE_REQUIRED",
    ),
    (
        {"and": [{"category": "skill", "key": "abc", "operator": "GT", "value": 5}]},
        "recipients_filter.and.0.key",
        "INVALID_VALUE",
    ),
    (
        {"and": [{"category": "skill", "key": "12", "operator": "GT", "value": 101}]},
        "recipients_filter.and.0.value",
        "VALUE_OUT_OF_BOUNDS",
    ),
    (
        {"and": [{"category": "skill", "key": "12", "operator": "IN", "value": 5}]},
        "recipients_filter.and.0.operator",
        "UNKNOWN_ENUM_VALUE",
    ),
    (
        {"and": [{"category": "profile", "key": "country", "operator": "EQ", "value": "GB", "extra": 1}]},
        "recipients_filter.and.0.extra",
        "VALUE_NOT_ALLOWED",
    ),
    (
        {"and": [{"category": "profile", "operator": "EQ", "value": "GB"}]},
        "recipients_filter.and.0.key",
        "VALUE_REQUIRED",
    ),
]


def _deep(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {"category": "profile", "key": "country", "operator": "EQ", "value": "GB"}
    for _ in range(depth):
        node = {"and": [node]}
    return node


def _large() -> dict[str, Any]:
    leaf = {"category": "computed", "key": "region_by_ip", "operator": "IN", "value": 225}
    return {"or": [leaf] * 200}


def test_bad_filters_are_400s_naming_the_path(admin: Admin, workplace: Workplace) -> None:
    cases = [
        *BAD_FILTERS,
        (_deep(40), "recipients_filter" + ".and.0" * 32 + ".and", "VALUE_GREATER_THAN_MAX"),
        (_large(), "recipients_filter", "OBJECT_SIZE_BYTES_GREATER_THAN_MAX"),
    ]
    assert len(json.dumps(_large())) > 10_000
    for flt, path, code in cases:
        response = workplace.http.post(
            "/api/v1/recipients/count", json={"recipients_select_type": "FILTER", "recipients_filter": flt}
        )
        body = response.json()
        assert response.status_code == 400, (flt, body)
        assert body["code"] == "VALIDATION_ERROR"
        assert list(body["payload"]) == [path], (flt, body)
        assert body["payload"][path]["code"] == code, (flt, body)
        assert path in body["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"recipients_select_type": "EVERYONE"}, "recipients_select_type"),
        ({"recipients_select_type": "DIRECT"}, "recipients_ids"),
        ({"recipients_select_type": "DIRECT", "recipients_ids": []}, "recipients_ids"),
        ({"recipients_select_type": "FILTER"}, "recipients_filter"),
    ],
)
def test_incomplete_requests_are_400s(workplace: Workplace, body: dict[str, Any], field: str) -> None:
    response = workplace.http.post("/api/v1/recipients/count", json=body)

    assert response.status_code == 400
    assert list(response.json()["payload"]) == [field]


def test_a_large_filter_audience_gets_room_to_hash_for_its_transaction_only(
    admin: Admin, workplace: Workplace, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL: a large requester's FILTER runs with AUDIENCE_WORK_MEM (its participation
    hashes spilled at the default 4 MB), set for the transaction, gone after it (no session
    state, as a transaction pooler needs); a small requester's and SQLite's run as they were."""
    ids = crowd(admin, 2)
    worked(admin, workplace.pool_id, ids)
    req = AudienceRequest(int(workplace.requester.id), "FILTER", recipients_filter=EVERYONE_EN)
    postgresql = db.engine.dialect.name == "postgresql"

    def work_mem_after_count() -> str | None:
        with db.transaction(write=False) as session:
            assert count_audience(session, req, min_started=1).count == 2
            if not postgresql:
                return None
            return str(session.execute(text("SELECT current_setting('work_mem')")).scalar_one())

    default = work_mem_after_count()
    monkeypatch.setattr(audience, "LARGE_AUDIENCE", 1)  # two Tolokers make this requester large
    raised = work_mem_after_count()
    monkeypatch.setattr(audience, "LARGE_AUDIENCE", 20_000)
    after = work_mem_after_count()

    if postgresql:
        assert raised == audience.AUDIENCE_WORK_MEM
        assert default == after != raised
    else:
        assert default is raised is after is None
