"""Skills and Toloker skill values (Toloka's /skills and /user-skills). No HTTP, no commit.

A value is stored in millionths; setting it upserts the (skill, Toloker) row and appends
to `user_skill_changes`, so the history survives updates and removals. A skill with
`skill_ttl_hours` gives each value an `expires`; expired values count as unset everywhere
(lists, filters) without any job.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.orm import Session

from crowdpost.errors import ValidationFailed, field_error
from crowdpost.kit.ids import load_by_id
from crowdpost.kit.money import MoneyError, to_micros
from crowdpost.kit.pagination import ListParams, TimeRanges
from crowdpost.kit.timefmt import utcnow
from crowdpost.models import Skill, UserSkill
from crowdpost.workforce.repository import skills as repository
from crowdpost.workforce.schemas import SkillCreate, UserSkillSet
from crowdpost.workforce.service.owned import check_worker, get_owned, get_referenced
from crowdpost.workforce.spec import plain_json


def do_create_skill(session: Session, requester_id: int, body: SkillCreate) -> Skill:
    return repository.add_skill(
        session,
        requester_id,
        name=body.name,
        hidden=body.hidden,
        skill_ttl_hours=body.skill_ttl_hours,
        spec=plain_json(body.model_dump(exclude={"name", "hidden", "skill_ttl_hours"}, exclude_none=True)),
        created=utcnow(),
    )


def get_skill(session: Session, requester_id: int, skill_id: str) -> Skill:
    return get_owned(session, Skill, requester_id, skill_id, "skill")


def list_skills(
    session: Session, requester_id: int, params: ListParams, *, name: str | None, is_global: bool | None
) -> tuple[Sequence[Skill], bool]:
    if is_global:  # crowdpost has no platform-wide skills
        return [], False
    return repository.find_skills(session, requester_id, params, name=name)


def do_set_user_skill(session: Session, requester_id: int, body: UserSkillSet) -> UserSkill:
    """Insert or update the value, and record the change."""
    skill = get_referenced(session, Skill, requester_id, body.skill_id, "skill_id")
    check_worker(session, requester_id, body.user_id)
    try:
        micros = to_micros(body.value)
    except MoneyError as exc:
        raise ValidationFailed({"value": field_error("INVALID_VALUE", str(exc), 6)}) from exc
    now = utcnow()
    expires = now + timedelta(hours=skill.skill_ttl_hours) if skill.skill_ttl_hours else None
    return repository.upsert_user_skill(
        session, requester_id, skill.id, body.user_id, micros=micros, reason=body.reason, now=now, expires=expires
    )


def _number(text: str) -> int:
    """A query-string id as an integer key (-1, matching nothing, when it is not one)."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else -1


def get_user_skill(session: Session, requester_id: int, user_skill_id: str) -> UserSkill:
    missing = f"No user skill {user_skill_id!r}"
    return load_by_id(user_skill_id, lambda n: repository.live_user_skill(session, requester_id, n), missing)


def list_user_skills(
    session: Session,
    requester_id: int,
    params: ListParams,
    ranges: TimeRanges,
    *,
    user_id: str | None,
    skill_id: str | None,
) -> tuple[Sequence[UserSkill], bool]:
    skill_number = _number(skill_id) if skill_id is not None else None
    return repository.find_user_skills(session, requester_id, params, ranges, user_id=user_id, skill_id=skill_number)


def do_delete_user_skill(session: Session, requester_id: int, user_skill_id: str) -> None:
    repository.remove_user_skill(session, get_user_skill(session, requester_id, user_skill_id), utcnow())
