"""Rows -> Toloka's wire dicts (SkillV1, UserSkillV1, UserRestrictionV1, ProjectV1, PoolV1,
AssignmentV1). Fields we store but do not interpret come back from `spec` as sent."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from crowdpost.kit.ids import format_id, format_optional_id
from crowdpost.kit.money import MICROS, from_micros
from crowdpost.kit.schemas import with_set
from crowdpost.models import Assignment, Pool, Project, Skill, UserRestriction, UserSkill

# An assignment's time stamps, each shown only once set (also its `<field>_gt...` filters).
ASSIGNMENT_TIME_FIELDS = ("submitted", "accepted", "rejected", "skipped", "expired")


def owner(requester_id: int) -> dict[str, Any]:
    return {"id": format_id(requester_id), "myself": True}


def spec_view(spec: dict[str, Any], row_id: int, requester_id: int, **fields: Any) -> dict[str, Any]:
    """A stored spec with the row's own fields over it, in this order: `id`, `fields`, `owner`."""
    return {**spec, "id": format_id(row_id), **fields, "owner": owner(requester_id)}


def skill_view(skill: Skill) -> dict[str, Any]:
    view = spec_view(
        skill.spec,
        skill.id,
        skill.requester_id,
        name=skill.name,
        hidden=skill.hidden,
        created=skill.created,
    )
    view["global"] = False
    if skill.skill_ttl_hours is not None:
        view["skill_ttl_hours"] = skill.skill_ttl_hours
    return view


def exact_value(micros: int) -> Decimal:
    value = Decimal(micros) / MICROS
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


def user_skill_view(row: UserSkill) -> dict[str, Any]:
    exact = exact_value(row.value_micros)
    return {
        "id": format_id(row.id),
        "skill_id": format_id(row.skill_id),
        "user_id": row.user_id,
        "value": int(exact.to_integral_value(rounding=ROUND_HALF_UP)),
        "exact_value": exact,
        "created": row.created,
        "modified": row.modified,
    }


def restriction_view(row: UserRestriction) -> dict[str, Any]:
    view = with_set(
        {"id": format_id(row.id), "scope": row.scope, "user_id": row.user_id},
        project_id=format_optional_id(row.project_id),
        pool_id=format_optional_id(row.pool_id),
        private_comment=row.private_comment,
        will_expire=row.will_expire,
    )
    view["created"] = row.created
    return view


def project_view(project: Project) -> dict[str, Any]:
    return spec_view(
        project.spec,
        project.id,
        project.requester_id,
        public_name=project.public_name,
        status=project.status,
        created=project.created,
    )


def pool_view(pool: Pool) -> dict[str, Any]:
    view = spec_view(
        pool.spec,
        pool.id,
        pool.requester_id,
        project_id=format_id(pool.project_id),
        private_name=pool.private_name,
        status=pool.status,
        created=pool.created,
    )
    view["type"] = "REGULAR"
    for field in ("last_started", "last_stopped", "last_close_reason"):
        if getattr(pool, field) is not None:
            view[field] = getattr(pool, field)
    return view


def assignment_view(row: Assignment) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": format_id(row.id),
        "pool_id": format_id(row.pool_id),
        "user_id": row.user_id,
        "status": row.status,
        "reward": from_micros(row.reward_micros),
        "tasks": [],
        "solutions": [{"output_values": {}, **s} for s in row.solutions or []],
        "mixed": False,
        "automerged": False,
        "owner": owner(row.requester_id),
        "created": row.created,
    }
    if row.task_suite_id is not None:
        view["task_suite_id"] = row.task_suite_id
    for field in (*ASSIGNMENT_TIME_FIELDS, "public_comment"):
        if getattr(row, field) is not None:
            view[field] = getattr(row, field)
    return view


def imported_assignment_view(row: dict[str, Any]) -> dict[str, Any]:
    """One item of the admin import's answer (AssignmentOut)."""
    return {**row, "id": format_id(row["id"]), "pool_id": format_id(row["pool_id"])}
