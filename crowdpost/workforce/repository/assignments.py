"""Assignments as requesters list and review them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import false, select, update
from sqlalchemy.orm import Session

from crowdpost.kit.pagination import ListParams, TimeRanges, paginate, where_equal
from crowdpost.models import Assignment

ASSIGNMENT_SORT = {
    "id": Assignment.id,
    "created": Assignment.created,
    "submitted": Assignment.submitted,
    "accepted": Assignment.accepted,
    "rejected": Assignment.rejected,
    "skipped": Assignment.skipped,
    "expired": Assignment.expired,
}


def find_assignments(
    session: Session,
    requester_id: int,
    params: ListParams,
    ranges: TimeRanges,
    *,
    statuses: Sequence[str] | None,
    pool_id: int | None,
    user_id: str | None,
    task_suite_id: str | None,
    task_id: str | None,
) -> tuple[Sequence[Assignment], bool]:
    stmt = select(Assignment).where(Assignment.requester_id == requester_id)
    if statuses is not None:
        stmt = stmt.where(Assignment.status.in_(statuses))
    stmt = where_equal(
        stmt, (Assignment.pool_id, pool_id), (Assignment.user_id, user_id), (Assignment.task_suite_id, task_suite_id)
    )
    if task_id is not None:  # tasks are not stored here, so no assignment has one
        stmt = stmt.where(false())
    return paginate(session, stmt, params, id_column=Assignment.id, sort_fields=ASSIGNMENT_SORT, ranges=ranges)


def toloker_assignments(session: Session, requester_id: int, user_id: str, limit: int) -> Sequence[Assignment]:
    """One Toloker's assignments in this requester's pools, newest first; at most `limit`
    (the (user_id, requester_id) index narrows it to that Toloker's rows)."""
    stmt = (
        select(Assignment)
        .where(Assignment.requester_id == requester_id, Assignment.user_id == user_id)
        .order_by(Assignment.id.desc())
        .limit(limit)
    )
    return session.scalars(stmt).all()


def review(
    session: Session,
    row: Assignment,
    allowed_from: Sequence[str],
    *,
    status: str,
    public_comment: str | None,
    stamp: str,
    now: datetime,
) -> bool:
    """Set the status if the assignment is still in one of `allowed_from` (one conditional
    UPDATE, so of two concurrent reviews one wins); refreshes `row` either way."""
    changed = session.execute(
        update(Assignment)
        .where(
            Assignment.requester_id == row.requester_id, Assignment.id == row.id, Assignment.status.in_(allowed_from)
        )
        .values(status=status, public_comment=public_comment, **{stamp: now})
        .returning(Assignment.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    # A refresh by the requester and the id (session.refresh would read by the id alone).
    again = select(Assignment).where(Assignment.requester_id == row.requester_id, Assignment.id == row.id)
    session.execute(again.execution_options(populate_existing=True)).scalar_one()
    return changed is not None
