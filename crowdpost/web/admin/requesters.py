"""/admin/requesters: look a requester up by ID or e-mail; their balance, ledger and a deposit.

The deposit is `accounts.service.do_deposit_once` (the admin deposit API) with an operation
id the form was rendered with, so a double submit (or a reload of the POST) credits once.
"""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from starlette.responses import RedirectResponse, Response

from crowdpost.accounts import lookup
from crowdpost.accounts import service as accounts
from crowdpost.dependencies import get_db
from crowdpost.errors import ApiError
from crowdpost.kit.ids import format_id, format_optional_id, parse_id
from crowdpost.kit.language_choice import text_in
from crowdpost.kit.money import from_micros
from crowdpost.web.admin.operator_session import OperatorDep, OperatorFormDep
from crowdpost.web.templating import money, render

router = APIRouter(include_in_schema=False)

LEDGER_PAGE = 50
DESCRIPTION_MAX = 500


@router.get("/admin/requesters")
def requesters_page(request: Request, operator: OperatorDep, q: Annotated[str, Query(max_length=320)] = "") -> Response:
    found: list[dict[str, Any]] = []
    if q.strip():
        with get_db(request).transaction(write=False) as session:
            rows = lookup.find_requesters(session, q)
            found = [{"id": format_id(r.id), "name": text_in(r.public_name), "email": r.email or ""} for r in rows]
        if len(found) == 1:
            return RedirectResponse(f"/admin/requesters/{found[0]['id']}", status_code=303)
    context = {"nav": "requesters", "csrf_token": operator.csrf_token, "q": q, "found": found}
    return render(request, "admin/requesters.html", context)


def _requester_page(
    request: Request,
    operator: Any,
    public_id: str,
    *,
    before: str | None = None,
    context: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    before_id = parse_id(before) if before else None
    with get_db(request).transaction(write=False) as session:
        requester = lookup.get_requester(session, public_id)
        rows, older = lookup.ledger_page(session, requester.id, before_id, LEDGER_PAGE)
        ledger = [
            {
                "id": format_id(e.id),
                "kind": e.kind,
                "amount": money(from_micros(e.amount_micros)),
                "credit": e.amount_micros > 0,
                "balance": money(from_micros(e.balance_after_micros)),
                "description": e.description or "",
                "created": e.created,
            }
            for e in rows
        ]
        shown = {
            "id": format_id(requester.id),
            "name": text_in(requester.public_name),
            "company": requester.company or "",
            "email": requester.email or "",
            "balance": money(from_micros(requester.balance_micros)),
        }
    base: dict[str, Any] = {
        "nav": "requesters",
        "csrf_token": operator.csrf_token,
        "requester": shown,
        "ledger": ledger,
        "older": format_optional_id(older),
        "paged": before_id is not None,
        "amount": "",
        "description": "",
        "operation_id": str(uuid.uuid4()),
        "errors": {},
    }
    base.update(context or {})
    return render(request, "admin/requester.html", base, status_code=status_code)


@router.get("/admin/requesters/{public_id}")
def requester_page(
    request: Request,
    operator: OperatorDep,
    public_id: str,
    before: Annotated[str | None, Query(max_length=20)] = None,
    deposited: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    flash = f"Deposited {money(Decimal(deposited))}." if deposited and _decimal(deposited) is not None else None
    return _requester_page(request, operator, public_id, before=before, context={"flash": flash})


def _decimal(text: str) -> Decimal | None:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


@router.post("/admin/requesters/{public_id}/deposits")
def deposit(
    request: Request,
    operator: OperatorFormDep,
    public_id: str,
    amount: Annotated[str, Form(max_length=40)] = "",
    description: Annotated[str, Form(max_length=DESCRIPTION_MAX)] = "",
    operation_id: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    errors: dict[str, str] = {}
    value = _decimal(amount.replace(",", "").lstrip("$")) if amount.strip() else None
    if value is None:
        errors["amount"] = "Enter an amount in dollars, e.g. 25.50."
    if not description.strip():
        errors["description"] = "Enter a description: the requester sees it in their balance statement."
    if not errors and value is not None:
        try:
            with get_db(request).transaction() as session:
                requester = lookup.get_requester(session, public_id)
                accounts.do_deposit_once(
                    session, requester.id, value, description.strip(), operation_id=operation_id or None
                )
        except ApiError as exc:
            if exc.status_code >= 500 or exc.status_code == 404:
                raise
            payload = exc.payload if isinstance(exc.payload, dict) else {}
            detail = payload.get("amount") if isinstance(payload.get("amount"), dict) else None
            errors["amount" if detail else "_form"] = str(detail["message"]) if detail else exc.message
        else:
            return RedirectResponse(f"/admin/requesters/{public_id}?deposited={value}", status_code=303)
    kept = {"amount": amount, "description": description, "errors": errors}
    if operation_id:
        kept["operation_id"] = operation_id
    return _requester_page(request, operator, public_id, context=kept, status_code=400)
