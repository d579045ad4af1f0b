"""A CSRF token for the forms shown before there is a session: the sign-in forms.

Login CSRF: without it, another site could post its own credentials to /sign-in and quietly
sign a visitor into the attacker's account (whatever the visitor then writes, the attacker
reads). The sign-in page puts a random token in a cookie and in the form (double submit); the
POST must carry both, equal, or it is refused before any credential is looked at. The cookie
is SameSite=Strict, so another site's POST does not even send it.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import Request
from starlette.responses import Response

from crowdpost.config import Settings
from crowdpost.web.session import CsrfRefused

COOKIE = "crowdpost_form_token"
FIELD = "csrf_token"
_TOKEN_LENGTH = 43  # secrets.token_urlsafe(32)
_URLSAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_LIFETIME_SECONDS = 6 * 3600


def _well_formed(value: str | None) -> bool:
    return value is not None and len(value) == _TOKEN_LENGTH and set(value) <= _URLSAFE


def form_token(request: Request) -> str:
    """The token of this browser's sign-in forms: the cookie's, or a new one."""
    current = request.cookies.get(COOKIE)
    return current if current is not None and _well_formed(current) else secrets.token_urlsafe(32)


def remember_form_token(response: Response, token: str, settings: Settings) -> Response:
    response.set_cookie(
        COOKIE,
        token,
        max_age=_LIFETIME_SECONDS,
        path="/",
        httponly=True,
        samesite="strict",
        secure=settings.public_url.startswith("https://"),
    )
    return response


def check_form_token(request: Request, sent: str) -> None:
    """Raises CsrfRefused unless the form's token equals the cookie's (compared in constant time)."""
    cookie = request.cookies.get(COOKIE)
    if not (_well_formed(cookie) and _well_formed(sent)):
        raise CsrfRefused()
    assert cookie is not None
    if not hmac.compare_digest(cookie.encode(), sent.encode()):
        raise CsrfRefused()
