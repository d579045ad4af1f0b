"""The signed-in requester of a page request, and the CSRF check of the forms that change things.

Pages authenticate with a server-side session (`accounts.web_sessions`) named by an HttpOnly
cookie; the API keeps its tokens and never looks at the cookie. A page request without a live
session is sent to /sign-in (htmx requests get `HX-Redirect`, so the whole page moves).

CSRF: the session row holds a random token; every form that changes something carries it as
`csrf_token`, every htmx request as the `X-CSRF-Token` header (set once on <body>). A missing
or wrong token is a 403 before the handler runs, so nothing changes.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Generic, Protocol, TypeVar
from urllib.parse import quote

from fastapi import Depends, Request

from crowdpost.accounts import service as accounts
from crowdpost.accounts.web_sessions import WebSession, authenticate_web
from crowdpost.config import Settings
from crowdpost.dependencies import SettingsDep, get_db
from crowdpost.kit.ids import format_id
from crowdpost.kit.language_choice import text_in
from crowdpost.kit.money import from_micros
from crowdpost.web.templating import money

COOKIE = "crowdpost_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Header:
    """What base.html's header shows about the signed-in person (`me`): a requester's name and
    balance, or a Toloker's ID (no balance)."""

    name: str
    public_id: str
    balance: str = ""


class _Session(Protocol):
    @property
    def csrf_token(self) -> str: ...


SessionT = TypeVar("SessionT", bound=_Session)


@dataclass(frozen=True)
class SignedIn(Generic[SessionT]):
    """Who a page request is from: their web session and what the header shows."""

    web: SessionT
    header: Header

    @property
    def csrf_token(self) -> str:
        return self.web.csrf_token


@dataclass(frozen=True)
class PageUser(SignedIn[WebSession]):
    @property
    def requester_id(self) -> int:
        return self.web.requester_id


class SignInRequired(Exception):
    """No live session: the page answers with a redirect to /sign-in?next=..."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class CsrfRefused(Exception):
    """A state-changing page request without this session's CSRF token."""


def cookie_options(settings: Settings) -> dict[str, object]:
    return {
        "httponly": True,
        "samesite": "lax",
        "secure": settings.public_url.startswith("https://"),
        "path": "/",
        "max_age": int(settings.session_absolute_days * 86400),
    }


def safe_next(target: str | None, default: str = "/messages") -> str:
    """A redirect target from a form or query: a path on this site, never another host.

    `//evil.example/x` and `/\\evil.example` are protocol-relative in browsers, so only a
    single leading slash followed by something else is accepted."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")) or len(target) > 2000:
        return default
    if any(ord(ch) < 0x20 for ch in target):
        return default
    return target


def sign_in_url(next_url: str) -> str:
    return "/sign-in?next=" + quote(next_url, safe="/")


def _header_of(request: Request, requester_id: int) -> Header:
    with get_db(request).transaction(write=False) as session:
        requester = accounts.get_requester(session, requester_id)
        name = text_in(requester.public_name)
        balance = money(from_micros(requester.balance_micros))
    return Header(name=name or format_id(requester_id), balance=balance, public_id=format_id(requester_id))


def require_page_user(request: Request, settings: SettingsDep) -> PageUser:
    """The signed-in requester, or SignInRequired. Runs in transactions of its own, before the
    handler's session starts, so a page POST never waits on itself for the SQLite write lock."""
    web = authenticate_web(get_db(request), settings, request.cookies.get(COOKIE))
    if web is None:
        raise SignInRequired(come_back_to(request, "/messages"))
    user = PageUser(web=web, header=_header_of(request, web.requester_id))
    request.state.page_user = user  # the base template shows the header and the CSRF token
    return user


async def check_csrf(request: Request, expected: str) -> None:
    """CsrfRefused unless a state-changing request carries `expected` (the header, else the
    form field); every side's pages (requester, Toloker, operator) check it so."""
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        form = await request.form()  # Starlette caches it; the handler's Form() fields reuse it
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if sent is None or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise CsrfRefused()


def come_back_to(request: Request, home: str) -> str:
    """Where sign-in returns to: this page (with its query) for a GET, `home` for a form."""
    if request.method not in SAFE_METHODS:
        return home
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def csrf_checked(signed_in: Callable[..., SessionT]) -> Callable[..., Awaitable[SessionT]]:
    """The dependency of a side's forms that change things: that side's `signed_in`
    dependency, then `check_csrf` against the token of the session it found."""

    async def dependency(request: Request, who: SessionT = Depends(signed_in)) -> SessionT:
        await check_csrf(request, who.csrf_token)
        return who

    return dependency


require_csrf = csrf_checked(require_page_user)


# Every page handler takes one of these: GET pages PageUserDep, forms that change things
# FormUserDep (signed in and carrying the CSRF token).
PageUserDep = Annotated[PageUser, Depends(require_page_user)]
FormUserDep = Annotated[PageUser, Depends(require_csrf)]
