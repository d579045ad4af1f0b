"""/toloker/bonuses: what the Toloker was paid, newest first, with the total per month (exact Decimal)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from markupsafe import Markup
from starlette.responses import Response

from crowdpost.dependencies import SessionDep
from crowdpost.rewards import toloker_bonuses
from crowdpost.web.requester.thread import long_time, message_html
from crowdpost.web.templating import money, render
from crowdpost.web.toloker.session import TolokerPageDep

router = APIRouter(include_in_schema=False)


@router.get("/toloker/bonuses")
def bonuses_page(request: Request, user: TolokerPageDep, session: SessionDep) -> Response:
    views, months, has_more = toloker_bonuses.newest_bonuses(session, user.user_id)
    rows = [
        {
            "date": long_time(view["created"]),
            "requester": view["requester"].get("name") or view["requester"]["id"],
            "amount": money(view["amount"]),
            "title": view.get("title") or "",
            "message": message_html(view["message"]) if view.get("message") else Markup(""),
            "language": view.get("language") or "",
            "assignment": view.get("assignment_id") or "",
        }
        for view in views
    ]
    totals = [{"month": m.month, "total": money(m.total), "count": m.count} for m in months]
    return render(request, "toloker/bonuses.html", {"nav": "bonuses", "rows": rows, "totals": totals, "more": has_more})
