"""The sign-in and sign-out pages of requesters and Tolokers: one flow, given a side.

Wrong credentials are answered with the sign-in page and one message. The forms carry a
pre-session CSRF token (`web.form_token`), checked before any credential is looked at or
counted. The services run their own short transactions (the failed attempt commits and the
lock-out counts it; a password check runs outside them), so the sign-in POST takes no request
session. `sign_in_routes` declares the three routes once; `web.requester.auth` and
`web.toloker.auth` each name their side.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Literal, Protocol

from fastapi import APIRouter, Depends, Form, Request
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from crowdpost.accounts.web_sessions import SignInResult
from crowdpost.config import Settings
from crowdpost.db import Database
from crowdpost.dependencies import SessionDep, SettingsDep, get_db
from crowdpost.web.form_token import check_form_token, form_token, remember_form_token
from crowdpost.web.session import cookie_options
from crowdpost.web.templating import render

Method = Literal["password", "token"]
# Lengths are checked before anything else runs: a sign-in form is small.
EmailField = Annotated[str, Form(max_length=320)]
SecretField = Annotated[str, Form(max_length=1024)]
NextField = Annotated[str, Form(max_length=2000)]
CsrfField = Annotated[str, Form(max_length=64)]


class WebSessions(Protocol):
    """A side's session service: the module `accounts.web_sessions` (requesters) or
    `accounts.toloker_web_sessions` (Tolokers), which have these functions alike."""

    def authenticate_web(self, db: Database, settings: Settings, cookie_value: str | None, /) -> object | None: ...
    def do_sign_in_with_token(self, db: Database, settings: Settings, token: str, /) -> SignInResult: ...
    def do_sign_in_with_password(
        self, db: Database, settings: Settings, email: str, password: str, /
    ) -> SignInResult: ...
    def do_sign_out(self, session: Session, cookie_value: str, /) -> None: ...


@dataclass(frozen=True)
class SignInSide:
    """Whose sign-in: its template, cookie, pages and session service."""

    template: str
    cookie: str
    sign_in_path: str
    sign_out_path: str
    default_method: Method
    safe_next: Callable[[str | None], str]
    sessions: WebSessions


def show_sign_in(side: SignInSide, request: Request, settings: Settings, next: str | None) -> Response:
    """The form, or straight on to `next` when already signed in."""
    if side.sessions.authenticate_web(get_db(request), settings, request.cookies.get(side.cookie)) is not None:
        return RedirectResponse(side.safe_next(next), status_code=303)
    token = form_token(request)
    context = {"email": "", "next": side.safe_next(next), "method": side.default_method, "csrf_token": token}
    return remember_form_token(render(request, side.template, context), token, settings)


def do_sign_in(
    side: SignInSide,
    request: Request,
    settings: Settings,
    *,
    method: Method,
    email: str,
    password: str,
    token: str,
    next: str,
    csrf_token: str,
) -> Response:
    """Signs in and sets the cookie, or the form again with the one message (429 when locked)."""
    check_form_token(request, csrf_token)  # before any credential is looked at or counted
    db = get_db(request)
    if method == "token":
        result = side.sessions.do_sign_in_with_token(db, settings, token.strip())
    else:
        result = side.sessions.do_sign_in_with_password(db, settings, email.strip(), password)
    if not result.ok or result.cookie_value is None:
        field = "token" if method == "token" else "email"
        context = {
            "email": email,
            "next": side.safe_next(next),
            "method": method,
            "errors": {field: result.message or "Sign-in failed."},
            "locked": result.locked,
            "csrf_token": csrf_token,
        }
        return render(request, side.template, context, status_code=429 if result.locked else 400)
    response = RedirectResponse(side.safe_next(next), status_code=303)
    response.set_cookie(side.cookie, result.cookie_value, **cookie_options(settings))  # type: ignore[arg-type]
    return response


def do_sign_out(side: SignInSide, request: Request, session: Session, settings: Settings) -> Response:
    """Ends the session the cookie names and clears the cookie."""
    side.sessions.do_sign_out(session, request.cookies.get(side.cookie, ""))
    response = RedirectResponse(side.sign_in_path, status_code=303)
    secure = bool(cookie_options(settings)["secure"])
    response.delete_cookie(side.cookie, path="/", secure=secure, httponly=True, samesite="lax")
    return response


def sign_in_routes(side: SignInSide, signed_in_form: Callable[..., object]) -> APIRouter:
    """GET and POST `side.sign_in_path`, POST `side.sign_out_path` (a form of a signed-in
    person: `signed_in_form` is the side's CSRF-checking dependency)."""
    router = APIRouter(include_in_schema=False)

    @router.get(side.sign_in_path)
    def sign_in_page(request: Request, settings: SettingsDep, next: str | None = None) -> Response:
        return show_sign_in(side, request, settings, next)

    @router.post(side.sign_in_path)
    def sign_in(
        request: Request,
        settings: SettingsDep,
        method: Annotated[Method, Form()] = side.default_method,
        email: EmailField = "",
        password: SecretField = "",
        token: SecretField = "",
        next: NextField = "",
        csrf_token: CsrfField = "",
    ) -> Response:
        form = {"email": email, "password": password, "token": token, "next": next, "csrf_token": csrf_token}
        return do_sign_in(side, request, settings, method=method, **form)

    @router.post(side.sign_out_path, dependencies=[Depends(signed_in_form)])
    def sign_out(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
        return do_sign_out(side, request, session, settings)

    return router
