"""Bans (Toloka's /user-restrictions). No HTTP, no commit.

`PUT` creates a ban, or updates the active one with the same Toloker and scope target.
`DELETE` marks it deleted. A ban past `will_expire` is no longer active: it disappears
from lists and stops excluding the Toloker from audiences, with no job involved (every
query compares `will_expire` with the database clock: `repository.restrictions.active_bans`).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from crowdpost.errors import ValidationFailed, field_error
from crowdpost.kit.ids import id_filter, load_by_id
from crowdpost.kit.pagination import ListParams
from crowdpost.kit.timefmt import to_naive_utc, utcnow
from crowdpost.models import Pool, Project, UserRestriction
from crowdpost.workforce.repository import restrictions as repository
from crowdpost.workforce.schemas import RestrictionScope, RestrictionSet
from crowdpost.workforce.service.owned import check_worker, get_referenced


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
    check_worker(session, requester_id, body.user_id)
    will_expire = to_naive_utc(body.will_expire, "will_expire") if body.will_expire else None
    existing = repository.same_active_ban(session, requester_id, body.user_id, body.scope.value, project_id, pool_id)
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
    return repository.add_ban(session, row), True


def get_restriction(session: Session, requester_id: int, restriction_id: str) -> UserRestriction:
    return load_by_id(
        restriction_id, lambda n: repository.active_ban(session, requester_id, n), f"No active ban {restriction_id!r}"
    )


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
    return repository.find_active_bans(
        session,
        requester_id,
        params,
        scope=scope,
        user_id=user_id,
        project_id=id_filter(project_id),
        pool_id=id_filter(pool_id),
    )


def do_delete_restriction(session: Session, requester_id: int, restriction_id: str) -> None:
    repository.mark_deleted(session, requester_id, get_restriction(session, requester_id, restriction_id).id, utcnow())
