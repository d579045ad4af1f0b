"""The Rewards page: pay one Toloker, see a bonus just paid, past bonuses and their CSV.

    GET  /rewards                    the "Pay one Toloker" form and the past bonuses (filters, pages)
    POST /rewards/pay                action=check: the form again with the cost preview;
                                     otherwise pays through `rewards.service.do_create_bonuses`
                                     (the service of POST /user-bonuses), 303 to the bonus
    GET  /rewards/bonuses/{id}       one bonus of this requester (another's: 404)
    GET  /rewards/bonuses.csv        the filtered past bonuses, streamed

The form carries a random token sent as the API's `operation_id`: a second submit of the same
form replays the first payment instead of paying twice.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response, StreamingResponse

from crowdpost.accounts import service as accounts
from crowdpost.config import Settings, SettingsDep
from crowdpost.db import SessionDep, get_db
from crowdpost.errors import ApiError, DoesNotExist, ValidationFailed
from crowdpost.kit.csv_export import csv_lines
from crowdpost.kit.ids import format_id, parse_id
from crowdpost.kit.money import MoneyError, from_micros, to_micros
from crowdpost.kit.timefmt import utcnow
from crowdpost.rewards import bonus_history, service
from crowdpost.web.session import FormUserDep, PageUser, PageUserDep
from crowdpost.web.templating import render

router = APIRouter(include_in_schema=False)

Short = Annotated[str, Form(max_length=64)]
Text = Annotated[str, Form(max_length=4096)]
LANGUAGES = ("EN", "RU", "ES", "FR", "DE", "TR", "PT", "ID", "AR", "HI")
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


def _page(
    request: Request,
    session: Session,
    settings: Settings,
    user: PageUser,
    form: dict[str, str],
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
        "languages": LANGUAGES,
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
    return _page(request, session, settings, user, {"form_token": str(uuid.uuid4()), "language": "EN"})


def _bonus_body(form: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = {"user_id": form["user_id"].strip(), "amount": form["amount"].strip()}
    if form["assignment_id"].strip():
        body["assignment_id"] = form["assignment_id"].strip()
    if form["private_comment"].strip():
        body["private_comment"] = form["private_comment"]
    if form["without_message"]:
        body["without_message"] = True
    else:
        language = form["language"] if form["language"] in LANGUAGES else "EN"
        body["public_title"] = {language: form["title"]}
        body["public_message"] = {language: form["message"]}
    return body


def _field_errors(exc: ValidationFailed) -> dict[str, str]:
    payload = exc.payload if isinstance(exc.payload, dict) else {}
    errors: dict[str, str] = {}
    for name, problem in payload.items():
        message = problem.get("message") if isinstance(problem, dict) else None
        field = {"public_title": "title", "public_message": "message"}.get(str(name), str(name))
        errors[field if field in {"user_id", "amount", "assignment_id", "title", "message"} else "_form"] = str(
            message or exc.message
        )
    return errors or {"_form": exc.message}


@router.post("/rewards/pay")
def pay_one(
    request: Request,
    user: FormUserDep,
    session: SessionDep,
    settings: SettingsDep,
    user_id: Short = "",
    amount: Short = "",
    assignment_id: Short = "",
    language: Short = "EN",
    title: Text = "",
    message: Text = "",
    without_message: Short = "",
    private_comment: Text = "",
    form_token: Short = "",
    action: Short = "pay",
) -> Response:
    form = {
        "user_id": user_id,
        "amount": amount,
        "assignment_id": assignment_id,
        "language": language,
        "title": title,
        "message": message,
        "without_message": without_message,
        "private_comment": private_comment,
        "form_token": form_token or str(uuid.uuid4()),
    }
    if action == "check":
        return _page(request, session, settings, user, form)
    if not without_message and not (title.strip() and message.strip()):
        errors = {"title": "Enter a title and a message, or tick Without message."}
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
        csv_lines(CSV_HEADER, rows),
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
