"""Accounts as the wire shows them: RequesterViewV1, a created requester, a deposit, a
revoked token."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from crowdpost.kit.ids import format_id, format_optional_id
from crowdpost.kit.money import from_micros
from crowdpost.kit.schemas import with_set
from crowdpost.models import Requester

if TYPE_CHECKING:
    from crowdpost.accounts.service import NewRequester, RevokedToken


def requester_view(requester: Requester) -> dict[str, object]:
    """Toloka's RequesterViewV1 as a plain dict."""
    public_id = format_id(requester.id)
    view: dict[str, object] = {
        "id": public_id,
        "balance": from_micros(requester.balance_micros),
        "public_name": requester.public_name,
    }
    view["company"] = {"id": public_id, "superintendent_id": public_id}
    if requester.company:
        view["company_name"] = requester.company
    return view


def created_requester_view(created: NewRequester) -> dict[str, Any]:
    """What an operator gets back once, with the requester's first token."""
    r = created.requester
    return {
        "id": format_id(r.id),
        "token": created.token,
        "balance": from_micros(r.balance_micros),
        "public_name": r.public_name,
        "company": r.company,
        "email": r.email,
        "created": r.created,
    }


def deposit_view(requester_id: int, amount: Decimal, balance_micros: int, entry_id: int) -> dict[str, Any]:
    return {
        "requester_id": format_id(requester_id),
        "amount": amount,
        "balance": from_micros(balance_micros),
        "ledger_entry_id": format_id(entry_id),
    }


def revoked_token_view(revoked: RevokedToken) -> dict[str, Any]:
    view = {"revoked": True, "role": revoked.role, "revoked_at": revoked.revoked}
    return with_set(view, requester_id=format_optional_id(revoked.requester_id), toloker_id=revoked.toloker_id)
