"""The only code that changes a requester's balance.

Each change is one conditional UPDATE (`balance + delta >= 0`, backed by a CHECK
constraint) and one ledger row, in the caller's transaction. On PostgreSQL the UPDATE
takes the requester's row lock, so concurrent payments queue instead of overdrawing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from crowdpost.errors import ApiError, DoesNotExist
from crowdpost.kit.money import from_micros
from crowdpost.kit.timefmt import utcnow
from crowdpost.models import LedgerEntry, Requester
from crowdpost.rewards.repository import total_micros


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


# Built once with bound values (building a statement costs more than running it) and run
# on the connection: plain SQL, no ORM evaluation of the WHERE clause against the session.
_APPLY_DELTA = (
    update(Requester)
    .where(Requester.id == bindparam("requester_id"), Requester.balance_micros + bindparam("delta") >= 0)
    .values(balance_micros=Requester.balance_micros + bindparam("delta"))
    .returning(Requester.balance_micros)
)
_INSERT_LINES = insert(LedgerEntry)


def change_balance(session: Session, requester_id: int, lines: Sequence[LedgerLine]) -> int:
    """Apply all `lines` atomically; returns the new balance in micros.

    Raises NotEnoughBalance (nothing changed) if the balance would go below zero.
    """
    delta = sum(line.amount_micros for line in lines)
    connection = session.connection()
    new_balance = connection.execute(_APPLY_DELTA, {"requester_id": requester_id, "delta": delta}).scalar_one_or_none()
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
    # A Requester this session already loaded shows the new balance, as an ORM UPDATE would.
    loaded = session.identity_map.get(identity_key(Requester, requester_id))
    if loaded is not None:
        set_committed_value(loaded, "balance_micros", new_balance)
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
        connection.execute(_INSERT_LINES, rows)
    return int(new_balance)


def ledger_sum(session: Session, requester_id: int) -> int:
    return total_micros(session, LedgerEntry.amount_micros, LedgerEntry.requester_id == requester_id)


def reference_total(session: Session, requester_id: int, reference: str) -> int:
    """The signed sum of a requester's ledger rows with this reference (one operation's)."""
    return total_micros(
        session, LedgerEntry.amount_micros, LedgerEntry.requester_id == requester_id, LedgerEntry.reference == reference
    )
