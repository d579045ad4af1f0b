"""/profile: who the requester is (the data of GET /api/v1/requester, plus their e-mail), the
form that changes their password, and the state of e-mail notifications.

The password form posts to /profile/password and is answered the usual way: 303 back to
/profile on success, the page again at 400 with the messages next to the fields otherwise.
The rules (current password right, new one 10..1,024 characters, every other session ended)
are `accounts.web_sessions.do_change_password`'s; this module only checks that the two
copies of the new password agree, which is how the form is filled, not a rule of accounts.

The success notice is a one-shot cookie, not `?changed=1`: a link with a query string could
show "Password changed" to someone who changed nothing, and a reload would show it again.
The cookie is set on the 303 (only this site can set it), read and deleted by the next
GET /profile, and holds a fixed key, never text that reaches the page.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from crowdpost.accounts import service as accounts
from crowdpost.accounts import views as account_views
from crowdpost.accounts import web_sessions
from crowdpost.config import Settings
from crowdpost.dependencies import SessionDep, SettingsDep
from crowdpost.errors import ValidationFailed
from crowdpost.web.session import FormUserDep, PageUser, PageUserDep
from crowdpost.web.templating import render

router = APIRouter(include_in_schema=False)

FLASH_COOKIE = "crowdpost_flash"
FLASH_PATH = "/profile"
FLASHES = {"password-changed": "Password changed. Other sessions were signed out."}
# Longer than anyone's password (check_new_password allows 1,024): a bigger field is refused
# before any hashing runs.
SecretField = Annotated[str, Form(max_length=4096)]
FIELDS = ("current_password", "new_password", "confirm_password")
# A message, not a secret (S105 sees "password" in the key).
NOT_THE_SAME = "The two new passwords are not the same. Type the new password twice."


def _names(public_name: Any) -> list[tuple[str | None, str]]:
    """(language or None, name): one row per language when the name has several."""
    if isinstance(public_name, dict):
        names = [(lang, str(value)) for lang, value in public_name.items() if value]
        return [(None, names[0][1])] if len(names) == 1 else names
    return [(None, str(public_name))] if public_name else []


def _profile_context(session: Session, user: PageUser, **extra: Any) -> dict[str, Any]:
    requester = accounts.get_requester(session, user.requester_id)
    view = account_views.requester_view(requester)  # what GET /api/v1/requester answers
    context: dict[str, Any] = {
        "nav": "profile",
        "account": view,
        "names": _names(view["public_name"]),
        "email": requester.email,
        "errors": {},
    }
    context.update(extra)
    return context


@router.get("/profile")
def profile_page(request: Request, user: PageUserDep, session: SessionDep) -> Response:
    flash = FLASHES.get(request.cookies.get(FLASH_COOKIE, ""))
    response = render(request, "profile.html", _profile_context(session, user, flash=flash))
    if FLASH_COOKIE in request.cookies:
        response.delete_cookie(FLASH_COOKIE, path=FLASH_PATH, httponly=True, samesite="lax")
    return response


@router.post("/profile/password")
def change_password(
    request: Request,
    user: FormUserDep,
    session: SessionDep,
    settings: SettingsDep,
    current_password: SecretField = "",
    new_password: SecretField = "",
    confirm_password: SecretField = "",
) -> Response:
    errors: dict[str, str] = {}
    if new_password != confirm_password:
        errors["confirm_password"] = NOT_THE_SAME
    else:
        try:
            web_sessions.do_change_password(session, user.web, current_password, new_password)
        except ValidationFailed as exc:
            errors = _field_messages(exc)
    if errors:
        # Passwords are never echoed back into the form.
        context = _profile_context(session, user, errors=errors)
        return render(request, "profile.html", context, status_code=400)
    response = RedirectResponse(FLASH_PATH, status_code=303)
    _set_flash(response, settings, "password-changed")
    return response


def _field_messages(exc: ValidationFailed) -> dict[str, str]:
    """The service's field errors as one sentence per form field, in the form's order."""
    payload = exc.payload if isinstance(exc.payload, dict) else {}
    messages = {}
    for name in FIELDS:
        detail = payload.get(name)
        if detail is not None:
            messages[name] = str(detail.get("message") if isinstance(detail, dict) else detail)
    return messages or {"current_password": exc.message}


def _set_flash(response: Response, settings: Settings, key: str) -> None:
    response.set_cookie(
        FLASH_COOKIE,
        key,
        max_age=60,
        path=FLASH_PATH,
        httponly=True,
        samesite="lax",
        secure=settings.public_url.startswith("https://"),
    )
