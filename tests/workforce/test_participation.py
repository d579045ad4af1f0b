"""Audiences by participation (`"category": "assignment"` filter leaves) on both backends.

A requester with two projects (pools A and B in the first, C in the second) and another
requester with pool D; random assignments over those pools, statuses and times are written
through the import service in a transaction that is rolled back after each example, and the
SQL audience must equal a plain-Python model of the documented rule: at least `min_count` of
this requester's assignments in the pools named (or the pools of the projects named), with
one of the statuses (if given), created at or after `since` (if given); NE/NOT_IN the
complement; among the Tolokers who worked for the requester and are not banned.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from crowdpost.db import Database
from crowdpost.kit.ids import parse_id
from crowdpost.models import TolokerThread
from crowdpost.rewards import group_bonus
from crowdpost.workforce.participation import STATUSES
from crowdpost.workforce.schemas import AssignmentIn, AudienceRequest
from crowdpost.workforce.service.audience import audience_select
from crowdpost.workforce.service.imports import do_import_assignments
from tests.fixtures.factories import Admin
from tests.messaging.helpers import compose_body
from tests.workforce.conftest import PROJECT_BODY, Workplace, make_workplace

START = datetime(2026, 11, 1)
TIMES = [START + timedelta(hours=12 * k) for k in range(6)]
TOLOKERS = 8
MISSING_ID = "999999999999"


@dataclass(frozen=True)
class Row:
    """One assignment of the model: Toloker index, pool name, status, index into TIMES."""

    who: int
    pool: str
    status: str
    when: int


@dataclass
class Place:
    workplace: Workplace
    db: Database
    tolokers: list[str]
    countries: dict[str, str]
    pools: dict[str, str]  # A, B, C (ours), D (another requester's) -> public id
    projects: dict[str, str]  # P1 (A, B), P2 (C), P3 (theirs, D) -> public id
    project_of: dict[str, str]  # pool name -> project name
    banned: str

    @property
    def requester_id(self) -> int:
        return int(self.workplace.requester.id)

    def write(self, session: Any, rows: list[Row]) -> None:
        items = [
            AssignmentIn.model_validate(
                {
                    "user_id": self.tolokers[row.who],
                    "pool_id": self.pools[row.pool],
                    "status": row.status,
                    "created": TIMES[row.when].isoformat(),
                }
            )
            for row in rows
        ]
        if items:
            do_import_assignments(session, items)

    def selected(self, session: Any, flt: dict[str, Any]) -> set[str]:
        """The audience under both query plans (scan every Toloker, walk the requester's)."""
        req = AudienceRequest(self.requester_id, "FILTER", recipients_filter=flt)
        scanned = set(session.execute(audience_select(req, min_started=2, large=True)).scalars())
        walked = set(session.execute(audience_select(req, min_started=2, large=False)).scalars())
        assert scanned == walked, flt
        return scanned


@pytest.fixture
def place(admin: Admin, workplace: Workplace, db: Database, server_url: str) -> Place:
    countries = ["GB" if i % 2 else "US" for i in range(TOLOKERS)]
    ids = admin.create_tolokers([{"languages": ["EN"], "country": c} for c in countries])
    second = workplace.post("/projects", PROJECT_BODY)["id"]
    pool_c = workplace.post("/pools", {"project_id": second, "private_name": "c"})["id"]
    with httpx.Client(base_url=server_url, timeout=30) as other_http:
        other = admin.create_requester()
        other_http.headers["Authorization"] = f"OAuth {other.token}"
        theirs = make_workplace(admin, other_http, other)
    banned = ids[-1]
    # A ban needs a Toloker who worked for the requester: this assignment stays (the random
    # ones are rolled back with each example); the banned Toloker is in no audience anyway.
    admin.add_assignments([{"user_id": banned, "pool_id": workplace.pool_id, "status": "ACTIVE"}])
    workplace.put("/user-restrictions", {"scope": "ALL_PROJECTS", "user_id": banned})
    return Place(
        workplace,
        db,
        ids,
        dict(zip(ids, countries, strict=True)),
        {"A": workplace.pool_id, "B": workplace.new_pool(), "C": pool_c, "D": theirs.pool_id},
        {"P1": workplace.project_id, "P2": second, "P3": theirs.project_id},
        {"A": "P1", "B": "P1", "C": "P2", "D": "P3"},
        banned,
    )


# ------------------------------------------------------------------------------------------- the model


def _numbers(value: Any) -> set[int]:
    values = value if isinstance(value, list) else [value]
    return {int(v) for v in values}


def _leaf_holds(place: Place, leaf: dict[str, Any], rows: list[Row], uid: str) -> bool:
    if leaf["category"] == "profile":
        same: bool = place.countries[uid] == leaf["value"]
        return same
    wanted = _numbers(leaf["value"])
    ours = {"A", "B", "C"}  # the calling requester's pools
    if leaf["key"] == "pool_id":
        pools = {name for name in ours if int(place.pools[name]) in wanted}
    else:
        pools = {name for name in ours if int(place.projects[place.project_of[name]]) in wanted}
    since = datetime.fromisoformat(leaf["since"]) if "since" in leaf else None
    count = sum(
        1
        for row in rows
        if place.tolokers[row.who] == uid
        and row.pool in pools
        and ("status" not in leaf or row.status in leaf["status"])
        and (since is None or TIMES[row.when] >= since)
    )
    held = count >= leaf.get("min_count", 1)
    return not held if leaf["operator"] in ("NE", "NOT_IN") else held


def _holds(place: Place, node: dict[str, Any], rows: list[Row], uid: str) -> bool:
    if "and" in node:
        return all(_holds(place, m, rows, uid) for m in node["and"])
    if "or" in node:
        return any(_holds(place, m, rows, uid) for m in node["or"])
    return _leaf_holds(place, node, rows, uid)


def expected(place: Place, flt: dict[str, Any], rows: list[Row]) -> set[str]:
    # FILTER audiences: Tolokers who worked for this requester (any of its pools, any status), not banned.
    worked = {place.tolokers[row.who] for row in rows if row.pool != "D"}
    return {uid for uid in worked - {place.banned} if _holds(place, flt, rows, uid)}


# ------------------------------------------------------------------------------------------- strategies


def _rows() -> st.SearchStrategy[list[Row]]:
    row = st.builds(
        Row,
        st.integers(0, TOLOKERS - 1),
        st.sampled_from(["A", "B", "C", "D"]),
        st.sampled_from(STATUSES),
        st.integers(0, len(TIMES) - 1),
    )
    return st.lists(row, min_size=4, max_size=40)


def _an_id(public: str) -> st.SearchStrategy[str]:
    return st.sampled_from([public, str(int(public))])  # "000000000012" and "12" are the same id


@st.composite
def _participation(draw: st.DrawFn, place: Place) -> dict[str, Any]:
    key = draw(st.sampled_from(["pool_id", "project_id"]))
    choices = list((place.pools if key == "pool_id" else place.projects).values())
    choices += [choices[0], MISSING_ID]  # ours more often than no such id
    operator = draw(st.sampled_from(["EQ", "NE", "IN", "NOT_IN"]))
    some_id = st.sampled_from(choices).flatmap(_an_id)
    value: Any = draw(some_id if operator in ("EQ", "NE") else st.one_of(some_id, st.lists(some_id, min_size=1)))
    leaf: dict[str, Any] = {"category": "assignment", "key": key, "operator": operator, "value": value}
    if draw(st.booleans()):
        leaf["status"] = draw(st.lists(st.sampled_from(STATUSES), min_size=1, max_size=3))
    if draw(st.booleans()):
        leaf["min_count"] = draw(st.integers(1, 3))
    if draw(st.booleans()):
        # TIMES and the moments between them: `since` includes a row created exactly then.
        moment = draw(st.integers(0, 2 * len(TIMES)))
        leaf["since"] = (START + timedelta(hours=6 * moment)).isoformat()
    return leaf


def _trees(place: Place) -> st.SearchStrategy[dict[str, Any]]:
    country = st.sampled_from(["GB", "US"]).map(
        lambda c: {"category": "profile", "key": "country", "operator": "EQ", "value": c}
    )
    leaves = st.one_of(_participation(place), _participation(place), country)
    return st.recursive(
        leaves,
        lambda children: st.builds(
            lambda conj, members: {conj: members},
            st.sampled_from(["and", "or"]),
            st.lists(children, min_size=1, max_size=3),
        ),
        max_leaves=5,
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_participation_audiences_equal_the_model(place: Place, data: st.DataObject) -> None:
    rows = data.draw(_rows(), label="assignments")
    leaves = data.draw(st.lists(_participation(place), min_size=1, max_size=4), label="leaves")
    tree = data.draw(_trees(place), label="filter")
    # Each leaf alone in both forms it compiles to (a conjunct of the top-level "and": an IN
    # set; inside an "or": an EXISTS probe), then a random tree mixing them with a profile term.
    filters = [{conj: [leaf]} for leaf in leaves for conj in ("and", "or")]
    filters.append(tree if ("and" in tree or "or" in tree) else {"and": [tree]})
    session = place.db.session()
    try:
        place.write(session, rows)
        selected = [place.selected(session, flt) for flt in filters]
    finally:
        session.rollback()
        session.close()

    for flt, audience in zip(filters, selected, strict=True):
        assert audience == expected(place, flt, rows), flt


# ------------------------------------------------------------------------------------------- fixed cases


def _assignment(key: str, operator: str, value: Any, **extra: Any) -> dict[str, Any]:
    return {"category": "assignment", "key": key, "operator": operator, "value": value, **extra}


def _count(workplace: Workplace, flt: dict[str, Any]) -> dict[str, Any]:
    body = {"recipients_select_type": "FILTER", "recipients_filter": flt}
    response = workplace.http.post("/api/v1/recipients/count", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_pools_projects_statuses_counts_and_windows_through_the_api(admin: Admin, place: Place) -> None:
    t = place.tolokers
    day = "T00:00:00"
    admin.add_assignments(
        [
            {"user_id": t[0], "pool_id": place.pools["A"], "status": "ACCEPTED", "created": f"2026-11-01{day}"},
            {"user_id": t[0], "pool_id": place.pools["B"], "status": "ACCEPTED", "created": f"2026-11-05{day}"},
            {"user_id": t[1], "pool_id": place.pools["A"], "status": "REJECTED", "created": f"2026-11-05{day}"},
            {"user_id": t[2], "pool_id": place.pools["C"], "status": "SUBMITTED", "created": f"2026-11-02{day}"},
            {"user_id": t[3], "pool_id": place.pools["D"], "status": "ACCEPTED"},  # theirs only
        ]
    )
    a, b, c = place.pools["A"], place.pools["B"], place.pools["C"]

    def audience(*leaves: dict[str, Any], conjunction: str = "and") -> set[str]:
        with place.db.transaction(write=False) as session:
            return place.selected(session, {conjunction: list(leaves)})

    # The banned Toloker (who also worked in A) is left out of every audience.
    assert audience(_assignment("pool_id", "EQ", a)) == {t[0], t[1]}
    assert _count(place.workplace, {"and": [_assignment("pool_id", "EQ", a)]}) == {
        "count": 2,
        "excluded": {"banned": 1, "unknown": 0},
    }
    assert audience(_assignment("pool_id", "IN", [a, c])) == {t[0], t[1], t[2]}
    assert audience(_assignment("pool_id", "IN", str(int(b)))) == {t[0]}
    assert audience(_assignment("project_id", "EQ", place.projects["P1"])) == {t[0], t[1]}
    assert audience(_assignment("project_id", "EQ", place.projects["P1"], min_count=2)) == {t[0]}
    assert audience(_assignment("project_id", "NOT_IN", [place.projects["P1"]])) == {t[2]}
    assert audience(_assignment("pool_id", "EQ", a, status=["ACCEPTED", "SUBMITTED"])) == {t[0]}
    assert audience(_assignment("pool_id", "IN", [a, b], since="2026-11-05T00:00:00")) == {t[0], t[1]}
    assert audience(_assignment("pool_id", "IN", [a, b], since="2026-11-05T00:00:00.001")) == set()
    # An aware `since` is converted to UTC: 01:00+01:00 is midnight UTC, so the 5th counts.
    assert audience(_assignment("pool_id", "EQ", a, since="2026-11-05T01:00:00+01:00")) == {t[1]}
    assert audience(
        _assignment("pool_id", "EQ", a, status="ACCEPTED"), _assignment("pool_id", "EQ", c), conjunction="or"
    ) == {t[0], t[2]}


def test_another_requesters_pool_or_project_selects_nobody(admin: Admin, place: Place) -> None:
    t = place.tolokers
    # t0 worked for both requesters: in their pool D, and in our pool A.
    admin.add_assignments(
        [
            {"user_id": t[0], "pool_id": place.pools["D"], "status": "ACCEPTED"},
            {"user_id": t[0], "pool_id": place.pools["A"], "status": "ACCEPTED"},
            {"user_id": t[1], "pool_id": place.pools["C"], "status": "ACCEPTED"},
        ]
    )
    theirs = [
        _assignment("pool_id", "EQ", place.pools["D"]),
        _assignment("pool_id", "IN", [place.pools["D"]]),
        _assignment("project_id", "EQ", place.projects["P3"]),
        _assignment("project_id", "IN", [place.projects["P3"], MISSING_ID], status=["ACCEPTED"]),
    ]
    for leaf in theirs:
        assert _count(place.workplace, {"and": [leaf]})["count"] == 0, leaf
        assert _count(place.workplace, {"or": [leaf]})["count"] == 0, leaf
        # Their complement is everyone who worked for us: nothing about pool D shows through.
        negated = {**leaf, "operator": "NE" if leaf["operator"] == "EQ" else "NOT_IN"}
        assert _count(place.workplace, {"and": [negated]})["count"] == 2, negated


def test_a_filter_compose_reaches_exactly_the_participants(admin: Admin, place: Place) -> None:
    t = place.tolokers
    admin.add_assignments(
        [
            {"user_id": t[0], "pool_id": place.pools["A"], "status": "ACCEPTED"},
            {"user_id": t[1], "pool_id": place.pools["A"], "status": "REJECTED"},
            {"user_id": t[2], "pool_id": place.pools["C"], "status": "ACCEPTED"},
            {"user_id": t[3], "pool_id": place.pools["D"], "status": "ACCEPTED"},
        ]
    )
    flt = {
        "and": [
            _assignment("project_id", "IN", [place.projects["P1"], place.projects["P2"]], status=["ACCEPTED"]),
            {"category": "profile", "key": "languages", "operator": "IN", "value": "EN"},
        ]
    }
    dry = place.workplace.http.post(
        "/api/v1/message-threads/compose",
        params={"dry_run": "true"},
        json=compose_body("FILTER", recipients_filter=flt),
    )
    sent = place.workplace.post("/message-threads/compose", compose_body("FILTER", recipients_filter=flt))

    with place.db.transaction(write=False) as session:
        number = parse_id(sent["id"])
        reached = set(session.execute(select(TolokerThread.user_id).where(TolokerThread.thread_id == number)).scalars())
    assert dry.status_code == 200, dry.text
    assert dry.json()["recipients_count"] == 2
    assert reached == {t[0], t[2]}


def test_a_group_bonus_plans_the_same_participants(admin: Admin, place: Place) -> None:
    t = place.tolokers
    admin.add_assignments(
        [
            {"user_id": t[0], "pool_id": place.pools["B"], "status": "ACCEPTED"},
            {"user_id": t[0], "pool_id": place.pools["B"], "status": "ACCEPTED"},
            {"user_id": t[1], "pool_id": place.pools["B"], "status": "ACCEPTED"},
            {"user_id": t[2], "pool_id": place.pools["D"], "status": "ACCEPTED"},
        ]
    )
    flt = {"and": [_assignment("pool_id", "IN", [place.pools["B"], place.pools["D"]], min_count=2)]}

    with place.db.transaction(write=False) as session:
        planned = group_bonus.plan(session, place.requester_id, group_bonus.Audience("FILTER", recipients_filter=flt))
        members = set(session.execute(planned.members).scalars())

    assert (planned.counts.count, members) == (1, {t[0]})


BAD_LEAVES: list[tuple[dict[str, Any], str, str]] = [
    (_assignment("task_id", "EQ", "12"), "key", "UNKNOWN_ENUM_VALUE"),
    (_assignment("pool_id", "GT", "12"), "operator", "UNKNOWN_ENUM_VALUE"),
    (_assignment("pool_id", "EQ", None), "value", "VALUE_REQUIRED"),
    (_assignment("pool_id", "EQ", ["12", "13"]), "value", "STRING_EXPECTED"),
    (_assignment("pool_id", "IN", []), "value", "ARRAY_SIZE_LESS_THAN_MIN"),
    (_assignment("pool_id", "IN", ["12", "x"]), "value.1", "INVALID_VALUE"),
    (_assignment("pool_id", "EQ", "1" * 19), "value", "INVALID_VALUE"),
    (_assignment("project_id", "EQ", True), "value", "INVALID_VALUE"),
    (_assignment("pool_id", "EQ", "12", status=["DONE"]), "status.0", "UNKNOWN_ENUM_VALUE"),
    (_assignment("pool_id", "EQ", "12", status="accepted"), "status", "UNKNOWN_ENUM_VALUE"),
    (_assignment("pool_id", "EQ", "12", status=[]), "status", "ARRAY_SIZE_LESS_THAN_MIN"),
    (_assignment("pool_id", "EQ", "12", status={"ACCEPTED": 1}), "status", "ARRAY_EXPECTED"),
    (_assignment("pool_id", "EQ", "12", min_count=0), "min_count", "VALUE_LESS_THAN_MIN"),
    (_assignment("pool_id", "EQ", "12", min_count=-3), "min_count", "VALUE_LESS_THAN_MIN"),
    (_assignment("pool_id", "EQ", "12", min_count=1.5), "min_count", "INTEGER_EXPECTED"),
    (_assignment("pool_id", "EQ", "12", min_count="2"), "min_count", "INTEGER_EXPECTED"),
    (_assignment("pool_id", "EQ", "12", min_count=10**7), "min_count", "VALUE_GREATER_THAN_MAX"),
    (_assignment("pool_id", "EQ", "12", since="yesterday"), "since", "INVALID_DATE_TIME_SYNTAX"),
    (_assignment("pool_id", "EQ", "12", since="2026-13-01T00:00:00"), "since", "INVALID_DATE_TIME_SYNTAX"),
    (_assignment("pool_id", "EQ", "12", since=1700000000), "since", "INVALID_DATE_TIME_SYNTAX"),
    (_assignment("pool_id", "EQ", "12", since="2" * 5000), "since", "INVALID_DATE_TIME_SYNTAX"),
    (_assignment("pool_id", "EQ", "12", since="0001-01-01T00:00:00+05:00"), "since", "INVALID_DATE_TIME_SYNTAX"),
    (_assignment("pool_id", "EQ", "12", extra=1), "extra", "VALUE_NOT_ALLOWED"),
    # The extra fields belong to assignment leaves only.
    (
        {"category": "profile", "key": "country", "operator": "EQ", "value": "GB", "min_count": 2},
        "min_count",
        "VALUE_NOT_ALLOWED",
    ),
]


def test_bad_participation_leaves_are_400s_naming_the_field(workplace: Workplace) -> None:
    for leaf, field, code in BAD_LEAVES:
        flt = {"and": [{"or": [leaf]}]}
        response = workplace.http.post(
            "/api/v1/recipients/count", json={"recipients_select_type": "FILTER", "recipients_filter": flt}
        )
        body = response.json()
        path = f"recipients_filter.and.0.or.0.{field}"
        assert response.status_code == 400, (leaf, body)
        assert body["code"] == "VALIDATION_ERROR", body
        assert list(body["payload"]) == [path], (leaf, body)
        assert body["payload"][path]["code"] == code, (leaf, body)
        assert path in body["message"]


def test_the_dry_run_documents_the_assignment_category(http: httpx.Client) -> None:
    openapi = http.get("/openapi.json").json()
    description = openapi["paths"]["/api/v1/recipients/count"]["post"]["description"]

    assert '"category": "assignment"' in description
    for word in ("pool_id", "project_id", "status", "min_count", "since", "NOT_IN"):
        assert word in description, word
