"""Bans (Toloka's /user-restrictions). No HTTP, no commit.

`PUT` creates a ban, or updates the active one with the same Toloker and scope target.
`DELETE` marks it deleted. A ban past `will_expire` is no longer active: it disappears
from lists and stops excluding the Toloker from audiences, with no job involved (every
query compares `will_expire` with the database clock).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, or_, select, update
from sqlalchemy.orm import Session

from crowdpost.errors import DoesNotExist, ValidationFailed, field_error
from crowdpost.kit.ids import format_id, parse_id
from crowdpost.kit.pagination import ListParams
from crowdpost.kit.sqlclock import db_utcnow
from crowdpost.kit.timefmt import to_naive_utc, utcnow
from crowdpost.models import Pool, Project, UserRestriction
from crowdpost.workforce.listing import fetch_page
from crowdpost.workforce.owned import get_referenced, require_worker
from crowdpost.workforce.schemas import RestrictionScope, RestrictionSet

RESTRICTION_SORT = {"id": UserRestriction.id, "created": UserRestriction.created}


def restriction_view(row: UserRestriction) -> dict[str, Any]:
    view: dict[str, Any] = {"id": format_id(row.id), "scope": row.scope, "user_id": row.user_id}
    if row.project_id is not None:
        view["project_id"] = format_id(row.project_id)
    if row.pool_id is not None:
        view["pool_id"] = format_id(row.pool_id)
    if row.private_comment is not None:
        view["private_comment"] = row.private_comment
    if row.will_expire is not None:
        view["will_expire"] = row.will_expire
    view["created"] = row.created
    return view


def _active(stmt: Select[Any]) -> Select[Any]:
    return stmt.where(
        UserRestriction.deleted.is_(None),
        or_(UserRestriction.will_expire.is_(None), UserRestriction.will_expire > db_utcnow()),
    )


def _target(session: Session, requester_id: int, body: RestrictionSet) -> tuple[int | None, int | None]:
    """(project id, pool id) the ban applies to, checked against its scope."""
    if body.scope is RestrictionScope.SYSTEM:
        raise ValidationFailed(
            {"scope": field_error("VALUE_NOT_ALLOWED", "SYSTEM bans are set by the platform, not by requesters")}
        )
    if body.scope is RestrictionScope.ALL_PROJECTS:
        for field in ("project_id", "pool_id"):
            if getattr(body, field) is not None:
                raise ValidationFailed({field: field_error("VALUE_NOT_ALLOWED", f"ALL_PROJECTS bans take no {field}")})
        return None, None
    if body.scope is RestrictionScope.PROJECT:
        if body.pool_id is not None:
            raise ValidationFailed({"pool_id": field_error("VALUE_NOT_ALLOWED", "PROJECT bans take no pool_id")})
        return get_referenced(session, Project, requester_id, body.project_id, "project_id").id, None
    return None, get_referenced(session, Pool, requester_id, body.pool_id, "pool_id").id


def do_set_restriction(session: Session, requester_id: int, body: RestrictionSet) -> tuple[UserRestriction, bool]:
    """The ban and whether it was created (False: an active one was updated)."""
    project_id, pool_id = _target(session, requester_id, body)
    require_worker(session, requester_id, body.user_id)
    will_expire = to_naive_utc(body.will_expire, "will_expire") if body.will_expire else None
    same = _active(
        select(UserRestriction).where(
            UserRestriction.requester_id == requester_id,
            UserRestriction.user_id == body.user_id,
            UserRestriction.scope == body.scope.value,
            UserRestriction.project_id.is_(None) if project_id is None else UserRestriction.project_id == project_id,
            UserRestriction.pool_id.is_(None) if pool_id is None else UserRestriction.pool_id == pool_id,
        )
    )
    existing = session.execute(same.limit(1)).scalar_one_or_none()
    if existing is not None:
        existing.private_comment = body.private_comment
        existing.will_expire = will_expire
        session.flush()
        return existing, False
    row = UserRestriction(
        requester_id=requester_id,
        user_id=body.user_id,
        scope=body.scope.value,
        project_id=project_id,
        pool_id=pool_id,
        private_comment=body.private_comment,
        will_expire=will_expire,
        created=utcnow(),
    )
    session.add(row)
    session.flush()
    return row, True


def get_restriction(session: Session, requester_id: int, restriction_id: str) -> UserRestriction:
    number = parse_id(restriction_id)
    row: UserRestriction | None = None
    if number is not None:
        stmt = select(UserRestriction).where(UserRestriction.id == number, UserRestriction.requester_id == requester_id)
        row = session.execute(_active(stmt)).scalar_one_or_none()
    if row is None:
        raise DoesNotExist(f"No active ban {restriction_id!r}")
    return row


def list_restrictions(
    session: Session,
    requester_id: int,
    params: ListParams,
    *,
    scope: str | None,
    user_id: str | None,
    project_id: str | None,
    pool_id: str | None,
) -> tuple[Sequence[UserRestriction], bool]:
    stmt = _active(select(UserRestriction).where(UserRestriction.requester_id == requester_id))
    if scope is not None:
        stmt = stmt.where(UserRestriction.scope == scope)
    if user_id is not None:
        stmt = stmt.where(UserRestriction.user_id == user_id)
    if project_id is not None:
        stmt = stmt.where(UserRestriction.project_id == (parse_id(project_id) or -1))
    if pool_id is not None:
        stmt = stmt.where(UserRestriction.pool_id == (parse_id(pool_id) or -1))
    return fetch_page(session, stmt, params, id_column=UserRestriction.id, sort_fields=RESTRICTION_SORT)


def do_delete_restriction(session: Session, requester_id: int, restriction_id: str) -> None:
    row = get_restriction(session, requester_id, restriction_id)
    session.execute(update(UserRestriction).where(UserRestriction.id == row.id).values(deleted=utcnow()))
