"""`/api/v1/operations...`: Toloka's operation API, scoped to the calling requester."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import StreamingResponse

from crowdpost.accounts.auth import RequesterDep
from crowdpost.db import Database
from crowdpost.dependencies import SessionDep, get_db
from crowdpost.kit.jsonwire import dumps
from crowdpost.kit.list_query import PagingDep, time_ranges
from crowdpost.kit.pagination import TimeRanges, list_answer
from crowdpost.kit.routing import WireRoute
from crowdpost.kit.wire_response import WireJSONResponse, wire
from crowdpost.operations import service, views
from crowdpost.operations.schemas import OperationLogEntry, OperationPage, OperationView

router = APIRouter(route_class=WireRoute, tags=["operations"])


def operation_filters(
    ranges: Annotated[TimeRanges, Depends(time_ranges("submitted", "finished", iso_only=False))],
    type: str | None = Query(None, description="e.g. USER_BONUS.BATCH_CREATE"),
    status: str | None = Query(None, description="PENDING, RUNNING, SUCCESS or FAIL"),
) -> service.OperationFilters:
    return service.OperationFilters(
        type=type, status=status, submitted=ranges.get("submitted", {}), finished=ranges.get("finished", {})
    )


@router.get("/operations", response_model=OperationPage, summary="Get list of operations")
def find_operations(
    caller: RequesterDep,
    session: SessionDep,
    filters: Annotated[service.OperationFilters, Depends(operation_filters)],
    params: PagingDep,
) -> WireJSONResponse:
    rows, has_more = service.list_operations(session, caller.requester_id, filters, params)
    return wire(list_answer(rows, has_more, views.operation_view))


@router.get("/operations/{operation_id}", response_model=OperationView, summary="Get operation by ID")
def get_operation(caller: RequesterDep, session: SessionDep, operation_id: str) -> WireJSONResponse:
    return wire(views.operation_view(service.get_operation(session, caller.requester_id, operation_id)))


@router.get(
    "/operations/{operation_id}/log",
    response_model=list[OperationLogEntry],
    summary="Get operation log (a bare JSON array, one entry per input item)",
)
def get_operation_log(http: Request, caller: RequesterDep, session: SessionDep, operation_id: str) -> StreamingResponse:
    operation = service.get_operation(session, caller.requester_id, operation_id)
    return StreamingResponse(
        _log_bytes(get_db(http), operation.requester_id, operation.id), media_type="application/json"
    )


# Entries per write: large enough that a write is not per item, small enough to stay bounded.
_LOG_BATCH = 500


def _log_bytes(db: Database, requester_id: int, operation_key: int) -> Iterator[bytes]:
    """The log as one JSON array, written as its entries are read (the request's session
    is closed by then: the stream reads in a read transaction of its own)."""
    with db.transaction(write=False) as session:
        operation = service.get_operation_by_key(session, requester_id, operation_key)
        yield b"["
        separator = b""
        batch: list[object] = []
        entries = service.operation_log(session, operation) if operation is not None else iter(())
        for entry in entries:
            batch.append(entry)
            if len(batch) == _LOG_BATCH:
                yield separator + dumps(batch)[1:-1]
                separator, batch = b",", []
        if batch:
            yield separator + dumps(batch)[1:-1]
        yield b"]"
