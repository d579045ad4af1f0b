"""The real toloka-kit 1.2.3 against a live server: every workforce method the issue names."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from toloka.client import Assignment, Pool, Project, TolokaClient
from toloka.client.exceptions import IncorrectActionsApiError
from toloka.client.filter import FilterOr, Languages, RegionByIp, Skill
from toloka.client.project.field_spec import StringSpec
from toloka.client.project.task_spec import TaskSpec
from toloka.client.project.view_spec import ClassicViewSpec
from toloka.client.search_requests import (
    AssignmentSearchRequest,
    SkillSearchRequest,
    UserRestrictionSearchRequest,
    UserSkillSearchRequest,
)
from toloka.client.user_restriction import AllProjectsUserRestriction, PoolUserRestriction, ProjectUserRestriction
from toloka.client.user_skill import SetUserSkillRequest

from tests.fixtures.factories import Admin, RequesterInfo
from tests.workforce.conftest import Workplace, worked


@pytest.fixture
def client(server_url: str, requester: RequesterInfo) -> TolokaClient:
    return TolokaClient(requester.token, url=server_url, retries=0)


def test_create_find_and_get_skill(client: TolokaClient) -> None:
    created = client.create_skill(
        name="Accuracy",
        hidden=False,
        skill_ttl_hours=24,
        training=False,
        public_name={"EN": "Accuracy"},
        public_requester_description={"EN": "How accurate"},
    )
    client.create_skill(name="Speed")

    found = client.find_skills(SkillSearchRequest(name="Accuracy"))
    assert created.id is not None
    fetched = client.get_skill(created.id)

    assert created.id
    assert created.created is not None
    assert found.items is not None
    assert [s.id for s in found.items] == [created.id]
    assert found.has_more is False
    assert fetched.name == "Accuracy"
    assert fetched.hidden is False
    assert fetched.skill_ttl_hours == 24
    assert fetched.public_name == {"EN": "Accuracy"}
    speed = client.find_skills(SkillSearchRequest(name="Speed")).items
    assert speed is not None
    assert speed[0].id is not None
    assert client.get_skill(speed[0].id).hidden is True


def test_set_get_and_delete_user_skills(client: TolokaClient, admin: Admin, workplace: Workplace) -> None:
    skill = client.create_skill(name="Quality")
    people = admin.create_tolokers([{"languages": ["EN"]} for _ in range(5)])
    worked(admin, workplace.pool_id, people)

    first = client.set_user_skill(SetUserSkillRequest(skill_id=skill.id, user_id=people[0], value=Decimal("85.5")))
    for uid, value in zip(people[1:], ("10", "20.25", "99.999", "100"), strict=True):
        client.set_user_skill(skill_id=skill.id, user_id=uid, value=Decimal(value))
    updated = client.set_user_skill(skill_id=skill.id, user_id=people[0], value=Decimal("70.4"))

    listed = list(client.get_user_skills(UserSkillSearchRequest(skill_id=skill.id), batch_size=2))

    assert first.value == 86
    assert first.exact_value == Decimal("85.5")
    assert updated.id == first.id
    assert updated.value == 70
    assert updated.exact_value == Decimal("70.4")
    assert isinstance(updated.exact_value, Decimal)
    assert [u.user_id for u in listed] == people
    assert [u.exact_value for u in listed] == [Decimal(v) for v in ("70.4", "10", "20.25", "99.999", "100")]

    assert first.id is not None
    client.delete_user_skill(first.id)

    remaining = list(client.get_user_skills(UserSkillSearchRequest(skill_id=skill.id), batch_size=10))
    assert [u.user_id for u in remaining] == people[1:]


def test_set_find_and_delete_user_restrictions(client: TolokaClient, admin: Admin, workplace: Workplace) -> None:
    uid, other = admin.create_tolokers([{"languages": ["EN"]}, {"languages": ["EN"]}])
    worked(admin, workplace.pool_id, [uid, other])
    expires = datetime.datetime(2099, 8, 1, tzinfo=datetime.UTC)

    project_ban = client.set_user_restriction(
        ProjectUserRestriction(
            user_id=uid, project_id=workplace.project_id, private_comment="spam", will_expire=expires
        )
    )
    pool_ban = client.set_user_restriction(PoolUserRestriction(user_id=other, pool_id=workplace.pool_id))
    everywhere = client.set_user_restriction(AllProjectsUserRestriction(user_id=other, private_comment="fraud"))

    by_scope = client.find_user_restrictions(
        UserRestrictionSearchRequest(scope="PROJECT", user_id=uid)  # type: ignore[arg-type]  # a str scope, converted
    )
    by_user = client.find_user_restrictions(UserRestrictionSearchRequest(user_id=other), sort=["-id"])

    assert isinstance(project_ban, ProjectUserRestriction)
    assert project_ban.project_id == workplace.project_id
    assert project_ban.will_expire == expires
    assert by_scope.items is not None
    assert by_user.items is not None
    assert [r.id for r in by_scope.items] == [project_ban.id]
    assert [r.id for r in by_user.items] == [everywhere.id, pool_ban.id]
    assert isinstance(by_user.items[1], PoolUserRestriction)

    assert pool_ban.id is not None
    client.delete_user_restriction(pool_ban.id)

    after = client.find_user_restrictions(UserRestrictionSearchRequest(user_id=other))
    assert after.items is not None
    assert [r.id for r in after.items] == [everywhere.id]


def test_create_project_and_pool_keep_what_toloka_kit_sends(client: TolokaClient) -> None:
    project = client.create_project(
        Project(
            public_name="Sentiment",
            public_description="Rate sentiment",
            task_spec=TaskSpec(
                input_spec={"text": StringSpec()},
                output_spec={"label": StringSpec(allowed_values=["pos", "neg"])},
                view_spec=ClassicViewSpec(script="", markup="<p>{{input.text}}</p>", styles=""),
            ),
            assignments_issuing_type="AUTOMATED",
        )
    )
    pool = client.create_pool(
        Pool(
            project_id=project.id,
            private_name="p1",
            may_contain_adult_content=False,
            reward_per_assignment=0.05,
            assignment_max_duration_seconds=600,
            will_expire=datetime.datetime(2030, 1, 1),
            filter=(Languages.in_("EN") & (RegionByIp.in_(225) | FilterOr([Skill("12") >= 80]))),
        )
    )

    assert pool.id is not None
    fetched = client.get_pool(pool.id)

    assert project.id
    assert project.public_description == "Rate sentiment"
    assert project.task_spec is not None
    assert project.task_spec.output_spec is not None
    assert project.task_spec.view_spec is not None
    assert project.task_spec.output_spec["label"].allowed_values == ["pos", "neg"]
    assert project.task_spec.view_spec.markup == "<p>{{input.text}}</p>"
    assert pool.project_id == project.id
    assert fetched.status == Pool.Status.CLOSED
    assert fetched.reward_per_assignment == 0.05
    assert fetched.assignment_max_duration_seconds == 600
    assert fetched.defaults is not None
    assert fetched.defaults.default_overlap_for_new_task_suites == 1
    assert fetched.will_expire == datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)
    assert fetched.filter == pool.filter


def test_open_and_close_pool(client: TolokaClient, workplace: Workplace, published: list[object]) -> None:
    opened = client.open_pool(workplace.pool_id)
    again = client.open_pool(workplace.pool_id)
    closed = client.close_pool(workplace.pool_id)

    assert opened.status == Pool.Status.OPEN
    assert opened.last_started is not None
    assert again.status == Pool.Status.OPEN
    assert closed.status == Pool.Status.CLOSED
    assert closed.last_close_reason == Pool.CloseReason.MANUAL
    assert client.get_pool(workplace.pool_id).status == Pool.Status.CLOSED
    assert [(e.old_status, e.new_status) for e in published] == [("CLOSED", "OPEN"), ("OPEN", "CLOSED")]  # type: ignore[attr-defined]


def test_find_get_accept_and_reject_assignments(
    client: TolokaClient, admin: Admin, workplace: Workplace, published: list[object]
) -> None:
    people = admin.create_tolokers([{"languages": ["EN"]} for _ in range(3)])
    ids = admin.add_assignments(
        [
            {
                "user_id": uid,
                "pool_id": workplace.pool_id,
                "status": "SUBMITTED",
                "submitted": "2026-01-02T03:04:05",
                "reward": "0.05",
                "solutions": [{"output_values": {"label": "pos"}}],
            }
            for uid in people
        ]
    )
    worked(admin, workplace.pool_id, people[:1], status="ACTIVE")

    submitted = client.find_assignments(
        AssignmentSearchRequest(
            status=["SUBMITTED", "ACCEPTED"],
            pool_id=workplace.pool_id,
            submitted_gt=datetime.datetime(2026, 1, 1),
        ),
        sort=["id"],
    )
    one = client.get_assignment(ids[0])
    accepted = client.accept_assignment(ids[0], "Well done")
    rejected = client.reject_assignment(ids[1], "Wrong")
    with pytest.raises(IncorrectActionsApiError) as caught:
        client.reject_assignment(ids[0], "Changed my mind")
    reaccepted = client.accept_assignment(ids[1], "Appeal upheld")

    assert submitted.items is not None
    assert one.solutions is not None
    assert [a.id for a in submitted.items] == ids
    assert one.user_id == people[0]
    assert one.reward == Decimal("0.05")
    assert one.solutions[0].output_values == {"label": "pos"}
    assert accepted.status == Assignment.Status.ACCEPTED
    assert accepted.public_comment == "Well done"
    assert rejected.status == Assignment.Status.REJECTED
    assert rejected.rejected is not None
    assert caught.value.code == "INAPPROPRIATE_STATUS"
    assert caught.value.status_code == 409
    assert reaccepted.status == Assignment.Status.ACCEPTED
    assert reaccepted.rejected == rejected.rejected
    assert [(e.assignment_id, e.status) for e in published] == [  # type: ignore[attr-defined]
        (int(ids[0]), "ACCEPTED"),
        (int(ids[1]), "REJECTED"),
        (int(ids[1]), "ACCEPTED"),
    ]
