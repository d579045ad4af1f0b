"""The only code that changes a requester's balance.

Each change is one conditional UPDATE (`balance + delta >= 0`, backed by a CHECK
constraint) and one ledger row, in the caller's transaction. On PostgreSQL the UPDATE
takes the requester's row lock, so concurrent payments queue instead of overdrawing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from crowdpost.errors import ApiError, DoesNotExist
from crowdpost.kit.money import from_micros
from crowdpost.kit.timefmt import utcnow
from crowdpost.rewards import repository


class NotEnoughBalance(ApiError):
    status_code = 409
    code = "NOT_ENOUGH_BALANCE"
    message = "Not enough money on the balance"


@dataclass(frozen=True)
class LedgerLine:
    kind: str
    amount_micros: int  # signed
    reference: str | None = None
    description: str | None = None


def change_balance(session: Session, requester_id: int, lines: Sequence[LedgerLine]) -> int:
    """Apply all `lines` atomically; returns the new balance in micros.

    Raises NotEnoughBalance (nothing changed) if the balance would go below zero.
    """
    delta = sum(line.amount_micros for line in lines)
    new_balance = repository.apply_balance_delta(session, requester_id, delta)
    if new_balance is None:
        balance = repository.find_balance(session, requester_id)
        if balance is None:
            raise DoesNotExist("Requester does not exist")
        raise NotEnoughBalance(
            f"Not enough money on the balance: {from_micros(balance)} available, {from_micros(-delta)} needed",
            payload={"balance": from_micros(balance), "required": from_micros(-delta)},
        )
    now = utcnow()
    running = new_balance - delta
    rows = []
    for line in lines:
        running += line.amount_micros
        rows.append(
            {
                "requester_id": requester_id,
                "kind": line.kind,
                "amount_micros": line.amount_micros,
                "balance_after_micros": running,
                "reference": line.reference,
                "description": line.description,
                "created": now,
            }
        )
    if rows:
        repository.insert_ledger_rows(session, rows)
    return new_balance


def ledger_sum(session: Session, requester_id: int) -> int:
    return repository.ledger_total(session, requester_id)


def reference_total(session: Session, requester_id: int, reference: str) -> int:
    """The signed sum of a requester's ledger rows with this reference (one operation's)."""
    return repository.reference_total(session, requester_id, reference)
