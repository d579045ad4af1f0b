"""Requesters and tokens: create, deposit, revoke. No HTTP here, and no commit; the SQL is in
`accounts.repository`, the wire dicts in `accounts.views`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from crowdpost.accounts import repository
from crowdpost.accounts.tokens import REQUESTER_PREFIX, TOLOKER_PREFIX, hash_token, new_token
from crowdpost.accounts.views import deposit_view
from crowdpost.errors import ApiError, DoesNotExist, ValidationFailed, field_error
from crowdpost.kit.ids import parse_id
from crowdpost.kit.jsonwire import dumps, loads
from crowdpost.kit.money import MoneyError, from_micros, to_micros
from crowdpost.kit.timefmt import utcnow
from crowdpost.models import LedgerEntry, Operation, Requester
from crowdpost.operations import service as operations
from crowdpost.rewards.ledger import LedgerLine, change_balance

MAX_DEPOSIT = Decimal("1000000000")
# An idempotent deposit claims an operation of this type under the requester, with the
# same unique (requester, operation id) key rewards use for `operation_id`.
DEPOSIT_OPERATION = "BALANCE.DEPOSIT"


class OperationIdReused(ApiError):
    """The operation_id names an earlier request that asked for something else."""

    status_code = 409
    code = "OPERATION_ID_REUSED"
    message = "This operation_id was already used for a different request"


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
    repository.add_token(
        session, hash_token(token), role, requester_id=requester_id, toloker_id=toloker_id, now=utcnow()
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
    requester = repository.add_requester(
        session,
        Requester(
            public_name=names,
            company=company,
            email=email,
            email_verified=email is not None,  # an operator set it (crowdpost.email)
            balance_micros=0,
            created=utcnow(),
        ),
    )
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
    return _credit(session, requester_id, micros, f"deposit:{uuid.uuid4().hex}", description)


def _credit(
    session: Session, requester_id: int, micros: int, reference: str, description: str | None
) -> tuple[int, int]:
    balance = change_balance(
        session, requester_id, [LedgerLine("DEPOSIT", micros, reference, description or "Deposit")]
    )
    return balance, repository.ledger_entry_id(session, requester_id, reference)


@dataclass(frozen=True)
class DepositAnswer:
    """What `POST .../deposits` answers; a retry with the same operation_id gets the first one."""

    body: dict[str, Any]
    replayed: bool


def do_deposit_once(
    session: Session,
    requester_id: int,
    amount: Decimal,
    description: str | None = None,
    *,
    operation_id: str | None = None,
) -> DepositAnswer:
    """A deposit; with an `operation_id`, credited once however often (or concurrently) it is sent.

    The operation id is claimed first (`operations.do_claim`: a unique key, so of concurrent
    requests one inserts and the others wait for its commit and then read it); the ledger
    row and the stored answer go in the same transaction, so a retry replays that answer.
    """
    micros = check_deposit_amount(amount)
    if operation_id is None:
        balance, entry_id = _credit(session, requester_id, micros, f"deposit:{uuid.uuid4().hex}", description)
        return DepositAnswer(deposit_view(requester_id, amount, balance, entry_id), replayed=False)
    public_id = operations.check_public_id(operation_id)
    operation, created = operations.do_claim(
        session,
        requester_id,
        public_id,
        DEPOSIT_OPERATION,
        status=operations.RUNNING,
        parameters={"amount": str(amount)},
    )
    if not created:
        return DepositAnswer(_replay_deposit(operation, micros), replayed=True)
    balance, entry_id = _credit(session, requester_id, micros, f"deposit:operation:{public_id}", description)
    body = deposit_view(requester_id, amount, balance, entry_id)
    operations.do_finish(
        session,
        operation,
        operations.SUCCESS,
        {"amount": str(amount), "ledger_entry_id": body["ledger_entry_id"]},
        result=dumps(body).decode("utf-8"),
        notify=False,
    )
    return DepositAnswer(body, replayed=False)


def _replay_deposit(operation: Operation, micros: int) -> dict[str, Any]:
    first = operation.parameters.get("amount") if operation.type == DEPOSIT_OPERATION else None
    if first is None or operation.result is None:
        raise OperationIdReused(
            f"operation_id {operation.public_id!r} already names a {operation.type} operation of this "
            "requester; use a new operation_id for a new deposit. Nothing was credited."
        )
    first_micros = to_micros(Decimal(first))
    if first_micros != micros:
        raise OperationIdReused(
            f"operation_id {operation.public_id!r} was used for a deposit of {from_micros(first_micros)}; "
            "this request asks "
            f"for {from_micros(micros)}. Nothing was credited; use a new operation_id for a new deposit.",
            payload={"operation_id": operation.public_id, "amount": Decimal(first)},
        )
    body: dict[str, Any] = loads(operation.result.encode("utf-8"))
    return body


@dataclass(frozen=True)
class RevokedToken:
    role: str
    requester_id: int | None
    toloker_id: str | None
    revoked: datetime
    newly: bool  # False when it was revoked before


def do_revoke_token(session: Session, token: str) -> RevokedToken:
    """Marks a requester's or Toloker's token revoked (idempotent); DoesNotExist if unknown.

    Every request looks its token up in the database (there is no cache), so the next
    request with it, in any process, gets 401.
    """
    digest = hash_token(token)
    row = repository.revoke_token(session, digest, utcnow())
    newly = row is not None
    if row is None:
        row = repository.token_by_hash(session, digest)
    if row is None or row.revoked is None:
        raise DoesNotExist("No such token (tokens are stored hashed; check that it was copied whole)")
    return RevokedToken(row.role, row.requester_id, row.toloker_id, row.revoked, newly)


def get_requester(session: Session, requester_id: int) -> Requester:
    requester = repository.requester_by_id(session, requester_id)
    if requester is None:
        raise DoesNotExist("Requester does not exist")
    return requester


def requester_password_hash(session: Session, requester_id: int) -> str | None:
    """The requester's password hash; None without a password or without such a requester."""
    requester = repository.requester_by_id(session, requester_id)
    return requester.password_hash if requester else None


def ledger_entries(session: Session, requester_id: int) -> list[LedgerEntry]:
    """The requester's statement: every ledger row, oldest first."""
    return repository.ledger_entries(session, requester_id)


def find_requester_by_public_id(session: Session, public_id: str) -> Requester:
    n = parse_id(public_id)
    if n is None:
        raise DoesNotExist(f"Requester {public_id!r} does not exist")
    return get_requester(session, n)


def do_issue_toloker_token(session: Session, toloker_id: str) -> str:
    if not repository.toloker_exists(session, toloker_id):
        raise DoesNotExist(f"Toloker {toloker_id!r} does not exist")
    return issue_token(session, toloker_id=toloker_id)
