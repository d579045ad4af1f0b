"""The only code that changes a requester's balance.

Each change is one conditional UPDATE (`balance + delta >= 0`, backed by a CHECK
constraint) and one ledger row, in the caller's transaction. On PostgreSQL the UPDATE
takes the requester's row lock, so concurrent payments queue instead of overdrawing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from crowdpost.errors import ApiError, DoesNotExist
from crowdpost.kit.money import from_micros
from crowdpost.kit.timefmt import utcnow
from crowdpost.models import LedgerEntry, Requester


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
    new_balance = session.execute(
        update(Requester)
        .where(Requester.id == requester_id, Requester.balance_micros + delta >= 0)
        .values(balance_micros=Requester.balance_micros + delta)
        .returning(Requester.balance_micros)
    ).scalar_one_or_none()
    if new_balance is None:
        balance = session.execute(
            select(Requester.balance_micros).where(Requester.id == requester_id)
        ).scalar_one_or_none()
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
        session.execute(insert(LedgerEntry), rows)
    return new_balance


def ledger_sum(session: Session, requester_id: int) -> int:
    total = session.execute(
        select(func.coalesce(func.sum(LedgerEntry.amount_micros), 0)).where(LedgerEntry.requester_id == requester_id)
    ).scalar_one()
    return int(total)
