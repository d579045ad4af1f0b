"""What every resource shares: a new requester-owned row in id order, a row by primary key,
and whether a Toloker worked for a requester."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from crowdpost.kit.id_order import Claim, keep_id_order
from crowdpost.models import Pool, Project, RequesterToloker, Skill

T = TypeVar("T")
Owned = TypeVar("Owned", Project, Pool, Skill)


def add(session: Session, row: Owned) -> Owned:
    """Inserts a requester's new row after its id-order claim (GET /skills, /projects, /pools
    page by id_gt), flushed: its id is set."""
    keep_id_order(session, Claim(row.__tablename__, [row.requester_id]))
    session.add(row)
    session.flush()
    return row


def owned_row(session: Session, model: type[T], requester_id: int, row_id: int) -> T | None:
    """The requester's row with this id: by the requester too, so on Citus it is read from
    the requester's shard alone, and another requester's row is never even read."""
    stmt = select(model).where(model.id == row_id, model.requester_id == requester_id)  # type: ignore[attr-defined]
    return session.execute(stmt).scalar_one_or_none()


def started_count(session: Session, requester_id: int, user_id: str) -> int | None:
    """How many of this requester's tasks the Toloker started; None if none ever."""
    count: int | None = session.execute(
        select(RequesterToloker.started_count).where(
            RequesterToloker.requester_id == requester_id, RequesterToloker.user_id == user_id
        )
    ).scalar_one_or_none()
    return count
