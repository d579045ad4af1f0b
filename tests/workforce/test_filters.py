"""The recipient-filter engine against a reference written in plain Python.

A fixed crowd with varied (and partly missing) profiles, skills and languages is fed in
through the API; every documented key/operator pair, and random nested filters, must
select exactly the Tolokers the reference selects. The reference spells out the
documented semantics: NE/NOT_IN are the complements of EQ/IN (unknown values match
them), ordered comparisons need a value, `value: null` on a skill means "no value".
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, update

from crowdpost.db import Database
from crowdpost.kit.timefmt import utcnow
from crowdpost.models import Toloker, UserSkill
from crowdpost.workforce.filters import KEYS, Operator, SkillJoins, compile_filter, parse_filter
from crowdpost.workforce.repository import audience as audience_repository
from crowdpost.workforce.schemas import AudienceRequest
from crowdpost.workforce.service.audience import audience_select, count_audience
from tests.fixtures.factories import Admin
from tests.workforce.conftest import Workplace, make_workplace, worked

VERSIONS = ["9", "10.3", "14.2.1", "17.0", None]
REGIONS = [84, 102, 225, None]


def _profile(rng: random.Random, index: int) -> dict[str, Any]:
    def maybe(values: list[Any]) -> Any:
        return rng.choice([*values, None]) if index % 5 else None

    return {
        "languages": rng.sample(["EN", "RU", "DE", "FR"], k=rng.randint(0, 2)),
        "country": maybe(["GB", "US", "RU"]),
        "citizenship": maybe(["GB", "US"]),
        "city": maybe([213, 2]),
        "gender": maybe(["MALE", "FEMALE"]),
        "date_of_birth": maybe([0, 631152000, 946684800, -315619200]),
        "education": maybe(["BASIC", "MIDDLE", "HIGH"]),
        "adult_allowed": maybe([True, False]),
        "verified": maybe([True, False]),
        "region_by_phone": maybe(REGIONS[:-1]),
        "region_by_ip": maybe(REGIONS[:-1]),
        "client_type": maybe(["BROWSER", "TOLOKA_APP"]),
        "os_family": maybe(["WINDOWS", "ANDROID", "IOS"]),
        "os_version": maybe(VERSIONS[:-1]),
        "device_category": maybe(["PERSONAL_COMPUTER", "SMARTPHONE"]),
        "user_agent_type": maybe(["BROWSER", "MOBILE_BROWSER"]),
        "user_agent_family": maybe(["CHROME", "FIREFOX"]),
        "user_agent_version": maybe(VERSIONS[:-1]),
    }


def _stored(profile: dict[str, Any]) -> dict[str, Any]:
    """The profile as filters see it: versions split into value/major/minor/bugfix."""
    row = dict(profile)
    for key in ("os_version", "user_agent_version"):
        raw = profile[key]
        parts = raw.split(".") if raw else []
        row[key] = Decimal(".".join(parts[:2])) if parts else None
        for i, part in enumerate(("major", "minor", "bugfix")):
            row[f"{key}_{part}"] = int(parts[i]) if len(parts) > i else None
    return row


@dataclass
class Crowd:
    workplace: Workplace
    db: Database
    people: dict[str, dict[str, Any]]  # id -> stored profile
    skills: dict[str, dict[str, Decimal]]  # skill id -> {user id: value}
    eligible: set[str]  # worked for the requester and not banned
    foreign_skill: str  # another requester's skill

    def select(self, flt: dict[str, Any]) -> set[str]:
        """The audience, checked to be the same under every query plan: scanning Tolokers,
        walking the requester's, and (PostgreSQL's for a large requester) skills as joins."""
        req = AudienceRequest(int(self.workplace.requester.id), "FILTER", recipients_filter=flt)
        with self.db.transaction(write=False) as session:
            scanned = set(session.execute(audience_select(req, min_started=2, large=True)).scalars())
            walked = set(session.execute(audience_select(req, min_started=2, large=False)).scalars())
            joined = audience_select(req, min_started=2, large=True, skills_joined=True)
            joined_ids = session.execute(joined).scalars().all()
        assert scanned == walked, flt
        assert sorted(joined_ids) == sorted(scanned), flt  # also: no Toloker twice
        return scanned

    def expected(self, flt: dict[str, Any]) -> set[str]:
        return {uid for uid in self.eligible if _matches(flt, self.people[uid], self, uid)}


def _compare(value: Any, operator: str, wanted: Any) -> bool:
    if wanted is None:
        return (value is None) == (operator in ("EQ", "IN"))
    if operator in ("EQ", "IN"):
        return value is not None and value == wanted
    if operator in ("NE", "NOT_IN"):
        return not (value is not None and value == wanted)
    if value is None:
        return False
    compared: dict[str, bool] = {
        "GT": value > wanted,
        "GTE": value >= wanted,
        "LT": value < wanted,
        "LTE": value <= wanted,
    }
    return compared[operator]


def _matches(node: dict[str, Any], person: dict[str, Any], crowd: Crowd, uid: str) -> bool:
    if "and" in node:
        return all(_matches(m, person, crowd, uid) for m in node["and"])
    if "or" in node:
        return any(_matches(m, person, crowd, uid) for m in node["or"])
    key, operator, wanted = node["key"], node["operator"], node.get("value")
    if node["category"] == "skill":
        value = crowd.skills.get(key, {}).get(uid)
        return _compare(value, operator, None if wanted is None else Decimal(str(wanted)))
    if key == "languages":
        listed: bool = (wanted in person["languages"]) == (operator == "IN")
        return listed
    if wanted == "UNKNOWN":
        wanted = None
    return _compare(person[key], operator, Decimal(str(wanted)) if isinstance(wanted, float) else wanted)


@pytest.fixture
def crowd(admin: Admin, workplace: Workplace, db: Database, server_url: str) -> Crowd:
    rng = random.Random(20261123)
    profiles = [_profile(rng, i) for i in range(30)]
    ids = admin.create_tolokers(profiles)
    people = {uid: _stored(p) for uid, p in zip(ids, profiles, strict=True)}
    worked(admin, workplace.pool_id, ids[:27])  # the last three never worked for this requester
    worked(admin, workplace.pool_id, ids[:10])

    skills: dict[str, dict[str, Decimal]] = {}
    for name in ("A", "B"):
        skill_id = workplace.post("/skills", {"name": name})["id"]
        skills[skill_id] = {}
        # Skill values go only to Tolokers who worked for this requester (the others get a 400).
        for uid in rng.sample(ids[:27], 18):
            value = Decimal(rng.choice(["0", "50", "59.7", "80", "99.999999", "100"]))
            workplace.put("/user-skills", {"skill_id": skill_id, "user_id": uid, "value": str(value)})
            skills[skill_id][uid] = value
    expiring_skill = next(iter(skills))
    lapsed = next(iter(skills[expiring_skill]))
    with db.transaction() as session:  # as if the skill's TTL ran out
        session.execute(update(UserSkill).where(UserSkill.user_id == lapsed).values(expires=utcnow()))
    for values in skills.values():
        values.pop(lapsed, None)

    banned = ids[3]
    workplace.put("/user-restrictions", {"scope": "ALL_PROJECTS", "user_id": banned})

    with httpx.Client(base_url=server_url, timeout=30) as other_http:
        other = admin.create_requester()
        other_http.headers["Authorization"] = f"OAuth {other.token}"
        theirs = make_workplace(admin, other_http, other)
        worked(admin, theirs.pool_id, [ids[0]])
        foreign = theirs.post("/skills", {"name": "theirs"})["id"]
        theirs.put("/user-skills", {"skill_id": foreign, "user_id": ids[0], "value": "90"})
    eligible = set(ids[:27]) - {banned}
    return Crowd(workplace, db, people, skills, eligible, foreign)


def _values(crowd: Crowd, key: str) -> list[Any]:
    spec = KEYS[key]
    seen = {p[key] for p in crowd.people.values() if key != "languages"} - {None}
    if key == "languages":
        return ["EN", "DE", "ZH"]
    values: list[Any] = sorted(seen, key=str)
    if spec.kind == "enum":
        values.append("UNKNOWN")
    if spec.kind == "decimal":
        values = [float(v) for v in values]
    if Operator.EQ in spec.operators or Operator.IN in spec.operators:
        values.append(None)
    return values


def _every_leaf(crowd: Crowd) -> Iterator[dict[str, Any]]:
    operator: str
    for key, spec in KEYS.items():
        for operator in sorted(spec.operators):
            for value in _values(crowd, key):
                if value is None and operator not in ("EQ", "NE", "IN", "NOT_IN"):
                    continue
                yield {"category": spec.category, "key": key, "operator": operator, "value": value}
    for skill_id in [*crowd.skills, crowd.foreign_skill, "999999"]:
        for operator in ("EQ", "NE", "GT", "GTE", "LT", "LTE"):
            for value in (None, 0, 50, 59.7, 80, 99.999999, 100):
                if value is None and operator not in ("EQ", "NE"):
                    continue
                yield {"category": "skill", "key": skill_id, "operator": operator, "value": value}


def test_every_key_and_operator_selects_what_the_reference_selects(crowd: Crowd) -> None:
    sizes = []
    for leaf in _every_leaf(crowd):
        flt = {"and": [leaf]}
        selected = crowd.select(flt)
        assert selected == crowd.expected(flt), leaf
        sizes.append(len(selected))
    assert len(sizes) > 300
    # The crowd is varied enough that conditions split it rather than select all or none.
    assert sum(0 < n < len(crowd.eligible) for n in sizes) > len(sizes) / 2


def test_null_skill_value_means_no_value_and_expired_values_are_unset(crowd: Crowd) -> None:
    skill_id, holders = next(iter(crowd.skills.items()))
    without = {"and": [{"category": "skill", "key": skill_id, "operator": "EQ", "value": None}]}
    with_ = {"and": [{"category": "skill", "key": skill_id, "operator": "NE", "value": None}]}
    omitted = {"and": [{"category": "skill", "key": skill_id, "operator": "EQ"}]}

    assert crowd.select(with_) == crowd.eligible & set(holders)
    assert crowd.select(without) == crowd.eligible - set(holders)
    assert crowd.select(omitted) == crowd.select(without)


def test_another_requesters_skill_matches_nobody(crowd: Crowd) -> None:
    flt = {"and": [{"category": "skill", "key": crowd.foreign_skill, "operator": "GT", "value": 10}]}

    assert crowd.select(flt) == set()


def _leaves(crowd: Crowd) -> st.SearchStrategy[dict[str, Any]]:
    return st.sampled_from(list(_every_leaf(crowd)))


def _trees(crowd: Crowd) -> st.SearchStrategy[dict[str, Any]]:
    return st.recursive(
        _leaves(crowd),
        lambda children: st.builds(
            lambda conj, members: {conj: members},
            st.sampled_from(["and", "or"]),
            st.lists(children, min_size=1, max_size=3),
        ),
        max_leaves=8,
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_nested_filters_select_what_the_reference_selects(crowd: Crowd, data: st.DataObject) -> None:
    tree = data.draw(_trees(crowd))
    flt = tree if ("and" in tree or "or" in tree) else {"and": [tree]}

    assert crowd.select(flt) == crowd.expected(flt), flt


def _skill(skill_id: str, operator: str, value: Any) -> dict[str, Any]:
    return {"category": "skill", "key": skill_id, "operator": operator, "value": value}


def _joined_tests(flt: dict[str, Any]) -> int:
    compiled = compile_filter(parse_filter(flt), requester_id=1, user_id=Toloker.id, skills_joined=True)
    return len(compiled.outer_joins)


def test_skills_are_joined_only_when_every_probe_of_the_filter_becomes_a_join() -> None:
    """`SkillJoins.pay_off`: the joins exist to let PostgreSQL scan Tolokers in parallel,
    which any sub-plan left in the condition prevents."""
    gb = {"category": "profile", "key": "country", "operator": "EQ", "value": "GB"}
    pool = {"category": "assignment", "key": "pool_id", "operator": "EQ", "value": "5"}
    either = {"or": [_skill("1", "GT", 70), _skill("2", "EQ", None)]}

    assert _joined_tests({"and": [gb, either]}) == 2
    # One test named twice is one join; a negation at the top is a probe too.
    assert _joined_tests({"and": [{"or": [_skill("1", "GT", 70), gb]}, {"or": [_skill("1", "GT", 70)]}]}) == 1
    assert _joined_tests({"and": [_skill("1", "EQ", None)]}) == 1  # "has no value"
    # A set every recipient is in stays a set (a semi-join, parallel as it is).
    assert _joined_tests({"and": [gb, _skill("1", "GT", 70)]}) == 0
    # A participation probe keeps a sub-plan: nothing is joined.
    assert _joined_tests({"and": [gb, {"or": [pool, _skill("1", "GT", 70)]}]}) == 0
    # More distinct tests than SkillJoins.MAX_JOINED: nothing is joined.
    many = [_skill("1", "GT", v) for v in range(SkillJoins.MAX_JOINED + 1)]
    assert _joined_tests({"or": many}) == 0
    assert _joined_tests({"or": many[:-1]}) == SkillJoins.MAX_JOINED


def test_a_large_requesters_skill_probes_are_joins_on_postgresql_only(
    crowd: Crowd, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the service, as a send and a dry run plan it: PostgreSQL joins the skills of
    a large requester's filter, SQLite keeps its probes, and both count the same."""
    skill_a, skill_b = list(crowd.skills)
    flt = {"or": [_skill(skill_a, "GT", 70), _skill(skill_b, "EQ", None)]}
    req = AudienceRequest(int(crowd.workplace.requester.id), "FILTER", recipients_filter=flt)
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    monkeypatch.setattr(audience_repository, "LARGE_AUDIENCE", 1)  # this crowd is "large"
    event.listen(crowd.db.engine, "before_cursor_execute", seen)
    try:
        with crowd.db.transaction(write=False) as session:
            counted = count_audience(session, req, min_started=2)
    finally:
        event.remove(crowd.db.engine, "before_cursor_execute", seen)

    joined = [s for s in statements if "LEFT OUTER JOIN user_skills AS skill_2" in s]
    assert len(joined) == (1 if crowd.db.engine.dialect.name == "postgresql" else 0)
    assert counted.count == len(crowd.expected(flt)) > 0
