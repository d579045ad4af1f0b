"""Skills, Toloker skill values and their history (`user_skill_changes`).

A value past its `expires` counts as unset in every query here (`_live`), compared with
the database's clock, so no job removes expired values."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, insert, or_, select
from sqlalchemy.orm import Session

from crowdpost.kit.bulk import upsert
from crowdpost.kit.id_order import Claim, keep_id_order
from crowdpost.kit.pagination import ListParams, TimeRanges, paginate, where_equal
from crowdpost.kit.sqlclock import db_utcnow
from crowdpost.models import Skill, UserSkill, UserSkillChange
from crowdpost.workforce.repository import owned

SKILL_SORT = {"id": Skill.id, "created": Skill.created}
USER_SKILL_SORT = {"id": UserSkill.id, "created": UserSkill.created, "modified": UserSkill.modified}


def add_skill(
    session: Session,
    requester_id: int,
    *,
    name: str,
    hidden: bool,
    skill_ttl_hours: int | None,
    spec: dict[str, Any],
    created: datetime,
) -> Skill:
    skill = Skill(
        requester_id=requester_id,
        name=name,
        hidden=hidden,
        skill_ttl_hours=skill_ttl_hours,
        spec=spec,
        created=created,
    )
    return owned.add(session, skill)


def find_skills(
    session: Session, requester_id: int, params: ListParams, *, name: str | None
) -> tuple[Sequence[Skill], bool]:
    stmt = where_equal(select(Skill).where(Skill.requester_id == requester_id), (Skill.name, name))
    return paginate(session, stmt, params, id_column=Skill.id, sort_fields=SKILL_SORT)


def _live(stmt: Select[Any]) -> Select[Any]:
    return stmt.where(or_(UserSkill.expires.is_(None), UserSkill.expires > db_utcnow()))


def upsert_user_skill(
    session: Session,
    requester_id: int,
    skill_id: int,
    user_id: str,
    *,
    micros: int,
    reason: str | None,
    now: datetime,
    expires: datetime | None,
) -> UserSkill:
    """Insert or update the value, and record the change; the row as stored."""
    keep_id_order(session, Claim("user_skills", [requester_id]))  # GET /user-skills pages by id_gt
    stmt = upsert(session, UserSkill).values(
        requester_id=requester_id,
        skill_id=skill_id,
        user_id=user_id,
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
    _record_change(session, requester_id, skill_id, user_id, micros, reason, now)
    return session.execute(
        select(UserSkill)
        .where(UserSkill.requester_id == requester_id, UserSkill.id == row_id)
        .execution_options(populate_existing=True)
    ).scalar_one()


def _record_change(
    session: Session,
    requester_id: int,
    skill_id: int,
    user_id: str,
    micros: int | None,
    reason: str | None,
    now: datetime,
) -> None:
    session.execute(
        insert(UserSkillChange).values(
            requester_id=requester_id,
            skill_id=skill_id,
            user_id=user_id,
            value_micros=micros,
            reason=reason,
            created=now,
        )
    )


def live_user_skill(session: Session, requester_id: int, user_skill_id: int) -> UserSkill | None:
    stmt = _live(select(UserSkill).where(UserSkill.id == user_skill_id, UserSkill.requester_id == requester_id))
    return session.execute(stmt).scalar_one_or_none()


def find_user_skills(
    session: Session,
    requester_id: int,
    params: ListParams,
    ranges: TimeRanges,
    *,
    user_id: str | None,
    skill_id: int | None,
) -> tuple[Sequence[UserSkill], bool]:
    stmt = where_equal(
        _live(select(UserSkill).where(UserSkill.requester_id == requester_id)),
        (UserSkill.user_id, user_id),
        (UserSkill.skill_id, skill_id),
    )
    return paginate(session, stmt, params, id_column=UserSkill.id, sort_fields=USER_SKILL_SORT, ranges=ranges)


def remove_user_skill(session: Session, row: UserSkill, now: datetime) -> None:
    """Delete the value, keeping its removal in the history."""
    session.execute(delete(UserSkill).where(UserSkill.requester_id == row.requester_id, UserSkill.id == row.id))
    _record_change(session, row.requester_id, row.skill_id, row.user_id, None, "removed", now)
