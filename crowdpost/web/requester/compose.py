"""/messages/compose: the Contact form, its live dry run, and the send.

    GET  /messages/compose            the form (`?to=` fills the To field)
    POST /messages/compose/preview    the dry run in a READ transaction: for htmx, the preview block
                                      and each field's notes (out-of-band swaps); without JS the
                                      whole page (the "Check recipients", "+ Add filter", "+ Add
                                      language" and "Remove" buttons post here)
    POST /messages/compose            the send: 303 to the new thread, or the form again (400/429)

The posted fields become the API's `ComposeForm` in `web/compose_form.py`; the dry run and the
send are the API's own calls (`messaging.service.do_dry_run`, `do_compose`), so the page says
and does exactly what `POST /api/v1/message-threads/compose[?dry_run=true]` would.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from crowdpost.config import Settings
from crowdpost.dependencies import SessionDep, SettingsDep, read_only
from crowdpost.errors import TooManyRequests, ValidationFailed
from crowdpost.kit.ids import format_id
from crowdpost.kit.pagination import ListParams
from crowdpost.kit.timefmt import utcnow
from crowdpost.messaging import service
from crowdpost.web import compose_form as cf
from crowdpost.web.posted import PostedDep, first_value
from crowdpost.web.session import FormUserDep, PageUser, PageUserDep
from crowdpost.web.templating import is_htmx, render
from crowdpost.workforce.service import skills as skills_service

router = APIRouter(include_in_schema=False)

TEMPLATE = "messages/compose.html"
PREVIEW_TEMPLATE = "messages/_compose_preview.html"
# The "Filter" select lists this many of the requester's skills (the API's largest page).
SKILLS_LISTED = 300


@dataclass
class Outcome:
    """What the page shows about the form: problems, policy warnings, the dry run."""

    problems: dict[str, str] = field(default_factory=dict)
    warnings: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    preview: cf.Preview | None = None
    note: str = ""  # why nothing was counted yet
    notes: list[str] = field(default_factory=list)
    alert: str = ""  # a problem of the whole send (quota), shown at the top


def filter_keys(session: Session, requester_id: int) -> tuple[dict[str, cf.FilterKey], bool]:
    """The "Filter" choices: the requester's skills (hidden ones included), profile and device keys.
    Also whether more skills exist than are listed."""
    params = ListParams(limit=SKILLS_LISTED, sort=[])
    skills, has_more = skills_service.list_skills(session, requester_id, params, name=None, is_global=None)
    return cf.filter_keys((format_id(s.id), s.name, s.hidden) for s in skills), has_more


def dry_run(
    session: Session, settings: Settings, user: PageUser, fields: cf.ComposeFields, keys: Mapping[str, cf.FilterKey]
) -> Outcome:
    """The live preview: the API's dry run of what the form would send. Never raises for a
    form that is wrong or unfinished; that is what it is there to show."""
    try:
        built = cf.build_compose(fields, keys, utcnow().date(), preview=True)
    except cf.NotReady as exc:
        return Outcome(note=str(exc))
    except cf.FormProblems as exc:
        return Outcome(problems=exc.problems, note="Correct the marked fields to see who receives this.")
    try:
        answer = service.do_dry_run(session, settings, user.requester_id, built.form)
    except ValidationFailed as exc:
        return Outcome(
            problems=cf.problems_from_service(exc.payload or {}, exc.message, fields),
            note="Correct the marked fields to see who receives this.",
        )
    return Outcome(
        warnings=cf.warnings_by_field(answer["policy_warnings"], fields),
        preview=cf.preview_of(answer),
        notes=built.notes,
    )


def page(
    request: Request,
    settings: Settings,
    fields: cf.ComposeFields,
    outcome: Outcome,
    keys: Mapping[str, cf.FilterKey],
    *,
    skills_truncated: bool = False,
    status_code: int = 200,
    show_summary: bool = False,
) -> Response:
    context: dict[str, Any] = {
        "nav": "messages",
        "fields": fields,
        "keys": keys,
        "skills_truncated": skills_truncated,
        "skill_count": sum(1 for k in keys.values() if k.category == "skill"),
        "public_host": service.public_host(settings),
        "outcome": outcome,
        # The summary at the top lists problems after a send; the live preview only marks fields.
        # "_form" (not a field) is listed without a link.
        "errors": {("_form" if k == "form" else k): v for k, v in outcome.problems.items()} if show_summary else {},
        "cf": cf,
    }
    return render(request, TEMPLATE, context, status_code=status_code)


@router.get("/messages/compose")
def compose_page(
    request: Request,
    user: PageUserDep,
    session: SessionDep,
    settings: SettingsDep,
    to: Annotated[str, Query(max_length=cf.TO_MAX_CHARS)] = "",
) -> Response:
    fields = cf.ComposeFields(to=to)
    keys, truncated = filter_keys(session, user.requester_id)
    outcome = dry_run(session, settings, user, fields, keys) if to else Outcome()
    return page(request, settings, fields, outcome, keys, skills_truncated=truncated)


@router.post("/messages/compose/preview")
@read_only()
def compose_preview(
    request: Request, user: FormUserDep, session: SessionDep, settings: SettingsDep, posted: PostedDep
) -> Response:
    return rerender(request, session, settings, user, posted)


def rerender(
    request: Request, session: Session, settings: Settings, user: PageUser, posted: Mapping[str, list[str]]
) -> Response:
    """The form after a button that sends nothing: the dry run, with the button's change applied.

    An htmx preview never applies a button: htmx posts the last button clicked along with the
    fields, and the browser already did what it asked (the notes it gets back must match the
    rows on the page)."""
    htmx = is_htmx(request)
    fields = cf.read_fields(posted)
    if not htmx:
        fields = cf.apply_action(fields, first_value(posted, "action"))
    keys, truncated = filter_keys(session, user.requester_id)
    outcome = dry_run(session, settings, user, fields, keys)
    if htmx:
        return render(request, PREVIEW_TEMPLATE, {"fields": fields, "outcome": outcome, "oob": True})
    return page(request, settings, fields, outcome, keys, skills_truncated=truncated)


@router.post("/messages/compose")
def compose_send(
    request: Request, user: FormUserDep, session: SessionDep, settings: SettingsDep, posted: PostedDep
) -> Response:
    if first_value(posted, "action", "send") != "send":  # a no-JS button posted here after all: send nothing
        return rerender(request, session, settings, user, posted)
    fields = cf.read_fields(posted)
    keys, truncated = filter_keys(session, user.requester_id)
    failed: Outcome | None = None
    try:
        built = cf.build_compose(fields, keys, utcnow().date())
        # A savepoint: a send refused half-way (unknown IDs after the quota was counted, nobody
        # left to receive it) must leave nothing behind, as the API's rolled-back request does,
        # although this request goes on to commit and answer with the form.
        with session.begin_nested():
            thread = service.do_compose(session, settings, user.requester_id, built.form, refuse_unknown=True)
    except cf.FormProblems as exc:
        failed = Outcome(problems=exc.problems)
    except ValidationFailed as exc:
        failed = Outcome(problems=cf.problems_from_service(exc.payload or {}, exc.message, fields))
    except TooManyRequests as exc:
        failed = Outcome(alert=quota_message(fields.recipients, exc.message))
    if failed is not None:
        status = 429 if failed.alert else 400
        return page(
            request, settings, fields, failed, keys, skills_truncated=truncated, status_code=status, show_summary=True
        )
    return RedirectResponse(f"/messages/{thread['id']}", status_code=303)


def quota_message(recipients: str, service_message: str) -> str:
    if recipients == "ALL":
        return (
            "You can write to all Tolokers who started at least two of your tasks once a day (UTC), and you "
            "already have today. Nothing was sent. Try again tomorrow, or choose Group of Tolokers."
        )
    return f"Nothing was sent: {service_message}."
