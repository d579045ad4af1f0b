"""Projects and pools (Toloka's /projects and /pools). No HTTP, no commit.

crowdpost does not run tasks, so a project or pool is mostly what the client sent: the
fields we interpret have columns, everything else is kept in `spec` and returned as
sent. Opening and closing a pool is immediate (the API answers 204) and publishes
`PoolStatusChanged` in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from crowdpost.errors import ConflictState, ValidationFailed, field_error, pydantic_field_errors
from crowdpost.events import PoolStatusChanged, publish
from crowdpost.kit.ids import id_filter
from crowdpost.kit.pagination import ListParams, TimeRanges
from crowdpost.kit.timefmt import utcnow
from crowdpost.models import Pool, Project
from crowdpost.workforce.filters import parse_filter
from crowdpost.workforce.repository import owned
from crowdpost.workforce.repository import pools as repository
from crowdpost.workforce.schemas import PoolCreate, ProjectCreate
from crowdpost.workforce.service.owned import get_owned, get_referenced
from crowdpost.workforce.spec import plain_json

_SERVER_FIELDS = {"id", "owner", "status", "created", "last_started", "last_stopped", "last_close_reason", "type"}


def _parse(model: type[BaseModel], body: Any) -> Any:
    if not isinstance(body, dict):
        raise ValidationFailed({"body": field_error("OBJECT_EXPECTED", "the body must be a JSON object")})
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise ValidationFailed(pydantic_field_errors(list(exc.errors()), strip_roots=False)) from exc


def _spec(body: dict[str, Any], interpreted: set[str]) -> dict[str, Any]:
    spec: dict[str, Any] = plain_json({k: v for k, v in body.items() if k not in interpreted | _SERVER_FIELDS})
    return spec


# ------------------------------------------------------------------------------------------------ projects


def do_create_project(session: Session, requester_id: int, body: Any) -> Project:
    parsed: ProjectCreate = _parse(ProjectCreate, body)
    project = Project(
        requester_id=requester_id,
        public_name=parsed.public_name,
        status="ACTIVE",
        spec=_spec(body, {"public_name"}),
        created=utcnow(),
    )
    return owned.add(session, project)


def get_project(session: Session, requester_id: int, project_id: str) -> Project:
    return get_owned(session, Project, requester_id, project_id, "project")


def list_projects(
    session: Session, requester_id: int, params: ListParams, *, status: str | None
) -> tuple[Sequence[Project], bool]:
    return repository.find_projects(session, requester_id, params, status=status)


# ------------------------------------------------------------------------------------------------ pools


def do_create_pool(session: Session, requester_id: int, body: Any) -> Pool:
    parsed: PoolCreate = _parse(PoolCreate, body)
    if parsed.filter is not None:
        parse_filter(parsed.filter, path="filter")
    project = get_referenced(session, Project, requester_id, parsed.project_id, "project_id")
    pool = Pool(
        requester_id=requester_id,
        project_id=project.id,
        private_name=parsed.private_name,
        status="CLOSED",
        spec=_spec(body, {"project_id", "private_name"}),
        created=utcnow(),
    )
    return owned.add(session, pool)


def get_pool(session: Session, requester_id: int, pool_id: str) -> Pool:
    return get_owned(session, Pool, requester_id, pool_id, "pool")


def list_pools(
    session: Session,
    requester_id: int,
    params: ListParams,
    ranges: TimeRanges,
    *,
    status: str | None,
    project_id: str | None,
) -> tuple[Sequence[Pool], bool]:
    project_number = id_filter(project_id)
    return repository.find_pools(session, requester_id, params, ranges, status=status, project_id=project_number)


def do_set_pool_status(session: Session, requester_id: int, pool_id: str, new_status: str) -> bool:
    """Open or close a pool; False when it already was. One conditional UPDATE, so two
    concurrent calls change it (and publish the event) once."""
    pool = get_pool(session, requester_id, pool_id)
    if pool.status == new_status:
        return False
    if pool.status == "ARCHIVED":
        raise ConflictState(
            "An archived pool cannot be opened or closed",
            code="INAPPROPRIATE_STATUS",
            payload={"appropriate_statuses": ["OPEN", "CLOSED"]},
        )
    old_status = pool.status
    now = utcnow()
    values: dict[str, Any] = {"status": new_status}
    if new_status == "OPEN":
        values["last_started"] = now
    else:
        values.update(last_stopped=now, last_close_reason="MANUAL")
    if not repository.change_pool_status(session, pool, old_status, values):  # someone else changed it first
        return False
    publish(
        session,
        PoolStatusChanged(
            requester_id=requester_id,
            pool_id=pool.id,
            project_id=pool.project_id,
            old_status=old_status,
            new_status=new_status,
            reason=values.get("last_close_reason"),
        ),
    )
    return True
