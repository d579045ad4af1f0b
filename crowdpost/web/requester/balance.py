"""The balance statement: every ledger row with its running balance, filters by date,
paging by id, and a streamed CSV export of the same filter.

The handler only parses the query and calls `rewards.statement`; the reconciliation (the
sum of every ledger row equals the balance in the header) is computed there and shown.
"""

from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from crowdpost.dependencies import SessionDep, get_db
from crowdpost.kit.csv_export import csv_chunks
from crowdpost.kit.timefmt import utcnow
from crowdpost.rewards import statement
from crowdpost.web.session import PageUserDep
from crowdpost.web.templating import render

router = APIRouter(include_in_schema=False)

KINDS = {"DEPOSIT": "Deposit", "BONUS": "Bonus", "FEE": "Fee", "REFUND": "Refund", "ADJUSTMENT": "Adjustment"}
CSV_HEADER = ("id", "created", "kind", "amount", "balance_after", "reference", "description")


def _date(raw: str | None) -> tuple[date | None, str | None]:
    """A YYYY-MM-DD from the query, or an error to show next to the field."""
    if not raw:
        return None, None
    text = raw.strip()[:10]
    try:
        return date.fromisoformat(text), None
    except ValueError:
        return None, "Enter a date as YYYY-MM-DD, for example 2026-12-01."


def _period(request: Request) -> tuple[statement.Period, dict[str, str], dict[str, str]]:
    raw = {name: (request.query_params.get(name) or "")[:32] for name in ("start", "end")}
    start, start_error = _date(raw["start"])
    end, end_error = _date(raw["end"])
    errors = {name: error for name, error in (("start", start_error), ("end", end_error)) if error}
    if start and end and end < start:
        errors["end"] = "The end date is before the start date."
    return statement.Period(start=start, end=end), raw, errors


def _before_id(request: Request) -> int | None:
    raw = request.query_params.get("before_id", "")
    return int(raw) if raw.isdigit() and len(raw) <= 18 else None


@router.get("/balance")
def balance_page(request: Request, user: PageUserDep, session: SessionDep) -> Response:
    period, raw, errors = _period(request)
    if errors:
        period = statement.Period()
    before_id = _before_id(request)
    rows, next_before = statement.statement_page(session, user.requester_id, period, before_id=before_id)
    kept = {name: value for name, value in raw.items() if value and name not in errors}
    context = {
        "nav": "balance",
        "rows": rows,
        "next_before": next_before,
        "filters": raw,
        "errors": errors,
        "totals": statement.period_totals(session, user.requester_id, period),
        "check": statement.reconciliation(session, user.requester_id),
        "filtered": period.start is not None or period.end is not None,
        "kinds": KINDS,
        "csv_url": "/balance/statement.csv" + (f"?{urlencode(kept)}" if kept else ""),
        "older_url": f"/balance?{urlencode({**kept, 'before_id': next_before})}" if next_before else None,
        "newest_url": ("/balance" + (f"?{urlencode(kept)}" if kept else "")) if before_id else None,
    }
    return render(request, "balance/statement.html", context, status_code=400 if errors else 200)


@router.get("/balance/statement.csv")
def balance_csv(request: Request, user: PageUserDep) -> Response:
    period, _, errors = _period(request)
    if errors:
        return Response("\n".join(errors.values()), status_code=400, media_type="text/plain")
    rows = (
        (
            row.id,
            row.created.isoformat(timespec="seconds"),
            row.kind,
            row.amount,
            row.balance_after,
            row.reference,
            row.description,
        )
        for row in statement.iter_statement(get_db(request), user.requester_id, period)
    )
    name = f"balance-statement-{utcnow():%Y%m%d-%H%M%S}.csv"
    return StreamingResponse(
        csv_chunks(CSV_HEADER, rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
