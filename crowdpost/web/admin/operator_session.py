"""The operator's page session: a signed cookie, no table.

The cookie value is `<issued unix seconds>.<random id>.<HMAC>`; the HMAC key is derived from
the operator token, so rotating `CROWDPOST_ADMIN_TOKEN` ends every operator session at once.
It lives `LIFETIME` after sign-in (short: this cookie can move money). The CSRF token of
its forms is derived from the cookie value with the same key, so it needs no storage either
and another session's token never fits. Requester sessions (`crowdpost_session`) are a
different cookie and open nothing here; this cookie opens nothing else (only /admin reads it).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from crowdpost.config import Settings
from crowdpost.dependencies import SettingsDep
from crowdpost.web.session import SignInRequired, csrf_checked
from crowdpost.web.session import cookie_options as page_cookie_options

COOKIE = "crowdpost_operator_session"
LIFETIME_SECONDS = 8 * 3600
MAX_COOKIE_LENGTH = 128


def _key(settings: Settings) -> bytes:
    return hashlib.sha256(b"crowdpost operator page session\0" + settings.admin_token.encode("utf-8")).digest()


def _sign(settings: Settings, what: str) -> str:
    return hmac.new(_key(settings), what.encode("ascii"), hashlib.sha256).hexdigest()


def new_cookie_value(settings: Settings, now: float | None = None) -> str:
    body = f"{int(now if now is not None else time.time())}.{secrets.token_urlsafe(16)}"
    return f"{body}.{_sign(settings, body)}"


@dataclass(frozen=True)
class OperatorSession:
    cookie_value: str
    csrf_token: str


def authenticate(settings: Settings, value: str | None, now: float | None = None) -> OperatorSession | None:
    """The session this cookie value names: well-formed, signed with the current key, not expired."""
    if not value or len(value) > MAX_COOKIE_LENGTH or not value.isascii():
        return None
    parts = value.split(".")
    if len(parts) != 3 or not parts[0].isdigit():
        return None
    body = f"{parts[0]}.{parts[1]}"
    if not hmac.compare_digest(parts[2], _sign(settings, body)):
        return None
    age = (now if now is not None else time.time()) - int(parts[0])
    if not 0 <= age < LIFETIME_SECONDS:
        return None
    return OperatorSession(cookie_value=value, csrf_token=_sign(settings, "csrf:" + value)[:43])


def cookie_options(settings: Settings) -> dict[str, object]:
    """The requester's cookie options, but sent to /admin only, never on a cross-site
    request, and ending with the session's lifetime."""
    return page_cookie_options(settings) | {"samesite": "strict", "path": "/admin", "max_age": LIFETIME_SECONDS}


class OperatorSignInRequired(SignInRequired):
    """No operator session: the page answers with a redirect to /admin/sign-in."""

    redirect_to = "/admin/sign-in"

    def __init__(self) -> None:
        super().__init__("/admin")


def require_operator(request: Request, settings: SettingsDep) -> OperatorSession:
    operator = authenticate(settings, request.cookies.get(COOKIE))
    if operator is None:
        raise OperatorSignInRequired()
    request.state.operator = operator
    return operator


require_operator_csrf = csrf_checked(require_operator)


OperatorDep = Annotated[OperatorSession, Depends(require_operator)]
OperatorFormDep = Annotated[OperatorSession, Depends(require_operator_csrf)]
