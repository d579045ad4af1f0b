"""One Jinja2 environment for every page, and `render`: a whole page, or one block of it.

An htmx request (header `HX-Request`) that names a block gets only that block of the same
template (jinja2-fragments), so a page and its fragments can never drift apart. Autoescape
is on for every template: everything a Toloker or requester wrote is text unless it went
through the HTML allow-list (`messaging.policy`) and is marked safe by the template.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from jinja2_fragments.fastapi import Jinja2Blocks
from starlette.requests import Request
from starlette.responses import Response

from crowdpost.kit.timefmt import utcnow

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"


def money(amount: Decimal | str | None) -> str:
    """$1,234.5 -> "$1,234.50": at least cents, every digit that matters, never a float."""
    if amount is None:
        return ""
    value = Decimal(amount)
    exponent = value.normalize().as_tuple().exponent
    places = max(2, -exponent) if isinstance(exponent, int) else 2
    return f"${value:,.{places}f}"


def when(moment: datetime | str | None) -> str:
    """A short, unambiguous time: "14:05" today, "3 Dec" this year, "3 Dec 2025" before."""
    if moment is None:
        return ""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    now = utcnow()
    if moment.date() == now.date():
        return moment.strftime("%H:%M")
    if moment.year == now.year:
        return f"{moment.day} {moment:%b}"
    return f"{moment.day} {moment:%b} {moment.year}"


def iso(moment: datetime | str | None) -> str:
    if moment is None:
        return ""
    if isinstance(moment, str):
        return moment
    return moment.isoformat(timespec="seconds")


def _make_templates() -> Jinja2Blocks:
    made = Jinja2Blocks(directory=str(TEMPLATES_DIR))
    made.env.autoescape = True
    made.env.trim_blocks = True
    made.env.lstrip_blocks = True
    made.env.filters.update(money=money, when=when, iso=iso)
    return made


templates = _make_templates()


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    block: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """The page `name`, or only its `block` when htmx asked for a fragment."""
    ctx: dict[str, Any] = {"me": None, "csrf_token": None, "nav": None, "flash": None, "errors": {}}
    page_user = getattr(request.state, "page_user", None)
    if page_user is not None:
        ctx.update(me=page_user.header, csrf_token=page_user.csrf_token)
    ctx.update(context or {})
    if block is not None and is_htmx(request):
        return templates.TemplateResponse(request, name, ctx, status_code, headers, block_name=block)
    return templates.TemplateResponse(request, name, ctx, status_code, headers)
