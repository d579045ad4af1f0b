"""Bans (`user_restrictions`), and THE active-ban predicate every query uses.

A ban is active while `deleted` is NULL and `will_expire` is NULL or in the future by the
database's clock, so a ban expires with no job; lists, lookups and audiences all go
through `active_bans`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, or_, select, update
from sqlalchemy.orm import Session

from crowdpost.kit.id_order import Claim, keep_id_order
from crowdpost.kit.pagination import ListParams, paginate, where_equal
from crowdpost.kit.sqlclock import db_utcnow
from crowdpost.models import UserRestriction

RESTRICTION_SORT = {"id": UserRestriction.id, "created": UserRestriction.created}


def active_bans(stmt: Select[Any]) -> Select[Any]:
    """`stmt` (over `user_restrictions`) narrowed to the bans in force now."""
    return stmt.where(
        UserRestriction.deleted.is_(None),
        or_(UserRestriction.will_expire.is_(None), UserRestriction.will_expire > db_utcnow()),
    )


def same_active_ban(
    session: Session, requester_id: int, user_id: str, scope: str, project_id: int | None, pool_id: int | None
) -> UserRestriction | None:
    """The active ban with this Toloker and scope target, if there is one."""
    same = active_bans(
        select(UserRestriction).where(
            UserRestriction.requester_id == requester_id,
            UserRestriction.user_id == user_id,
            UserRestriction.scope == scope,
            UserRestriction.project_id.is_(None) if project_id is None else UserRestriction.project_id == project_id,
            UserRestriction.pool_id.is_(None) if pool_id is None else UserRestriction.pool_id == pool_id,
        )
    )
    return session.execute(same.limit(1)).scalar_one_or_none()


def add_ban(session: Session, row: UserRestriction) -> UserRestriction:
    keep_id_order(session, Claim("user_restrictions", [row.requester_id]))  # GET /user-restrictions pages by id_gt
    session.add(row)
    session.flush()
    return row


def active_ban(session: Session, requester_id: int, restriction_id: int) -> UserRestriction | None:
    stmt = select(UserRestriction).where(
        UserRestriction.id == restriction_id, UserRestriction.requester_id == requester_id
    )
    return session.execute(active_bans(stmt)).scalar_one_or_none()


def find_active_bans(
    session: Session,
    requester_id: int,
    params: ListParams,
    *,
    scope: str | None,
    user_id: str | None,
    project_id: int | None,
    pool_id: int | None,
) -> tuple[Sequence[UserRestriction], bool]:
    stmt = active_bans(select(UserRestriction).where(UserRestriction.requester_id == requester_id))
    stmt = where_equal(
        stmt,
        (UserRestriction.scope, scope),
        (UserRestriction.user_id, user_id),
        (UserRestriction.project_id, project_id),
        (UserRestriction.pool_id, pool_id),
    )
    return paginate(session, stmt, params, id_column=UserRestriction.id, sort_fields=RESTRICTION_SORT)


def mark_deleted(session: Session, requester_id: int, restriction_id: int, now: datetime) -> None:
    stmt = update(UserRestriction).where(
        UserRestriction.requester_id == requester_id, UserRestriction.id == restriction_id
    )
    session.execute(stmt.values(deleted=now))
