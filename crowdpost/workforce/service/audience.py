"""Who receives a message (DIRECT, FILTER or ALL): the check of a request, the dry-run count,
and the SELECT a send embeds. No HTTP, no commit.

Messaging calls these; the statements themselves, and the rules they encode (who counts,
how an active ban excludes), are in `workforce.repository.audience`.
"""

from __future__ import annotations

from sqlalchemy import Select
from sqlalchemy.orm import Session

from crowdpost.errors import ValidationFailed, field_error
from crowdpost.workforce.repository import audience as repository
from crowdpost.workforce.schemas import AudienceCount, AudienceRequest

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


def is_large_audience(session: Session, requester_id: int) -> bool:
    """Whether the requester has more Tolokers than `repository.audience.LARGE_AUDIENCE`:
    the hint `audience_select` takes to choose its plan."""
    return repository.is_large_audience(session, requester_id)


def audience_select(req: AudienceRequest, *, min_started: int, large: bool = True) -> Select[str]:
    """ONE SQL SELECT of distinct Toloker ids (column `user_id`) who receive; banned excluded.

    `large=False` (from `is_large_audience`) lets SQLite walk a small requester's own
    Tolokers instead of scanning every Toloker; the result is the same either way.
    Raises ValidationFailed (naming the path inside the filter) for bad requests."""
    check_audience_request(req)
    return repository.audience_select(req, min_started=min_started, large=large)


def count_audience(session: Session, req: AudienceRequest, *, min_started: int) -> AudienceCount:
    """How many would receive, and who is left out and why; one statement either way."""
    check_audience_request(req)
    if req.select_type == "DIRECT":
        return _count_direct(session, req, min_started)
    large = req.select_type == "FILTER" and repository.is_large_audience(session, req.requester_id)
    count, banned = repository.count_filtered(session, req, min_started=min_started, large=large)
    return AudienceCount(count=count, banned=banned, unknown=0, unknown_ids=[], banned_ids=[])


def _count_direct(session: Session, req: AudienceRequest, min_started: int) -> AudienceCount:
    found = repository.direct_candidates(session, req, min_started=min_started)
    wanted = list(dict.fromkeys(req.recipients_ids or ()))
    unknown_ids = [uid for uid in wanted if uid not in found]
    banned_list = [uid for uid in wanted if found.get(uid)]
    return AudienceCount(
        count=len(found) - len(banned_list),
        banned=len(banned_list),
        unknown=len(unknown_ids),
        unknown_ids=unknown_ids,
        banned_ids=banned_list,
    )
