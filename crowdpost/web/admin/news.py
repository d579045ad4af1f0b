"""/admin/news: the operator's platform messages (role Administrator) to requesters.

Compose (to all requesters or to listed IDs), Preview (how many requesters, the text as they
will see it; a read transaction) and Send (`messaging.platform.do_platform_message`, the
service of `POST /api/admin/v1/messages`), then the list of what was sent, newest first.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from crowdpost.dependencies import get_db
from crowdpost.errors import ApiError, ValidationFailed
from crowdpost.kit.ids import format_id, format_optional_id, parse_id
from crowdpost.kit.language_choice import text_in
from crowdpost.messaging import platform
from crowdpost.messaging.schemas import TEXT_MAX_CHARS, TOPIC_MAX_CHARS, PlatformMessageForm
from crowdpost.web.admin.operator_session import OperatorDep, OperatorFormDep
from crowdpost.web.requester.thread import message_html
from crowdpost.web.templating import render

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 20
MAX_IDS_CHARS = 200_000  # 10,000 ids of 12 digits and separators
_SEPARATORS = re.compile(r"[\s,;]+")  # one character class repeated: no backtracking


def _form_of(audience: str, requester_ids: str, subject: str, text: str) -> PlatformMessageForm:
    """The API's request model from the posted fields; ValidationFailed names the page's fields."""
    errors: dict[str, str] = {}
    ids = [part for part in _SEPARATORS.split(requester_ids.strip()) if part] if audience == "ids" else None
    if ids is not None and not ids:
        errors["requester_ids"] = "Enter at least one requester ID, or choose All requesters."
    if not subject.strip():
        errors["subject"] = "Enter a subject."
    if not text.strip():
        errors["text"] = "Enter the message text."
    if errors:
        raise ValidationFailed(errors)
    try:
        return PlatformMessageForm(
            topic={"EN": subject.strip()},
            text={"EN": text},
            requester_ids=ids,
            all_requesters=ids is None,
        )
    except ValidationError as exc:
        field = {"topic": "subject", "text": "text", "requester_ids": "requester_ids"}
        found = {field.get(str(e["loc"][0]), "_form"): e["msg"] for e in exc.errors()}
        raise ValidationFailed(found) from exc


def _messages(exc: ApiError) -> dict[str, str]:
    """The service's errors as one sentence per page field."""
    payload = exc.payload if isinstance(exc.payload, dict) else {}
    found: dict[str, str] = {}
    for key, value in payload.items():
        fields = {"topic": "subject", "topic.EN": "subject", "text.EN": "text"}
        name = fields.get(str(key), str(key))
        if isinstance(value, str):
            found[name] = value
        elif isinstance(value, dict):
            params = ", ".join(str(p) for p in value.get("params") or [])
            found[name] = str(value.get("message", "invalid")) + (f": {params}" if params else "")
    return found or {"_form": exc.message}


def _page(request: Request, operator: Any, context: dict[str, Any], status_code: int = 200) -> Response:
    before_text = context.pop("before", None)
    before = parse_id(before_text) if before_text else None
    with get_db(request).transaction(write=False) as session:
        threads, older = platform.platform_sent_page(session, before, PAGE_SIZE)
        sent = [
            {
                "id": format_id(t.id),
                "subject": text_in(t.topic),
                "recipients": t.delivered_count,
                "created": t.created,
            }
            for t in threads
        ]
    base = {
        "nav": "news",
        "csrf_token": operator.csrf_token,
        "audience": "all",
        "requester_ids": "",
        "subject": "",
        "text": "",
        "errors": {},
        "sent": sent,
        "older": format_optional_id(older),
        "paged": before is not None,
        "topic_max": TOPIC_MAX_CHARS,
        "text_max": TEXT_MAX_CHARS,
    }
    base.update(context)
    return render(request, "admin/news.html", base, status_code=status_code)


@router.get("/admin/news")
def news_page(
    request: Request,
    operator: OperatorDep,
    before: Annotated[str | None, Query(max_length=20)] = None,
    sent: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    flash = None
    if sent is not None and parse_id(sent) is not None:
        flash = f"Sent: message {sent}."
    return _page(request, operator, {"before": before, "flash": flash})


AudienceField = Annotated[Literal["all", "ids"], Form()]
IdsField = Annotated[str, Form(max_length=MAX_IDS_CHARS)]
SubjectField = Annotated[str, Form(max_length=TOPIC_MAX_CHARS)]
TextField = Annotated[str, Form(max_length=TEXT_MAX_CHARS)]


@router.post("/admin/news")
def send_news(
    request: Request,
    operator: OperatorFormDep,
    action: Annotated[Literal["preview", "send"], Form()] = "preview",
    audience: AudienceField = "all",
    requester_ids: IdsField = "",
    subject: SubjectField = "",
    text: TextField = "",
) -> Response:
    kept = {"audience": audience, "requester_ids": requester_ids, "subject": subject, "text": text}
    try:
        form = _form_of(audience, requester_ids, subject, text)
        if action == "preview":
            with get_db(request).transaction(write=False) as session:
                count = platform.platform_audience(session, form.requester_ids)
            preview = {"count": count, "subject": subject.strip(), "html": message_html(text)}
            return _page(request, operator, {**kept, "preview": preview})
        with get_db(request).transaction() as session:
            result = platform.do_platform_message(session, form)
    except ApiError as exc:
        if exc.status_code >= 500:
            raise
        return _page(request, operator, {**kept, "errors": _messages(exc)}, status_code=400)
    return RedirectResponse(f"/admin/news?sent={result['id']}", status_code=303)
