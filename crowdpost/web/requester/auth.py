"""/sign-in and /sign-out: a requester signs in with e-mail and password or an API token.

The flow (form token first, one message for wrong credentials, 429 when locked) and its routes
are `web.sign_in`'s, shared with the Toloker's pages; the requester's side is named here.
"""

from __future__ import annotations

from starlette.responses import RedirectResponse, Response

from crowdpost.accounts import web_sessions
from crowdpost.web.session import COOKIE, require_csrf, safe_next
from crowdpost.web.sign_in import SignInSide, sign_in_routes

REQUESTER = SignInSide(
    template="sign_in.html",
    cookie=COOKIE,
    sign_in_path="/sign-in",
    sign_out_path="/sign-out",
    default_method="password",
    safe_next=safe_next,
    sessions=web_sessions,
)
router = sign_in_routes(REQUESTER, require_csrf)


@router.get("/")
def home() -> Response:
    return RedirectResponse("/messages", status_code=303)
