"""Links that arrive by e-mail: confirm an address, one-click unsubscribe.

Public paths: the signed URL is the only authority (no session, no CSRF token), so a mail
client's RFC 8058 one-click POST works. Bad or expired signatures get a clear page and 400.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import Response

from crowdpost.db import Database
from crowdpost.dependencies import get_db
from crowdpost.email import service
from crowdpost.email.links import BadLink, check_unsubscribe, check_verify, link_secret
from crowdpost.web.templating import render

router = APIRouter()
Handler = Callable[[Request], Response]

EVENT_WORDS = {"NEW_MESSAGE": "New message", "OPERATION_FINISHED": "Operation finished"}
BAD = {
    "invalid": "This link is not valid. Copy the whole link from the e-mail, or ask for a new one.",
    "expired": "This link has expired. Open Profile, Notifications, and send a new confirmation e-mail.",
}


def _page(request: Request, title: str, message: str, *, status: int = 200, action: str | None = None) -> Response:
    context = {"title": title, "message": message, "confirm": action is not None, "action": action or ""}
    return render(request, "email/link.html", context, status_code=status)


def _params(request: Request) -> dict[str, str]:
    return dict(request.query_params)


def _bad_link_page(title: str) -> Callable[[Handler], Handler]:
    """The handler's answer, or for a link that is not valid or has expired (`BadLink`,
    its transaction rolled back) a page titled `title` that says so, status 400."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def answer(request: Request) -> Response:
            try:
                return handler(request)
            except BadLink as bad:
                return _page(request, title, BAD[bad.reason], status=400)

        return answer

    return decorate


@router.get("/email/verify")
@_bad_link_page("Address not confirmed")
def verify(request: Request) -> Response:
    db: Database = get_db(request)
    with db.transaction() as session:
        link = check_verify(link_secret(session), _params(request))
        confirmed = service.do_verify_address(session, link)
    if not confirmed:
        return _page(
            request, "Address not confirmed", "Your e-mail address has changed since this link was sent.", status=400
        )
    return _page(request, "Address confirmed", f"{link.email} will now receive the e-mails you switched on.")


@router.get("/email/unsubscribe")
@_bad_link_page("Cannot unsubscribe")
def unsubscribe_page(request: Request) -> Response:
    db: Database = get_db(request)
    with db.transaction(write=False) as session:
        link = check_unsubscribe(link_secret(session), _params(request))
    word = EVENT_WORDS.get(link.event, link.event)
    action = f"/email/unsubscribe?{request.url.query}"
    return _page(request, "Unsubscribe", f"Stop e-mails for \u201c{word}\u201d?", action=action)


@router.post("/email/unsubscribe")
@_bad_link_page("Cannot unsubscribe")
def unsubscribe(request: Request) -> Response:
    """RFC 8058 one-click (body `List-Unsubscribe=One-Click`) or the confirm button."""
    db: Database = get_db(request)
    with db.transaction() as session:
        link = check_unsubscribe(link_secret(session), _params(request))
        service.do_unsubscribe(session, link)
    word = EVENT_WORDS.get(link.event, link.event)
    return _page(request, "Unsubscribed", f"You will no longer get e-mails for \u201c{word}\u201d.")
