"""Skills and Toloker skill values (Toloka's /skills and /user-skills). No HTTP, no commit.

A value is stored in millionths; setting it upserts the (skill, Toloker) row and appends
to `user_skill_changes`, so the history survives updates and removals. A skill with
`skill_ttl_hours` gives each value an `expires`; expired values count as unset everywhere
(lists, filters) without any job.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Select, delete, insert, or_, select
from sqlalchemy.orm import Session

from crowdpost.errors import DoesNotExist, ValidationFailed, field_error
from crowdpost.kit.bulk import upsert
from crowdpost.kit.ids import format_id, parse_id
from crowdpost.kit.money import MICROS, MoneyError, to_micros
from crowdpost.kit.pagination import ListParams
from crowdpost.kit.sqlclock import db_utcnow
from crowdpost.kit.timefmt import utcnow
from crowdpost.models import Skill, UserSkill, UserSkillChange
from crowdpost.workforce.listing import TimeRanges, fetch_page
from crowdpost.workforce.owned import get_owned, get_referenced, owner, require_worker
from crowdpost.workforce.schemas import SkillCreate, UserSkillSet
from crowdpost.workforce.spec import plain_json

SKILL_SORT = {"id": Skill.id, "created": Skill.created}
USER_SKILL_SORT = {"id": UserSkill.id, "created": UserSkill.created, "modified": UserSkill.modified}


def skill_view(skill: Skill) -> dict[str, Any]:
    view = dict(skill.spec)
    view.update(
        id=format_id(skill.id),
        name=skill.name,
        hidden=skill.hidden,
        created=skill.created,
        owner=owner(skill.requester_id),
        **{"global": False},
    )
    if skill.skill_ttl_hours is not None:
        view["skill_ttl_hours"] = skill.skill_ttl_hours
    return view


def do_create_skill(session: Session, requester_id: int, body: SkillCreate) -> Skill:
    spec = plain_json(body.model_dump(exclude={"name", "hidden", "skill_ttl_hours"}, exclude_none=True))
    skill = Skill(
        requester_id=requester_id,
        name=body.name,
        hidden=body.hidden,
        skill_ttl_hours=body.skill_ttl_hours,
        spec=spec,
        created=utcnow(),
    )
    session.add(skill)
    session.flush()
    return skill


def get_skill(session: Session, requester_id: int, skill_id: str) -> Skill:
    return get_owned(session, Skill, requester_id, skill_id, "skill")


def list_skills(
    session: Session, requester_id: int, params: ListParams, *, name: str | None, is_global: bool | None
) -> tuple[Sequence[Skill], bool]:
    stmt = select(Skill).where(Skill.requester_id == requester_id)
    if name is not None:
        stmt = stmt.where(Skill.name == name)
    if is_global:  # crowdpost has no platform-wide skills
        return [], False
    return fetch_page(session, stmt, params, id_column=Skill.id, sort_fields=SKILL_SORT)


# ------------------------------------------------------------------------------------------ user skills


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


def _live(stmt: Select[Any]) -> Select[Any]:
    return stmt.where(or_(UserSkill.expires.is_(None), UserSkill.expires > db_utcnow()))


def do_set_user_skill(session: Session, requester_id: int, body: UserSkillSet) -> UserSkill:
    """Insert or update the value, and record the change."""
    skill = get_referenced(session, Skill, requester_id, body.skill_id, "skill_id")
    require_worker(session, requester_id, body.user_id)
    try:
        micros = to_micros(body.value)
    except MoneyError as exc:
        raise ValidationFailed({"value": field_error("INVALID_VALUE", str(exc), 6)}) from exc
    now = utcnow()
    expires = now + timedelta(hours=skill.skill_ttl_hours) if skill.skill_ttl_hours else None
    stmt = upsert(session, UserSkill).values(
        requester_id=requester_id,
        skill_id=skill.id,
        user_id=body.user_id,
        value_micros=micros,
        created=now,
        modified=now,
        expires=expires,
    )
    row_id = session.execute(
        stmt.on_conflict_do_update(
            index_elements=["skill_id", "user_id"],
            set_={"value_micros": micros, "modified": now, "expires": expires},
        ).returning(UserSkill.id)
    ).scalar_one()
    session.execute(
        insert(UserSkillChange).values(
            requester_id=requester_id,
            skill_id=skill.id,
            user_id=body.user_id,
            value_micros=micros,
            reason=body.reason,
            created=now,
        )
    )
    return session.execute(
        select(UserSkill).where(UserSkill.id == row_id).execution_options(populate_existing=True)
    ).scalar_one()


def _number(text: str) -> int:
    """A query-string id as an integer key (-1, matching nothing, when it is not one)."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else -1


def get_user_skill(session: Session, requester_id: int, user_skill_id: str) -> UserSkill:
    number = parse_id(user_skill_id)
    row: UserSkill | None = None
    if number is not None:
        stmt = _live(select(UserSkill).where(UserSkill.id == number, UserSkill.requester_id == requester_id))
        row = session.execute(stmt).scalar_one_or_none()
    if row is None:
        raise DoesNotExist(f"No user skill {user_skill_id!r}")
    return row


def list_user_skills(
    session: Session,
    requester_id: int,
    params: ListParams,
    ranges: TimeRanges,
    *,
    user_id: str | None,
    skill_id: str | None,
) -> tuple[Sequence[UserSkill], bool]:
    stmt = _live(select(UserSkill).where(UserSkill.requester_id == requester_id))
    if user_id is not None:
        stmt = stmt.where(UserSkill.user_id == user_id)
    if skill_id is not None:
        stmt = stmt.where(UserSkill.skill_id == _number(skill_id))
    return fetch_page(session, stmt, params, id_column=UserSkill.id, sort_fields=USER_SKILL_SORT, ranges=ranges)


def do_delete_user_skill(session: Session, requester_id: int, user_skill_id: str) -> None:
    row = get_user_skill(session, requester_id, user_skill_id)
    session.execute(delete(UserSkill).where(UserSkill.id == row.id))
    session.execute(
        insert(UserSkillChange).values(
            requester_id=requester_id,
            skill_id=row.skill_id,
            user_id=row.user_id,
            value_micros=None,
            reason="removed",
            created=utcnow(),
        )
    )
