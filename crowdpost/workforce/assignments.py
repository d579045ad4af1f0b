"""Assignments as requesters see them (Toloka's /assignments). No HTTP, no commit.

Assignments are fed in by operators (admin API); requesters list them and review them:
SUBMITTED -> ACCEPTED or REJECTED, and REJECTED -> ACCEPTED (Toloka's "change a
rejection decision", which settling an appeal needs). Anything else is 409
INAPPROPRIATE_STATUS. The review is one conditional UPDATE, stores the time
(`rejected` is what appeals count from) and publishes `AssignmentReviewed`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import false, select, update
from sqlalchemy.orm import Session

from crowdpost.errors import ConflictState, ValidationFailed, field_error
from crowdpost.events import AssignmentReviewed, publish
from crowdpost.kit.ids import format_id, parse_id
from crowdpost.kit.money import from_micros
from crowdpost.kit.pagination import ListParams
from crowdpost.kit.timefmt import utcnow
from crowdpost.models import Assignment
from crowdpost.workforce.listing import TimeRanges, fetch_page
from crowdpost.workforce.owned import get_owned, owner
from crowdpost.workforce.profile import AssignmentStatus
from crowdpost.workforce.schemas import AssignmentPatch

ASSIGNMENT_SORT = {
    "id": Assignment.id,
    "created": Assignment.created,
    "submitted": Assignment.submitted,
    "accepted": Assignment.accepted,
    "rejected": Assignment.rejected,
    "skipped": Assignment.skipped,
    "expired": Assignment.expired,
}
TIME_FIELDS = ("submitted", "accepted", "rejected", "skipped", "expired")
# target status -> statuses it may be reached from
REVIEWABLE_FROM = {
    AssignmentStatus.ACCEPTED: ("SUBMITTED", "REJECTED"),
    AssignmentStatus.REJECTED: ("SUBMITTED",),
}


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
    for field in (*TIME_FIELDS, "public_comment"):
        if getattr(row, field) is not None:
            view[field] = getattr(row, field)
    return view


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
    stmt = select(Assignment).where(Assignment.requester_id == requester_id)
    if status:
        stmt = stmt.where(Assignment.status.in_(_statuses(status)))
    if pool_id is not None:
        stmt = stmt.where(Assignment.pool_id == (parse_id(pool_id) or -1))
    if user_id is not None:
        stmt = stmt.where(Assignment.user_id == user_id)
    if task_suite_id is not None:
        stmt = stmt.where(Assignment.task_suite_id == task_suite_id)
    if task_id is not None:  # tasks are not stored here, so no assignment has one
        stmt = stmt.where(false())
    return fetch_page(session, stmt, params, id_column=Assignment.id, sort_fields=ASSIGNMENT_SORT, ranges=ranges)


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
    now = utcnow()
    stamp = "accepted" if body.status is AssignmentStatus.ACCEPTED else "rejected"
    changed = session.execute(
        update(Assignment)
        .where(Assignment.id == row.id, Assignment.status.in_(allowed_from))
        .values(status=body.status.value, public_comment=comment, **{stamp: now})
        .returning(Assignment.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if changed is None:
        session.refresh(row)
        raise ConflictState(
            f"The assignment is {row.status}; only {' or '.join(allowed_from)} can become {body.status.value}",
            code="INAPPROPRIATE_STATUS",
            payload={"appropriate_statuses": list(allowed_from)},
        )
    session.refresh(row)
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
