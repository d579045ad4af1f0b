"""/toloker/sign-in and /toloker/sign-out: a Toloker signs in with their API token or e-mail + password.

The flow and its routes are `web.sign_in`'s, exactly as on the requester's sign-in page; the
Toloker's side (template, cookie, pages under /toloker/, their sessions) is named here.
"""

from __future__ import annotations

from starlette.responses import RedirectResponse, Response

from crowdpost.accounts import toloker_web_sessions
from crowdpost.web.sign_in import SignInSide, sign_in_routes
from crowdpost.web.toloker.session import COOKIE, require_toloker_csrf, safe_toloker_next

TOLOKER = SignInSide(
    template="toloker/sign_in.html",
    cookie=COOKIE,
    sign_in_path="/toloker/sign-in",
    sign_out_path="/toloker/sign-out",
    default_method="token",
    safe_next=safe_toloker_next,
    sessions=toloker_web_sessions,
)
router = sign_in_routes(TOLOKER, require_toloker_csrf)


@router.get("/toloker")
@router.get("/toloker/")
def toloker_home() -> Response:
    return RedirectResponse("/toloker/messages", status_code=303)
