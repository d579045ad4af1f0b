"""Assignments as requesters see them (Toloka's /assignments). No HTTP, no commit.

Assignments are fed in by operators (admin API); requesters list them and review them:
SUBMITTED -> ACCEPTED or REJECTED, and REJECTED -> ACCEPTED (Toloka's "change a
rejection decision", which settling an appeal needs). Anything else is 409
INAPPROPRIATE_STATUS. The review is one conditional UPDATE, stores the time
(`rejected` is what appeals count from) and publishes `AssignmentReviewed`.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from crowdpost.errors import ConflictState, ValidationFailed, field_error
from crowdpost.events import AssignmentReviewed, publish
from crowdpost.kit.ids import id_filter
from crowdpost.kit.pagination import ListParams, TimeRanges
from crowdpost.kit.timefmt import utcnow
from crowdpost.models import Assignment
from crowdpost.workforce.profile import AssignmentStatus
from crowdpost.workforce.repository import assignments as repository
from crowdpost.workforce.schemas import AssignmentPatch
from crowdpost.workforce.service.owned import get_owned

# target status -> statuses it may be reached from
REVIEWABLE_FROM = {
    AssignmentStatus.ACCEPTED: ("SUBMITTED", "REJECTED"),
    AssignmentStatus.REJECTED: ("SUBMITTED",),
}


def get_assignment(session: Session, requester_id: int, assignment_id: str) -> Assignment:
    return get_owned(session, Assignment, requester_id, assignment_id, "assignment")


def _statuses(raw: str) -> list[str]:
    statuses = [part.strip() for part in raw.split(",") if part.strip()]
    unknown = [s for s in statuses if s not in AssignmentStatus.__members__]
    if unknown:
        raise ValidationFailed(
            {"status": field_error("UNKNOWN_ENUM_VALUE", f"unknown status {unknown[0]!r}", *AssignmentStatus)}
        )
    return statuses


def list_assignments(
    session: Session,
    requester_id: int,
    params: ListParams,
    ranges: TimeRanges,
    *,
    status: str | None,
    pool_id: str | None,
    user_id: str | None,
    task_suite_id: str | None,
    task_id: str | None,
) -> tuple[Sequence[Assignment], bool]:
    return repository.find_assignments(
        session,
        requester_id,
        params,
        ranges,
        statuses=_statuses(status) if status else None,
        pool_id=id_filter(pool_id),
        user_id=user_id,
        task_suite_id=task_suite_id,
        task_id=task_id,
    )


def list_toloker_assignments(session: Session, requester_id: int, user_id: str, limit: int) -> Sequence[Assignment]:
    """The Toloker's assignments in this requester's pools, newest first, at most `limit`
    (what a bonus can be paid for; the Rewards page offers them)."""
    return repository.toloker_assignments(session, requester_id, user_id, limit)


def do_review_assignment(session: Session, requester_id: int, assignment_id: str, body: AssignmentPatch) -> Assignment:
    row = get_assignment(session, requester_id, assignment_id)
    allowed_from = REVIEWABLE_FROM.get(body.status)
    if allowed_from is None:
        raise ValidationFailed(
            {"status": field_error("VALUE_NOT_ALLOWED", "an assignment can only be set to ACCEPTED or REJECTED")}
        )
    comment = (body.public_comment or "").strip() or None
    if body.status is AssignmentStatus.REJECTED and comment is None:
        raise ValidationFailed(
            {"public_comment": field_error("VALUE_REQUIRED", "say why: rejections need a public_comment")}
        )
    stamp = "accepted" if body.status is AssignmentStatus.ACCEPTED else "rejected"
    reviewed = repository.review(
        session, row, allowed_from, status=body.status.value, public_comment=comment, stamp=stamp, now=utcnow()
    )
    if not reviewed:
        raise ConflictState(
            f"The assignment is {row.status}; only {' or '.join(allowed_from)} can become {body.status.value}",
            code="INAPPROPRIATE_STATUS",
            payload={"appropriate_statuses": list(allowed_from)},
        )
    publish(
        session,
        AssignmentReviewed(
            requester_id=requester_id,
            assignment_id=row.id,
            user_id=row.user_id,
            status=row.status,
            public_comment=comment,
        ),
    )
    return row
