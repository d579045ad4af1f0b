"""Rewards: the progress of a bonus operation, its result and the items it did not pay.

    GET /rewards/operations                    the requester's last 20 bonus operations
    GET /rewards/operations/{id}               one operation: status in words, times, a progress
                                               bar with done / total items, then the result;
                                               htmx polls the block `progress` every second
                                               while it runs (without JavaScript: Refresh)
    GET /rewards/operations/{id}/failed.csv    the failed items (line, item, error code and
                                               message), streamed, formula cells escaped

The data is `crowdpost.rewards.operation_report`, which reads the operation and its log
through `crowdpost.operations.service` as `GET /api/v1/operations/{id}` and `.../log` do.
Another requester's operation, or a malformed id: 404.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from crowdpost.accounts import service as accounts
from crowdpost.dependencies import SessionDep, get_db
from crowdpost.kit.csv_export import csv_chunks
from crowdpost.kit.money import from_micros
from crowdpost.rewards import operation_report
from crowdpost.web.session import PageUserDep
from crowdpost.web.templating import is_htmx, money, render

router = APIRouter(include_in_schema=False)

TEMPLATE = "rewards/operation.html"


@router.get("/rewards/operations")
def operations_page(request: Request, user: PageUserDep, session: SessionDep) -> Response:
    recent = operation_report.recent(session, user.requester_id)
    return render(request, "rewards/operations.html", {"nav": "rewards", "recent": recent})


@router.get("/rewards/operations/{operation_id}")
def operation_page(request: Request, user: PageUserDep, session: SessionDep, operation_id: str) -> Response:
    report = operation_report.report(session, user.requester_id, operation_id)
    context: dict[str, Any] = {"nav": "rewards", "report": report, "dollars": from_micros, "oob": False}
    if report.finished and is_htmx(request):
        # The poll that sees the end also fills the page's live region and the header's
        # balance, read after the operation (the header's own was read before it).
        balance = accounts.get_requester(session, user.requester_id).balance_micros
        context.update(oob=True, balance=money(from_micros(balance)))
    return render(request, TEMPLATE, context, block="progress")


@router.get("/rewards/operations/{operation_id}/failed.csv")
def failed_csv(request: Request, user: PageUserDep, session: SessionDep, operation_id: str) -> Response:
    operation = operation_report.get_bonus_operation(session, user.requester_id, operation_id)
    rows = operation_report.iter_failed_rows(get_db(request), user.requester_id, operation.id)
    return StreamingResponse(
        csv_chunks(operation_report.FAILED_COLUMNS, rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="failed-items-{operation.public_id}.csv"'},
    )
