"""Who receives a message (DIRECT, FILTER or ALL): the check of a request, the dry-run count,
and the SELECT a send embeds, worked out together by `plan_audience`. No HTTP, no commit.
`plan_pool_audience` plans the Tolokers of one pool the same way (Rewards: pay a group).

Messaging calls these; the statements themselves, and the rules they encode (who counts,
how an active ban excludes), are in `workforce.repository.audience`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select
from sqlalchemy.orm import Session

from crowdpost.errors import ValidationFailed, field_error
from crowdpost.workforce.repository import audience as repository
from crowdpost.workforce.schemas import AudienceCount, AudienceRequest
from crowdpost.workforce.service.pools import get_pool

SELECT_TYPES = ("DIRECT", "FILTER", "ALL")


def check_audience_request(req: AudienceRequest) -> None:
    """The request's shape: a known select type and what that type needs."""
    if req.select_type not in SELECT_TYPES:
        raise ValidationFailed(
            {
                "recipients_select_type": field_error(
                    "UNKNOWN_ENUM_VALUE", "recipients_select_type must be DIRECT, FILTER or ALL", *SELECT_TYPES
                )
            }
        )
    if req.select_type == "DIRECT" and not req.recipients_ids:
        raise ValidationFailed(
            {"recipients_ids": field_error("VALUE_REQUIRED", "DIRECT needs a non-empty recipients_ids list")}
        )
    if req.select_type == "FILTER" and req.recipients_filter is None:
        raise ValidationFailed({"recipients_filter": field_error("VALUE_REQUIRED", "FILTER needs recipients_filter")})


@dataclass(frozen=True)
class AudiencePlan:
    """An audience worked out once (the filter parsed and compiled once, `is_large_audience`
    asked once): who receives (one SELECT, for a fan-out's `INSERT ... SELECT`), everyone
    addressed with why they are left out (`user_id`, `left_out`: NULL, 'BANNED', 'UNKNOWN',
    'NOT_YOURS'; one SELECT, for a send's per-recipient outcomes) and how many would receive
    and are left out (banned, unknown)."""

    request: AudienceRequest
    counts: AudienceCount
    members: Select[str]
    addressed: Select[str, str | None] | None = None


def plan_audience(session: Session, req: AudienceRequest, *, min_started: int) -> AudiencePlan:
    """Check the request, count its audience and build its SELECT: the one entry point of a send.

    Only a FILTER's plan depends on the requester's size: `large=False` lets SQLite walk a
    small requester's own Tolokers instead of scanning every Toloker (same result).
    Raises ValidationFailed (naming the path inside the filter) for bad requests."""
    check_audience_request(req)
    large = req.select_type == "FILTER" and repository.is_large_audience(session, req.requester_id)
    joined = repository.skills_joined(session, large)
    found = repository.candidates(req, min_started=min_started, large=large, skills_joined=joined)
    if large:
        repository.roomy_work_mem(session)
    if req.select_type == "DIRECT":
        counts = _count_direct(session, req, found)
    else:
        count, banned = repository.count_filtered(session, found)
        counts = AudienceCount(count=count, banned=banned, unknown=0, unknown_ids=[], banned_ids=[])
    return AudiencePlan(req, counts, repository.members(found), repository.addressed(found, req))


def plan_pool_audience(session: Session, requester_id: int, pool_id: str) -> AudiencePlan:
    """The Tolokers of one pool of this requester (an assignment in it, any status), banned
    ones left out and counted: the same plan shape as a send's. Another requester's pool, or
    no such pool, raises DoesNotExist (404: ids never reveal what exists)."""
    pool = get_pool(session, requester_id, pool_id)
    found = repository.pool_candidates(requester_id, pool.id)
    count, banned = repository.count_filtered(session, found)
    counts = AudienceCount(count=count, banned=banned, unknown=0, unknown_ids=[], banned_ids=[])
    return AudiencePlan(AudienceRequest(requester_id, "POOL"), counts, repository.members(found))


def audience_select(
    req: AudienceRequest, *, min_started: int, large: bool = True, skills_joined: bool = False
) -> Select[str]:
    """ONE SQL SELECT of distinct Toloker ids (column `user_id`) who receive; banned excluded,
    with the plan `large` and `skills_joined` name (the result is the same either way).
    Raises ValidationFailed (naming the path inside the filter) for bad requests."""
    check_audience_request(req)
    return repository.audience_select(req, min_started=min_started, large=large, skills_joined=skills_joined)


def count_audience(session: Session, req: AudienceRequest, *, min_started: int) -> AudienceCount:
    """How many would receive, and who is left out and why (the dry run); one statement either way."""
    return plan_audience(session, req, min_started=min_started).counts


def _count_direct(session: Session, req: AudienceRequest, found: repository.Candidates) -> AudienceCount:
    found_ids = repository.direct_candidates(session, found)
    wanted = list(dict.fromkeys(req.recipients_ids or ()))
    unknown_ids = [uid for uid in wanted if uid not in found_ids]
    banned_list = [uid for uid in wanted if found_ids.get(uid)]
    return AudienceCount(
        count=len(found_ids) - len(banned_list),
        banned=len(banned_list),
        unknown=len(unknown_ids),
        unknown_ids=unknown_ids,
        banned_ids=banned_list,
    )
