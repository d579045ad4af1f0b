"""/toloker/sign-in and /toloker/sign-out: a Toloker signs in with their API token or e-mail + password.

The forms carry the pre-session CSRF token (`web.form_token`), checked before any credential
is looked at or counted, exactly as on the requester's sign-in page.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from crowdpost.accounts import toloker_web_sessions
from crowdpost.config import SettingsDep
from crowdpost.db import SessionDep, get_db
from crowdpost.web.form_token import check_form_token, form_token, remember_form_token
from crowdpost.web.session import cookie_options
from crowdpost.web.templating import render
from crowdpost.web.toloker.session import COOKIE, TolokerFormDep, safe_toloker_next

router = APIRouter(include_in_schema=False)

EmailField = Annotated[str, Form(max_length=320)]
SecretField = Annotated[str, Form(max_length=1024)]
TEMPLATE = "toloker/sign_in.html"


@router.get("/toloker")
@router.get("/toloker/")
def toloker_home() -> Response:
    return RedirectResponse("/toloker/messages", status_code=303)


@router.get("/toloker/sign-in")
def sign_in_page(request: Request, settings: SettingsDep, next: str | None = None) -> Response:
    if toloker_web_sessions.authenticate_web(get_db(request), settings, request.cookies.get(COOKIE)) is not None:
        return RedirectResponse(safe_toloker_next(next), status_code=303)
    token = form_token(request)
    context = {"email": "", "next": safe_toloker_next(next), "method": "token", "csrf_token": token}
    return remember_form_token(render(request, TEMPLATE, context), token, settings)


@router.post("/toloker/sign-in")
def sign_in(
    request: Request,
    settings: SettingsDep,
    method: Annotated[Literal["password", "token"], Form()] = "token",
    email: EmailField = "",
    password: SecretField = "",
    token: SecretField = "",
    next: Annotated[str, Form(max_length=2000)] = "",
    csrf_token: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    check_form_token(request, csrf_token)  # before any credential is looked at or counted
    db = get_db(request)
    if method == "token":
        result = toloker_web_sessions.do_sign_in_with_token(db, settings, token.strip())
    else:
        result = toloker_web_sessions.do_sign_in_with_password(db, settings, email.strip(), password)
    if not result.ok or result.cookie_value is None:
        field = "token" if method == "token" else "email"
        context = {
            "email": email,
            "next": safe_toloker_next(next),
            "method": method,
            "errors": {field: result.message or "Sign-in failed."},
            "locked": result.locked,
            "csrf_token": csrf_token,
        }
        return render(request, TEMPLATE, context, status_code=429 if result.locked else 400)
    response = RedirectResponse(safe_toloker_next(next), status_code=303)
    response.set_cookie(COOKIE, result.cookie_value, **cookie_options(settings))  # type: ignore[arg-type]
    return response


@router.post("/toloker/sign-out")
def sign_out(request: Request, user: TolokerFormDep, session: SessionDep, settings: SettingsDep) -> Response:
    toloker_web_sessions.do_sign_out(session, request.cookies.get(COOKIE, ""))
    response = RedirectResponse("/toloker/sign-in", status_code=303)
    secure = bool(cookie_options(settings)["secure"])
    response.delete_cookie(COOKIE, path="/", secure=secure, httponly=True, samesite="lax")
    return response
