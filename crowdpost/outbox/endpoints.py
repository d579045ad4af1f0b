"""Operator API of the outbox: list rows by status, retry failed ones."""

from __future__ import annotations

from fastapi import APIRouter, Path, Query

from crowdpost.accounts.auth import OperatorDep
from crowdpost.dependencies import SessionDep
from crowdpost.kit.pagination import list_answer
from crowdpost.kit.routing import WireRoute
from crowdpost.kit.wire_response import WireJSONResponse, wire
from crowdpost.outbox import service, views
from crowdpost.outbox.schemas import OutboxPage, OutboxRowView

router = APIRouter(route_class=WireRoute, tags=["admin: outbox"])


@router.get("/outbox", response_model=OutboxPage, summary="List outbox rows (e-mails, webhook events)")
def list_outbox(
    _: OperatorDep,
    session: SessionDep,
    status: str | None = Query(None, max_length=16, description="PENDING, DONE or FAILED (any case)"),
    channel: str | None = Query(None, max_length=32, description="email or webhook"),
    id_gt: int | None = Query(None, ge=0, le=2**63 - 1, description="Rows after this id (paging)"),
    limit: int = Query(50, ge=1, le=service.MAX_LIMIT),
) -> WireJSONResponse:
    page = service.list_rows(session, status=status, channel=channel, id_gt=id_gt, limit=limit)
    return wire(list_answer(page.items, page.has_more, views.row_view))


@router.post("/outbox/{row_id}/retry", response_model=OutboxRowView, summary="Send a failed row again")
def retry_outbox_row(_: OperatorDep, session: SessionDep, row_id: int = Path(ge=1, le=2**63 - 1)) -> WireJSONResponse:
    return wire(views.row_view(service.do_retry(session, row_id)))
