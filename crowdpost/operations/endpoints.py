"""`/api/v1/operations...`: Toloka's operation API, scoped to the calling requester."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from crowdpost.accounts.auth import RequesterDep
from crowdpost.db import SessionDep
from crowdpost.kit.jsonwire import WireJSONResponse, wire
from crowdpost.kit.pagination import RANGE_OPS, ListParams, list_params
from crowdpost.kit.routing import WireRoute
from crowdpost.kit.timefmt import to_naive_utc
from crowdpost.operations import service
from crowdpost.operations.schemas import OperationLogEntry, OperationPage, OperationView

router = APIRouter(route_class=WireRoute, tags=["operations"])


def _range(values: tuple[datetime | None, ...]) -> dict[str, datetime]:
    return {op: to_naive_utc(v) for op, v in zip(RANGE_OPS, values, strict=True) if v is not None}


def operation_filters(
    type: str | None = Query(None, description="e.g. USER_BONUS.BATCH_CREATE"),
    status: str | None = Query(None, description="PENDING, RUNNING, SUCCESS or FAIL"),
    submitted_gt: datetime | None = Query(None),
    submitted_gte: datetime | None = Query(None),
    submitted_lt: datetime | None = Query(None),
    submitted_lte: datetime | None = Query(None),
    finished_gt: datetime | None = Query(None),
    finished_gte: datetime | None = Query(None),
    finished_lt: datetime | None = Query(None),
    finished_lte: datetime | None = Query(None),
) -> service.OperationFilters:
    return service.OperationFilters(
        type=type,
        status=status,
        submitted=_range((submitted_gt, submitted_gte, submitted_lt, submitted_lte)),
        finished=_range((finished_gt, finished_gte, finished_lt, finished_lte)),
    )


@router.get("/operations", response_model=OperationPage, summary="Get list of operations")
def find_operations(
    caller: RequesterDep,
    session: SessionDep,
    filters: Annotated[service.OperationFilters, Depends(operation_filters)],
    params: Annotated[ListParams, Depends(list_params)],
) -> WireJSONResponse:
    rows, has_more = service.list_operations(session, caller.requester_id, filters, params)
    return wire({"items": [service.operation_view(op) for op in rows], "has_more": has_more})


@router.get("/operations/{operation_id}", response_model=OperationView, summary="Get operation by ID")
def get_operation(caller: RequesterDep, session: SessionDep, operation_id: str) -> WireJSONResponse:
    return wire(service.operation_view(service.get_operation(session, caller.requester_id, operation_id)))


@router.get(
    "/operations/{operation_id}/log",
    response_model=list[OperationLogEntry],
    summary="Get operation log (a bare JSON array, one entry per input item)",
)
def get_operation_log(caller: RequesterDep, session: SessionDep, operation_id: str) -> WireJSONResponse:
    operation = service.get_operation(session, caller.requester_id, operation_id)
    return wire(service.operation_log(session, operation))
