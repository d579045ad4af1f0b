"""Requesters and tokens: create, deposit, view. No HTTP here, and no commit."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from crowdpost.accounts.tokens import REQUESTER_PREFIX, TOLOKER_PREFIX, hash_token, new_token
from crowdpost.errors import DoesNotExist, ValidationFailed, field_error
from crowdpost.kit.ids import format_id, parse_id
from crowdpost.kit.money import MoneyError, from_micros, to_micros
from crowdpost.kit.timefmt import utcnow
from crowdpost.models import ApiToken, LedgerEntry, Requester, Toloker
from crowdpost.rewards.ledger import LedgerLine, change_balance

MAX_DEPOSIT = Decimal("1000000000")


@dataclass(frozen=True)
class NewRequester:
    requester: Requester
    token: str


def check_deposit_amount(amount: Decimal, field: str = "amount") -> int:
    try:
        micros = to_micros(amount)
    except MoneyError as exc:
        raise ValidationFailed({field: field_error("INVALID_VALUE", str(exc), str(amount))}) from exc
    if micros <= 0:
        raise ValidationFailed({field: field_error("VALUE_LESS_THAN_MIN", "amount must be positive", 0)})
    if amount > MAX_DEPOSIT:
        raise ValidationFailed({field: field_error("VALUE_GREATER_THAN_MAX", "amount is too large", str(MAX_DEPOSIT))})
    return micros


def issue_token(session: Session, *, requester_id: int | None = None, toloker_id: str | None = None) -> str:
    role, prefix = ("REQUESTER", REQUESTER_PREFIX) if requester_id is not None else ("TOLOKER", TOLOKER_PREFIX)
    token = new_token(prefix)
    session.execute(
        insert(ApiToken).values(
            token_hash=hash_token(token),
            role=role,
            requester_id=requester_id,
            toloker_id=toloker_id,
            created=utcnow(),
        )
    )
    return token


def do_create_requester(
    session: Session,
    *,
    public_name: str | dict[str, str],
    company: str | None = None,
    email: str | None = None,
    balance: Decimal | None = None,
) -> NewRequester:
    names = {"EN": public_name} if isinstance(public_name, str) else dict(public_name)
    if not any(v.strip() for v in names.values()):
        raise ValidationFailed({"public_name": field_error("VALUE_REQUIRED", "public_name must not be blank")})
    opening = check_deposit_amount(balance, "balance") if balance else 0
    requester = Requester(public_name=names, company=company, email=email, balance_micros=0, created=utcnow())
    session.add(requester)
    session.flush()
    if opening:
        change_balance(
            session,
            requester.id,
            [LedgerLine("DEPOSIT", opening, "deposit:opening", "Opening deposit")],
        )
        session.refresh(requester)
    token = issue_token(session, requester_id=requester.id)
    return NewRequester(requester, token)


def do_deposit(session: Session, requester_id: int, amount: Decimal, description: str | None = None) -> tuple[int, int]:
    """Adds money; returns (new balance, ledger entry id), both in the caller's transaction."""
    micros = check_deposit_amount(amount)
    # A unique reference finds our own ledger row even while others deposit concurrently.
    reference = f"deposit:{uuid.uuid4().hex}"
    balance = change_balance(
        session, requester_id, [LedgerLine("DEPOSIT", micros, reference, description or "Deposit")]
    )
    entry_id = session.execute(select(LedgerEntry.id).where(LedgerEntry.reference == reference)).scalar_one()
    return balance, entry_id


def get_requester(session: Session, requester_id: int) -> Requester:
    requester = session.get(Requester, requester_id)
    if requester is None:
        raise DoesNotExist("Requester does not exist")
    return requester


def find_requester_by_public_id(session: Session, public_id: str) -> Requester:
    n = parse_id(public_id)
    if n is None:
        raise DoesNotExist(f"Requester {public_id!r} does not exist")
    return get_requester(session, n)


def do_issue_toloker_token(session: Session, toloker_id: str) -> str:
    if session.get(Toloker, toloker_id) is None:
        raise DoesNotExist(f"Toloker {toloker_id!r} does not exist")
    return issue_token(session, toloker_id=toloker_id)


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
