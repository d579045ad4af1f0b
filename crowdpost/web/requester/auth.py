"""/sign-in and /sign-out: a requester signs in with e-mail and password or an API token.

Wrong credentials are answered with the sign-in page and one message. The forms carry a
pre-session CSRF token (`web.form_token`), checked before anything else. The service runs its
own short transactions (the failed attempt commits and the lock-out counts it; the password
check runs outside them), so the sign-in POST takes no request session.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from crowdpost.accounts import web_sessions
from crowdpost.config import SettingsDep
from crowdpost.db import SessionDep, get_db
from crowdpost.web.form_token import check_form_token, form_token, remember_form_token
from crowdpost.web.session import COOKIE, FormUserDep, cookie_options, safe_next
from crowdpost.web.templating import render

router = APIRouter(include_in_schema=False)

# Lengths are checked before anything else runs: a sign-in form is small.
EmailField = Annotated[str, Form(max_length=320)]
SecretField = Annotated[str, Form(max_length=1024)]


@router.get("/")
def home() -> Response:
    return RedirectResponse("/messages", status_code=303)


@router.get("/sign-in")
def sign_in_page(request: Request, settings: SettingsDep, next: str | None = None) -> Response:
    if web_sessions.authenticate_web(get_db(request), settings, request.cookies.get(COOKIE)) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    token = form_token(request)
    context = {"email": "", "next": safe_next(next), "method": "password", "csrf_token": token}
    return remember_form_token(render(request, "sign_in.html", context), token, settings)


@router.post("/sign-in")
def sign_in(
    request: Request,
    settings: SettingsDep,
    method: Annotated[Literal["password", "token"], Form()] = "password",
    email: EmailField = "",
    password: SecretField = "",
    token: SecretField = "",
    next: Annotated[str, Form(max_length=2000)] = "",
    csrf_token: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    check_form_token(request, csrf_token)  # before any credential is looked at or counted
    if method == "token":
        result = web_sessions.do_sign_in_with_token(get_db(request), settings, token.strip())
    else:
        result = web_sessions.do_sign_in_with_password(get_db(request), settings, email.strip(), password)
    if not result.ok or result.cookie_value is None:
        field = "token" if method == "token" else "email"
        context = {
            "email": email,
            "next": safe_next(next),
            "method": method,
            "errors": {field: result.message or "Sign-in failed."},
            "locked": result.locked,
            "csrf_token": csrf_token,
        }
        return render(request, "sign_in.html", context, status_code=429 if result.locked else 400)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(COOKIE, result.cookie_value, **cookie_options(settings))  # type: ignore[arg-type]
    return response


@router.post("/sign-out")
def sign_out(request: Request, user: FormUserDep, session: SessionDep, settings: SettingsDep) -> Response:
    web_sessions.do_sign_out(session, request.cookies.get(COOKIE, ""))
    response = RedirectResponse("/sign-in", status_code=303)
    options = cookie_options(settings)
    response.delete_cookie(COOKIE, path="/", secure=bool(options["secure"]), httponly=True, samesite="lax")
    return response
