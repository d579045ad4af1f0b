"""The Rewards page: pay one Toloker, see a bonus just paid, past bonuses and their CSV.

    GET  /rewards                    the "Pay one Toloker" form and the past bonuses (filters, pages)
    GET  /rewards/toloker-check      htmx, as the Toloker ID is typed: what the compose form's To
                                     field would say of that ID (unknown or never worked for you,
                                     banned, fine) and that Toloker's assignments for the select
    POST /rewards/pay                action=check | add_language | remove_language:<i>: the form
                                     again (cost preview, Toloker check, assignments, one language
                                     pair more or less); otherwise pays through
                                     `rewards.service.do_create_bonuses` (the service of
                                     POST /user-bonuses), 303 to the bonus
    GET  /rewards/bonuses/{id}       one bonus of this requester (another's: 404)
    GET  /rewards/bonuses.csv        the filtered past bonuses, streamed

The form carries a random token sent as the API's `operation_id`: a second submit of the same
form replays the first payment instead of paying twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response, StreamingResponse

from crowdpost.accounts import service as accounts
from crowdpost.config import Settings
from crowdpost.dependencies import SessionDep, SettingsDep, get_db
from crowdpost.errors import ApiError, DoesNotExist, ValidationFailed
from crowdpost.kit.csv_export import csv_chunks
from crowdpost.kit.ids import format_id, parse_id
from crowdpost.kit.money import MoneyError, from_micros, to_micros
from crowdpost.kit.timefmt import utcnow
from crowdpost.models import Assignment
from crowdpost.rewards import bonus_history, service
from crowdpost.web import compose_form as cf
from crowdpost.web.posted import PostedDep, first_value
from crowdpost.web.session import FormUserDep, PageUser, PageUserDep
from crowdpost.web.templating import render
from crowdpost.workforce.schemas import AudienceRequest
from crowdpost.workforce.service.assignments import list_toloker_assignments
from crowdpost.workforce.service.audience import count_audience

router = APIRouter(include_in_schema=False)

# The message's languages: the compose form's list (and its "+ Add language" pattern).
LANGUAGES = tuple(code for code, _ in cf.LANGUAGES)
# The assignment select lists this many of the Toloker's assignments, newest first.
ASSIGNMENTS_LISTED = 100
CSV_HEADER = (
    "id",
    "created",
    "user_id",
    "amount",
    "assignment_id",
    "without_message",
    "public_title",
    "public_message",
    "private_comment",
)


def _languages_text(value: dict[str, str] | None) -> str:
    return " | ".join(f"{lang}: {text}" for lang, text in (value or {}).items())


def _date(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw.strip()[:10]) if raw else None
    except ValueError:
        return None


def _query(request: Request) -> tuple[bonus_history.BonusQuery, dict[str, str]]:
    raw = {
        name: (request.query_params.get(name) or "")[:64].strip()
        for name in ("user_id", "assignment_id", "start", "end")
    }
    query = bonus_history.BonusQuery(
        user_id=raw["user_id"] or None,
        assignment_id=parse_id(raw["assignment_id"]) if raw["assignment_id"] else None,
        start=_date(raw["start"]),
        end=_date(raw["end"]),
    )
    return query, {name: value for name, value in raw.items() if value}


@dataclass(frozen=True)
class TolokerCheck:
    """What the page says of the typed Toloker ID, and their assignments of this requester.

    state: "" (nothing typed) | "malformed" | "unknown" (no Toloker, or one who never started
    this requester's tasks: the same answer for both, as compose and the bonus API give, so
    the page tells nothing about other requesters' Tolokers) | "banned" | "ok"."""

    user_id: str
    state: str
    assignments: Sequence[Assignment] = ()

    @property
    def listed_ids(self) -> list[str]:
        return [format_id(a.id) for a in self.assignments]

    @property
    def truncated(self) -> bool:
        return len(self.assignments) >= ASSIGNMENTS_LISTED


def check_toloker(session: Session, settings: Settings, requester_id: int, raw: str) -> TolokerCheck:
    """The compose form's check of a To ID (its pattern, then the dry run's DIRECT count:
    `workforce.service.audience.count_audience`), and the Toloker's assignments."""
    user_id = raw.strip()
    if not user_id:
        return TolokerCheck(user_id, "")
    if not cf.TOLOKER_ID.fullmatch(user_id):
        return TolokerCheck(user_id, "malformed")
    request = AudienceRequest(requester_id=requester_id, select_type="DIRECT", recipients_ids=[user_id])
    counts = count_audience(session, request, min_started=settings.all_recipients_min_started)
    if counts.unknown_ids:
        return TolokerCheck(user_id, "unknown")
    assignments = list_toloker_assignments(session, requester_id, user_id, ASSIGNMENTS_LISTED)
    return TolokerCheck(user_id, "banned" if counts.banned_ids else "ok", assignments)


def _preview(settings: Settings, session: Session, requester_id: int, amount: str) -> dict[str, Any] | None:
    """Amount, fee and balance after, exact; None when the amount is not a number yet."""
    try:
        micros = to_micros(Decimal(amount.strip()))
    except (InvalidOperation, MoneyError, ValueError):
        return None
    if micros <= 0:
        return None
    fee = service.fee_of(micros, service.rules_from(settings))
    balance = accounts.get_requester(session, requester_id).balance_micros
    return {
        "amount": from_micros(micros),
        "fee": from_micros(fee),
        "fee_percent": settings.bonus_fee_percent,
        "total": from_micros(micros + fee),
        "after": from_micros(balance - micros - fee),
        "enough": balance >= micros + fee,
    }


@dataclass(frozen=True)
class Pair:
    """One language of the bonus message: its code, title and text."""

    lang: str
    title: str = ""
    message: str = ""


def read_form(posted: Mapping[str, list[str]]) -> dict[str, Any]:
    """The posted Pay one form as the page keeps it (pairs: one per language, at least one)."""
    langs, titles, messages = (posted.get(name) or [] for name in ("lang", "title", "message"))
    count = min(max(len(langs), 1), len(LANGUAGES))
    pairs = [
        Pair(
            langs[i] if i < len(langs) else "EN",
            titles[i] if i < len(titles) else "",
            messages[i] if i < len(messages) else "",
        )
        for i in range(count)
    ]
    form: dict[str, Any] = {
        name: first_value(posted, name)
        for name in ("user_id", "amount", "assignment_id", "without_message", "private_comment")
    }
    return {**form, "pairs": pairs, "form_token": first_value(posted, "form_token")[:64] or str(uuid.uuid4())}


def apply_action(form: dict[str, Any], action: str) -> dict[str, Any]:
    """What a button that sends nothing asks for (as compose's "+ Add language"): one language
    pair more (the first language not used yet), or one less."""
    pairs: list[Pair] = form["pairs"]
    verb, _, target = action.partition(":")
    if verb == "add_language" and len(pairs) < len(LANGUAGES):
        used = {pair.lang for pair in pairs}
        return {**form, "pairs": [*pairs, Pair(next(c for c in LANGUAGES if c not in used))]}
    if verb == "remove_language" and target.isdigit() and 0 < int(target) < len(pairs):
        return {**form, "pairs": [p for i, p in enumerate(pairs) if i != int(target)]}
    return form


def _page(
    request: Request,
    session: Session,
    settings: Settings,
    user: PageUser,
    form: dict[str, Any],
    *,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    query, kept = _query(request)
    before_raw = request.query_params.get("before_id", "")
    before_id = int(before_raw) if before_raw.isdigit() and len(before_raw) <= 18 else None
    bonuses, next_before = bonus_history.bonus_page(session, user.requester_id, query, before_id=before_id)
    context = {
        "nav": "rewards",
        "form": form,
        "errors": errors or {},
        "check": check_toloker(session, settings, user.requester_id, form.get("user_id", "")),
        "max_languages": len(LANGUAGES),
        "cf": cf,
        "preview": _preview(settings, session, user.requester_id, form.get("amount", "")),
        "bonuses": bonuses,
        "filters": kept,
        "csv_url": "/rewards/bonuses.csv" + (f"?{urlencode(kept)}" if kept else ""),
        "older_url": f"/rewards?{urlencode({**kept, 'before_id': next_before})}#past" if next_before else None,
        "newest_url": ("/rewards?" + urlencode(kept) + "#past") if before_id else None,
        "format_id": format_id,
        "languages_text": _languages_text,
        "dollars": from_micros,
    }
    return render(request, "rewards/page.html", context, status_code=status_code)


@router.get("/rewards")
def rewards_page(request: Request, user: PageUserDep, session: SessionDep, settings: SettingsDep) -> Response:
    form = {"form_token": str(uuid.uuid4()), "pairs": [Pair("EN")]}
    return _page(request, session, settings, user, form)


@router.get("/rewards/toloker-check")
def toloker_check(
    request: Request,
    user: PageUserDep,
    session: SessionDep,
    settings: SettingsDep,
    user_id: Annotated[str, Query(max_length=64)] = "",
    assignment_id: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    """The htmx fragment of the Toloker ID's check: the message, and the assignment select
    out of band (the same macros the whole page uses)."""
    check = check_toloker(session, settings, user.requester_id, user_id)
    context = {"check": check, "selected": assignment_id.strip(), "format_id": format_id}
    return render(request, "rewards/_toloker_check.html", context)


def _texts(form: dict[str, Any]) -> dict[str, str]:
    """Problems of the message's language pairs the service cannot place beside a field."""
    errors: dict[str, str] = {}
    seen: set[str] = set()
    for i, pair in enumerate(form["pairs"]):
        if pair.lang not in LANGUAGES:
            errors[f"lang-{i}"] = "Choose a language from the list."
        elif pair.lang in seen:
            errors[f"lang-{i}"] = "Choose a language the message is not already written in."
        seen.add(pair.lang)
        if not (pair.title.strip() and pair.message.strip()):
            which = f" in language {i + 1}" if i else ""
            errors[f"title-{i}"] = f"Enter a title and a message{which}, or tick Without message."
    return errors


def _other_problems(session: Session, settings: Settings, requester_id: int, form: dict[str, Any]) -> dict[str, str]:
    """Beside the texts' problems (the service is not asked then): the Toloker ID's check and
    an amount that is no number, so one submit shows every problem."""
    errors: dict[str, str] = {}
    check = check_toloker(session, settings, requester_id, form["user_id"])
    if check.state in ("", "malformed", "unknown"):
        errors["user_id"] = {
            "": "Enter the Toloker ID.",
            "malformed": "Not a Toloker ID: use letters, digits, _ . and - only.",
            "unknown": "No such Toloker among those who started your tasks.",
        }[check.state]
    if _preview(settings, session, requester_id, form["amount"]) is None:
        errors["amount"] = "Enter an amount in US dollars, such as 1.50."
    return errors


def _bonus_body(form: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"user_id": form["user_id"].strip(), "amount": form["amount"].strip()}
    if form["assignment_id"].strip():
        body["assignment_id"] = form["assignment_id"].strip()
    if form["private_comment"].strip():
        body["private_comment"] = form["private_comment"]
    if form["without_message"]:
        body["without_message"] = True
    else:
        body["public_title"] = {pair.lang: pair.title for pair in form["pairs"]}
        body["public_message"] = {pair.lang: pair.message for pair in form["pairs"]}
    return body


def _field_errors(exc: ValidationFailed) -> dict[str, str]:
    payload = exc.payload if isinstance(exc.payload, dict) else {}
    errors: dict[str, str] = {}
    for name, problem in payload.items():
        message = problem.get("message") if isinstance(problem, dict) else None
        field = {"public_title": "title-0", "public_message": "message-0"}.get(str(name), str(name))
        known = {"user_id", "amount", "assignment_id", "title-0", "message-0"}
        errors[field if field in known else "_form"] = str(message or exc.message)
    return errors or {"_form": exc.message}


@router.post("/rewards/pay")
def pay_one(
    request: Request,
    user: FormUserDep,
    session: SessionDep,
    settings: SettingsDep,
    posted: PostedDep,
) -> Response:
    form = read_form(posted)
    action = (posted.get("action") or ["pay"])[0]
    if action != "pay":  # Check cost, + Add language, Remove: the form again, nothing paid
        return _page(request, session, settings, user, apply_action(form, action))
    if not form["without_message"]:
        errors = _texts(form)
        if errors:
            errors = {**_other_problems(session, settings, user.requester_id, form), **errors}
            return _page(request, session, settings, user, form, errors=errors, status_code=400)
    request_options = service.BonusRequest(operation_id=form["form_token"])
    try:
        # A savepoint: a refused payment leaves nothing behind, as the API's rolled-back request.
        with session.begin_nested():
            outcome = service.do_create_bonuses(
                session, settings, user.requester_id, _bonus_body(form), request_options
            )
    except ValidationFailed as exc:
        return _page(request, session, settings, user, form, errors=_field_errors(exc), status_code=400)
    except ApiError as exc:
        return _page(request, session, settings, user, form, errors={"_form": exc.message}, status_code=exc.status_code)
    assert isinstance(outcome, service.BonusesCreated)
    return RedirectResponse(f"/rewards/bonuses/{outcome.items[0]['id']}", status_code=303)


@router.get("/rewards/bonuses.csv")
def bonuses_csv(request: Request, user: PageUserDep) -> Response:
    query, _ = _query(request)
    rows = (
        (
            format_id(bonus.id),
            bonus.created.isoformat(timespec="seconds"),
            bonus.user_id,
            from_micros(bonus.amount_micros),
            format_id(bonus.assignment_id) if bonus.assignment_id is not None else None,
            "true" if bonus.without_message else "false",
            _languages_text(bonus.public_title),
            _languages_text(bonus.public_message),
            bonus.private_comment,
        )
        for bonus in bonus_history.iter_bonuses(get_db(request), user.requester_id, query)
    )
    return StreamingResponse(
        csv_chunks(CSV_HEADER, rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="bonuses-{utcnow():%Y%m%d-%H%M%S}.csv"'},
    )


@router.get("/rewards/bonuses/{bonus_id}")
def bonus_page(request: Request, user: PageUserDep, session: SessionDep, bonus_id: str) -> Response:
    bonus = bonus_history.one_bonus(session, user.requester_id, bonus_id[:32])
    if bonus is None:
        raise DoesNotExist("This bonus does not exist")
    context = {"nav": "rewards", "bonus": bonus, "format_id": format_id, "amount": from_micros(bonus.amount_micros)}
    return render(request, "rewards/bonus.html", context)
