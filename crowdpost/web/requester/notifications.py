"""Profile -> Notifications: e-mail address and per-event switches.

The same service functions as `/api/v1/requester/notification-settings`; every form posts
and redirects (303), so the page works without JavaScript.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from crowdpost.dependencies import SessionDep
from crowdpost.email import service
from crowdpost.email.schemas import EventSwitch, RequesterEvents, RequesterSettingsPatch
from crowdpost.errors import ValidationFailed
from crowdpost.web.session import FormUserDep, PageUserDep
from crowdpost.web.templating import render

router = APIRouter()

PATH = "/profile/notifications"
# Form values are capped before anything reads them.
EmailField = Annotated[str, Form(max_length=400)]
SwitchField = Annotated[str, Form(max_length=8)]


def _context(settings: Any, **extra: Any) -> dict[str, Any]:
    return {"nav": "profile", "settings": settings, "errors": {}, "saved": False, **extra}


@router.get(PATH)
def notifications_page(request: Request, user: PageUserDep, session: SessionDep) -> Response:
    settings = service.get_requester_settings(session, user.requester_id)
    flag = request.query_params.get("saved")
    context = _context(settings, saved=flag in ("1", "resent"), resent=flag == "resent")
    return render(request, "notifications.html", context)


@router.post(PATH)
def save(
    request: Request,
    user: FormUserDep,
    session: SessionDep,
    email: EmailField = "",
    new_message: SwitchField = "",
    operation_finished: SwitchField = "",
) -> Response:
    patch = RequesterSettingsPatch(
        email=email.strip() or None,
        events=RequesterEvents(
            NEW_MESSAGE=EventSwitch(email=new_message == "on"),
            OPERATION_FINISHED=EventSwitch(email=operation_finished == "on"),
        ),
    )
    try:
        service.do_patch_requester_settings(session, user.requester_id, patch)
    except ValidationFailed:
        current = service.get_requester_settings(session, user.requester_id)
        errors = {"email": "Enter an e-mail address like name@example.org"}
        context = _context(current, errors=errors, typed_email=email)
        return render(request, "notifications.html", context, status_code=400)
    return RedirectResponse(f"{PATH}?saved=1", status_code=303)


@router.post(f"{PATH}/resend")
def resend(user: FormUserDep, session: SessionDep) -> Response:
    service.do_resend_verification(session, user.requester_id)
    return RedirectResponse(f"{PATH}?saved=resent", status_code=303)
