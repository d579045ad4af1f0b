"""/admin/sign-in and /admin/sign-out: the operator signs in with the operator token.

The form carries the pre-session CSRF token (`web.form_token`), checked before the token is
looked at. The attempt is counted (key "operator") before the constant-time compare and ten
failures in 15 minutes lock the form (`accounts.web_sessions.do_operator_sign_in`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from crowdpost.accounts import web_sessions
from crowdpost.dependencies import SettingsDep, get_db
from crowdpost.web.admin.operator_session import (
    COOKIE,
    OperatorFormDep,
    authenticate,
    cookie_options,
    new_cookie_value,
)
from crowdpost.web.form_token import check_form_token, form_token, remember_form_token
from crowdpost.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/admin")
def admin_home() -> Response:
    return RedirectResponse("/admin/news", status_code=303)


@router.get("/admin/sign-in")
def sign_in_page(request: Request, settings: SettingsDep) -> Response:
    if authenticate(settings, request.cookies.get(COOKIE)) is not None:
        return RedirectResponse("/admin/news", status_code=303)
    token = form_token(request)
    return remember_form_token(render(request, "admin/sign_in.html", {"form_token": token}), token, settings)


@router.post("/admin/sign-in")
def sign_in(
    request: Request,
    settings: SettingsDep,
    token: Annotated[str, Form(max_length=1024)] = "",
    csrf_token: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    check_form_token(request, csrf_token)  # before the token is looked at or counted
    result = web_sessions.do_operator_sign_in(get_db(request), settings, token.strip())
    if not result.ok:
        context = {"form_token": csrf_token, "errors": {"token": result.message or "Sign-in failed."}}
        return render(request, "admin/sign_in.html", context, status_code=429 if result.locked else 400)
    response = RedirectResponse("/admin/news", status_code=303)
    response.set_cookie(COOKIE, new_cookie_value(settings), **cookie_options(settings))  # type: ignore[arg-type]
    return response


@router.post("/admin/sign-out")
def sign_out(_: OperatorFormDep, settings: SettingsDep) -> Response:
    response = RedirectResponse("/admin/sign-in", status_code=303)
    options = cookie_options(settings)
    response.delete_cookie(COOKIE, path="/admin", secure=bool(options["secure"]), httponly=True, samesite="strict")
    return response
