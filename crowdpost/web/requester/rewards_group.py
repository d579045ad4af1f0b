"""Rewards -> Pay a group: the same bonus to every Toloker of a group, as one async operation.

    GET  /rewards/group            the form (a fresh one-time token)
    POST /rewards/group/preview    in a READ transaction: for htmx the cost block and the filter
                                   rows' notes (out of band); without JS the whole page ("Preview",
                                   "+ Add filter", "+ Add group" and "Remove" post here)
    POST /rewards/group            pays: 303 to /rewards/operations/{id}, or the form again (4xx)

The audience is the compose form's filter builder (web/compose_form.py and the macros of
messages/_compose_macros.html, shared), everyone who started at least N of the requester's tasks,
or the Tolokers of one of the requester's pools. What they cost and paying them is
`crowdpost.rewards.group_bonus`; the payment is `rewards.service.do_create_bonuses` in async mode
with the form's token as `operation_id`, so submitting the form twice pays once.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from crowdpost.config import Settings
from crowdpost.dependencies import SessionDep, SettingsDep, read_only
from crowdpost.errors import ApiError, DoesNotExist, ValidationFailed
from crowdpost.kit.ids import format_id
from crowdpost.kit.money import from_micros
from crowdpost.kit.pagination import ListParams, SortKey
from crowdpost.kit.timefmt import utcnow
from crowdpost.rewards import group_bonus
from crowdpost.rewards.validation import MAX_COMMENT, MAX_MESSAGE, MAX_TITLE
from crowdpost.web import compose_form as cf
from crowdpost.web.posted import PostedDep, first_value
from crowdpost.web.requester.compose import filter_keys
from crowdpost.web.session import FormUserDep, PageUser, PageUserDep
from crowdpost.web.templating import is_htmx, render
from crowdpost.workforce.service import pools as pools_service

router = APIRouter(include_in_schema=False)

TEMPLATE = "rewards/group.html"
PREVIEW_TEMPLATE = "rewards/_group_preview.html"
PREVIEW_URL = "/rewards/group/preview"
AUDIENCES = (
    ("FILTER", "Group of Tolokers"),
    ("STARTED", "Everyone who started at least N of your tasks"),
    ("POOL", "Tolokers of one pool"),
)
POOLS_LISTED = 300
SHORT = 64
MAX_TEXTS = 10  # languages of one bonus's title and message
# Texts are kept whole (the page body cap bounds them): the API's item check says what is too long.
TEXT = 1_000_000
# The service's item errors, by field, -> the page element they are about.
FIELD_IDS = {
    "amount": "amount",
    "public_title": "title-0",
    "public_message": "message-0",
    "private_comment": "private_comment",
    "min_started": "min_started",
    "pool_id": "pool_id",
    "recipients_filter": "filters",
    "audience": "audience",
}


@dataclass(frozen=True)
class Text:
    """The bonus's title and message in one language."""

    lang: str = "EN"
    title: str = ""
    message: str = ""


@dataclass(frozen=True)
class GroupFields:
    """The form as posted (re-rendered as it was, so nothing typed is lost)."""

    audience: str = "FILTER"
    filters: cf.ComposeFields = field(default_factory=cf.ComposeFields)
    min_started: str = "2"
    pool_id: str = ""
    amount: str = ""
    texts: tuple[Text, ...] = (Text(),)
    without_message: bool = False
    private_comment: str = ""
    form_token: str = ""


@dataclass
class Outcome:
    """What the page says about the form: problems by element id, the cost, what is missing.
    `warnings` is there for the shared filter macros (a payment has no policy warnings)."""

    problems: dict[str, str] = field(default_factory=dict)
    warnings: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    cost: group_bonus.Cost | None = None
    note: str = ""
    notes: list[str] = field(default_factory=list)


def _one(posted: Mapping[str, Sequence[str]], name: str, limit: int = SHORT, default: str = "") -> str:
    return first_value(posted, name, default)[:limit]


def read_group_fields(posted: Mapping[str, Sequence[str]]) -> GroupFields:
    audience = _one(posted, "audience", default="FILTER")
    return GroupFields(
        audience=audience if audience in dict(AUDIENCES) else "FILTER",
        filters=cf.read_fields(posted),
        min_started=_one(posted, "min_started", default="2"),
        pool_id=_one(posted, "pool_id"),
        amount=_one(posted, "amount"),
        texts=_texts(posted),
        without_message=bool(_one(posted, "without_message")),
        private_comment=_one(posted, "private_comment", TEXT),
        form_token=_one(posted, "form_token") or str(uuid.uuid4()),
    )


def _texts(posted: Mapping[str, Sequence[str]]) -> tuple[Text, ...]:
    """One Text per language posted (lang, title, message repeat), at least one."""
    langs, titles, messages = (list(posted.get(name) or ()) for name in ("lang", "title", "message"))
    count = min(max(len(langs), len(titles), len(messages), 1), MAX_TEXTS)

    def at(values: list[str], i: int, default: str = "") -> str:
        return values[i][:TEXT] if i < len(values) else default

    return tuple(
        Text(at(langs, i, "EN").strip().upper()[:8] or "EN", at(titles, i), at(messages, i)) for i in range(count)
    )


def apply_action(fields: GroupFields, action: str) -> GroupFields:
    """A no-JS button: the filter builder's (adding a row also chooses "Group of Tolokers"), or
    one language more (the first not used yet) or one less."""
    verb, _, target = action.partition(":")
    if verb in ("add_filter", "add_group", "remove_filter"):
        filters = cf.apply_action(fields.filters, action)
        audience = fields.audience if verb == "remove_filter" else "FILTER"
        return replace(fields, filters=filters, audience=audience)
    if verb == "add_language" and len(fields.texts) < MAX_TEXTS:
        used = {text.lang for text in fields.texts}
        code = next(code for code, _ in cf.LANGUAGES if code not in used)
        return replace(fields, texts=(*fields.texts, Text(code)))
    if verb == "remove_language" and target.isdigit() and 0 < int(target) < len(fields.texts):
        return replace(fields, texts=tuple(t for i, t in enumerate(fields.texts) if i != int(target)))
    return fields


def text_problems(fields: GroupFields, *, preview: bool) -> dict[str, str]:
    """Languages from the list, each once; at Pay, a title and a message in each (unless
    Without message). The preview leaves unwritten texts alone."""
    problems: dict[str, str] = {}
    seen: set[str] = set()
    for i, text in enumerate(fields.texts):
        if text.lang not in cf.LANGUAGE_NAMES:
            problems[f"lang-{i}"] = "Choose a language from the list."
        elif text.lang in seen:
            problems[f"lang-{i}"] = "Choose a language the message is not already written in."
        seen.add(text.lang)
        if preview or fields.without_message:
            continue
        if not text.title.strip():
            problems[f"title-{i}"] = "Enter a title, or tick Without message."
        if not text.message.strip():
            problems[f"message-{i}"] = "Enter a message, or tick Without message."
    return problems


def _audience(
    fields: GroupFields, keys: Mapping[str, cf.FilterKey], *, preview: bool
) -> tuple[group_bonus.Audience, list[str]]:
    """The audience the form describes, and the filter's notes. Raises cf.FormProblems / cf.NotReady."""
    if fields.audience == "STARTED":
        raw = fields.min_started.strip()
        if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= group_bonus.MAX_STARTED:
            raise cf.FormProblems(
                {"min_started": f"Enter a whole number of tasks from 1 to {group_bonus.MAX_STARTED:,}."}
            )
        return group_bonus.Audience("STARTED", min_started=int(raw)), []
    if fields.audience == "POOL":
        if not fields.pool_id.strip():
            if preview:
                raise cf.NotReady("Choose a pool to see who is paid.")
            raise cf.FormProblems({"pool_id": "Choose one of your pools."})
        return group_bonus.Audience("POOL", pool_id=fields.pool_id.strip()), []
    recipients_filter, notes = cf.build_filter(fields.filters, keys, utcnow().date(), preview=preview)
    return group_bonus.Audience("FILTER", recipients_filter=recipients_filter), notes


def _bonus(fields: GroupFields) -> group_bonus.GroupBonus:
    written = not fields.without_message
    return group_bonus.GroupBonus(
        amount=fields.amount,
        title={t.lang: t.title for t in fields.texts} if written else None,
        message={t.lang: t.message for t in fields.texts} if written else None,
        without_message=fields.without_message,
        private_comment=fields.private_comment if fields.private_comment.strip() else None,
    )


def _problems(exc: ApiError) -> dict[str, str]:
    """A service error as sentences beside the fields (or at the top, "form")."""
    if isinstance(exc, DoesNotExist):
        return {"pool_id": "This pool is not one of yours: choose one from the list."}
    if isinstance(exc, ValidationFailed) and isinstance(exc.payload, dict) and exc.payload:
        found: dict[str, str] = {}
        for name, error in exc.payload.items():
            top = str(name).split(".")[0]
            text = error.get("message", "") if isinstance(error, Mapping) else str(error)
            found.setdefault(FIELD_IDS.get(top, "form"), cf.sentence(text or exc.message))
        return found
    return {"form": cf.sentence(exc.message)}


def evaluate(
    session: Session, settings: Settings, user: PageUser, fields: GroupFields, keys: Mapping[str, cf.FilterKey]
) -> Outcome:
    """The live preview: who is paid and what it costs. Never raises for a form that is wrong
    or unfinished; showing that is its job."""
    try:
        audience, notes = _audience(fields, keys, preview=True)
        counted = group_bonus.plan(session, user.requester_id, audience)
    except cf.NotReady as exc:
        return Outcome(note=str(exc))
    except cf.FormProblems as exc:
        return Outcome(problems=exc.problems, note="Correct the marked fields to see who is paid.")
    except ApiError as exc:
        return Outcome(problems=_problems(exc), note="Correct the marked fields to see who is paid.")
    outcome = Outcome(notes=notes)
    amount_micros = 0
    if fields.amount.strip():
        try:
            amount_micros = group_bonus.check_amount_text(fields.amount, settings)
        except ValidationFailed as exc:
            outcome.problems.update(_problems(exc))
    else:
        outcome.note = "Enter the amount each Toloker gets to see the cost."
    outcome.cost = group_bonus.price(session, settings, user.requester_id, counted, amount_micros)
    outcome.problems.update(text_problems(fields, preview=True))
    return outcome


def _pools(session: Session, requester_id: int) -> list[tuple[str, str]]:
    """(id, label) of the requester's pools, newest first."""
    params = ListParams(limit=POOLS_LISTED, sort=[SortKey("id", descending=True)])
    pools, _ = pools_service.list_pools(session, requester_id, params, {}, status=None, project_id=None)
    return [(format_id(p.id), f"{p.private_name} (#{format_id(p.id)}, {p.status.lower()})") for p in pools]


def page(
    request: Request,
    session: Session,
    settings: Settings,
    user: PageUser,
    fields: GroupFields,
    outcome: Outcome,
    *,
    status_code: int = 200,
    show_summary: bool = False,
) -> Response:
    keys, truncated = filter_keys(session, user.requester_id)
    context: dict[str, Any] = {
        "nav": "rewards",
        "fields": fields,
        "filters": fields.filters,
        "keys": keys,
        "skills_truncated": truncated,
        "skill_count": sum(1 for k in keys.values() if k.category == "skill"),
        "pools": _pools(session, user.requester_id),
        "audiences": AUDIENCES,
        "outcome": outcome,
        "errors": {("_form" if k == "form" else k): v for k, v in outcome.problems.items()} if show_summary else {},
        "cf": cf,
        "filter_preview_url": PREVIEW_URL,
        "fee_percent": settings.bonus_fee_percent,
        "dollars": from_micros,
        "amount_hint": f"{settings.bonus_min_amount} to {settings.bonus_max_amount}",
        "max_title": MAX_TITLE,
        "max_message": MAX_MESSAGE,
        "max_comment": MAX_COMMENT,
        "max_texts": MAX_TEXTS,
    }
    return render(request, TEMPLATE, context, status_code=status_code)


@router.get("/rewards/group")
def group_page(request: Request, user: PageUserDep, session: SessionDep, settings: SettingsDep) -> Response:
    fields = GroupFields(form_token=str(uuid.uuid4()))
    return page(request, session, settings, user, fields, Outcome())


@router.post("/rewards/group/preview")
@read_only()
def group_preview(
    request: Request, user: FormUserDep, session: SessionDep, settings: SettingsDep, posted: PostedDep
) -> Response:
    return rerender(request, session, settings, user, posted)


def rerender(
    request: Request, session: Session, settings: Settings, user: PageUser, posted: Mapping[str, Sequence[str]]
) -> Response:
    """The form with its preview, after a button that pays nothing. An htmx preview applies no
    button (the browser already did what it asked)."""
    fields = read_group_fields(posted)
    htmx = is_htmx(request)
    if not htmx:
        fields = apply_action(fields, _one(posted, "action"))
    keys, _ = filter_keys(session, user.requester_id)
    outcome = evaluate(session, settings, user, fields, keys)
    if htmx:
        context = {"fields": fields, "filters": fields.filters, "outcome": outcome, "cf": cf}
        context.update(fee_percent=settings.bonus_fee_percent, dollars=from_micros, filter_preview_url=PREVIEW_URL)
        return render(request, PREVIEW_TEMPLATE, context)
    return page(request, session, settings, user, fields, outcome)


@router.post("/rewards/group")
def pay_group(
    request: Request, user: FormUserDep, session: SessionDep, settings: SettingsDep, posted: PostedDep
) -> Response:
    if _one(posted, "action", default="pay") != "pay":  # a no-JS builder button posted here: pay nothing
        return rerender(request, session, settings, user, posted)
    fields = read_group_fields(posted)
    keys, _ = filter_keys(session, user.requester_id)
    problems: dict[str, str] = {}
    status = 400
    try:
        audience, _ = _audience(fields, keys, preview=False)
        missing = text_problems(fields, preview=False)
        if missing:
            raise cf.FormProblems(missing)
        # A savepoint: a refused payment leaves nothing behind (no operation under this token).
        with session.begin_nested():
            operation, _ = group_bonus.do_pay_group(
                session, settings, user.requester_id, audience, _bonus(fields), fields.form_token
            )
    except (cf.FormProblems, cf.NotReady) as exc:
        problems = exc.problems if isinstance(exc, cf.FormProblems) else {"form": str(exc)}
    except ApiError as exc:
        # Another requester's pool is a mistake in the form here (400), not a missing page.
        problems, status = _problems(exc), 400 if isinstance(exc, DoesNotExist) else exc.status_code
    if problems:
        outcome = evaluate(session, settings, user, fields, keys)
        outcome.problems.update(problems)
        return page(request, session, settings, user, fields, outcome, status_code=status, show_summary=True)
    return RedirectResponse(f"/rewards/operations/{operation.public_id}", status_code=303)
