"""Every query on operation rows but the listing (`service.list_operations`). No commit."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crowdpost.kit.bulk import upsert
from crowdpost.models import Operation


def insert_if_new(session: Session, **values: Any) -> Operation | None:
    """Inserts the operation unless its (requester, public id) exists: the new row, or None.

    The unique key decides, so concurrent requests with one id create it once; on
    PostgreSQL the losers wait for the winner's commit and then get None.
    """
    stmt = upsert(session, Operation)
    return session.execute(
        stmt.values(**values).on_conflict_do_nothing(index_elements=["requester_id", "public_id"]).returning(Operation)
    ).scalar_one_or_none()


def find_operation(session: Session, requester_id: int, public_id: str) -> Operation | None:
    return session.execute(
        select(Operation).where(Operation.requester_id == requester_id, Operation.public_id == public_id)
    ).scalar_one_or_none()


def lock_operation(session: Session, operation_id: int) -> Operation | None:
    """The operation's row, locked until commit (PostgreSQL; SQLite writers are serial anyway)."""
    stmt = select(Operation).where(Operation.id == operation_id).execution_options(populate_existing=True)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return session.execute(stmt).scalar_one_or_none()


def get_operation_by_key(session: Session, requester_id: int, operation_key: int) -> Operation | None:
    stmt = select(Operation).where(Operation.requester_id == requester_id, Operation.id == operation_key)
    return session.execute(stmt).scalar_one_or_none()
