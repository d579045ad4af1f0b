"""Every query on operation rows. No commit."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crowdpost.kit.bulk import upsert
from crowdpost.kit.pagination import ListParams, paginate, where_equal
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


@dataclass
class OperationFilters:
    type: str | None = None
    status: str | None = None
    submitted: dict[str, datetime] = field(default_factory=dict)
    finished: dict[str, datetime] = field(default_factory=dict)


def list_operations(
    session: Session, requester_id: int, filters: OperationFilters, params: ListParams
) -> tuple[list[Operation], bool]:
    stmt = where_equal(
        select(Operation).where(Operation.requester_id == requester_id),
        (Operation.type, filters.type),
        (Operation.status, filters.status),
    )
    # Operation ids are client strings: compare them as text, in the column's byte order.
    # No `created` column: `created_*` are accepted and ignored, as they always were.
    return paginate(
        session,
        stmt,
        params,
        id_column=Operation.public_id,
        sort_fields={"id": Operation.public_id, "submitted": Operation.submitted, "finished": Operation.finished},
        ranges={"submitted": filters.submitted, "finished": filters.finished},
        text_ids=True,
    )
