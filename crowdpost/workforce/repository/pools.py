"""Projects and pools."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crowdpost.kit.pagination import ListParams, TimeRanges, paginate, where_equal
from crowdpost.models import Pool, Project

PROJECT_SORT = {"id": Project.id, "created": Project.created, "public_name": Project.public_name}
POOL_SORT = {"id": Pool.id, "created": Pool.created, "last_started": Pool.last_started}


def find_projects(
    session: Session, requester_id: int, params: ListParams, *, status: str | None
) -> tuple[Sequence[Project], bool]:
    stmt = where_equal(select(Project).where(Project.requester_id == requester_id), (Project.status, status))
    return paginate(session, stmt, params, id_column=Project.id, sort_fields=PROJECT_SORT)


def find_pools(
    session: Session,
    requester_id: int,
    params: ListParams,
    ranges: TimeRanges,
    *,
    status: str | None,
    project_id: int | None,
) -> tuple[Sequence[Pool], bool]:
    stmt = where_equal(
        select(Pool).where(Pool.requester_id == requester_id), (Pool.status, status), (Pool.project_id, project_id)
    )
    return paginate(session, stmt, params, id_column=Pool.id, sort_fields=POOL_SORT, ranges=ranges)


def change_pool_status(session: Session, pool: Pool, old_status: str, values: dict[str, Any]) -> bool:
    """Set `values` if the pool still has `old_status`: one conditional UPDATE, so of two
    concurrent changes one wins. Refreshes `pool` when it changed."""
    changed = session.execute(
        update(Pool)
        .where(Pool.requester_id == pool.requester_id, Pool.id == pool.id, Pool.status == old_status)
        .values(**values)
        .returning(Pool.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if changed is None:
        return False
    # A refresh by the requester and the id (session.refresh would read by the id alone).
    again = select(Pool).where(Pool.requester_id == pool.requester_id, Pool.id == pool.id)
    session.execute(again.execution_options(populate_existing=True)).scalar_one()
    return True
