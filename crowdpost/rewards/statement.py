"""The balance statement: a requester's ledger rows, newest first, with running balances.

Paging is by id (keyset: `before_id`), never by offset, so every page costs the same and
an export walks 100,000 rows in pages of `EXPORT_PAGE` without holding them all.
Every query filters by `requester_id`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from crowdpost.db import Database
from crowdpost.kit.money import from_micros
from crowdpost.models import LedgerEntry
from crowdpost.rewards import repository

PAGE_SIZE = 50
EXPORT_PAGE = 1000


@dataclass(frozen=True)
class StatementRow:
    id: int
    created: datetime
    kind: str
    amount: Decimal
    balance_after: Decimal
    reference: str | None
    description: str | None


@dataclass(frozen=True)
class Period:
    """Dates are whole UTC days; either end may be open."""

    start: date | None = None
    end: date | None = None


@dataclass(frozen=True)
class Reconciliation:
    """Sum of every ledger row against the stored balance (they must be equal)."""

    ledger_total: Decimal
    balance: Decimal
    row_count: int

    @property
    def reconciles(self) -> bool:
        return self.ledger_total == self.balance


def _row(entry: LedgerEntry) -> StatementRow:
    return StatementRow(
        id=entry.id,
        created=entry.created,
        kind=entry.kind,
        amount=from_micros(entry.amount_micros),
        balance_after=from_micros(entry.balance_after_micros),
        reference=entry.reference,
        description=entry.description,
    )


def statement_page(
    session: Session, requester_id: int, period: Period, *, before_id: int | None = None, limit: int = PAGE_SIZE
) -> tuple[list[StatementRow], int | None]:
    """One page, newest first, and the `before_id` of the next page (None at the end)."""
    entries, next_before = repository.ledger_page(session, requester_id, period.start, period.end, before_id, limit)
    return [_row(entry) for entry in entries], next_before


def reconciliation(session: Session, requester_id: int) -> Reconciliation:
    total, count = repository.ledger_sum_and_count(session, requester_id)
    balance = repository.get_balance(session, requester_id)
    return Reconciliation(ledger_total=from_micros(total), balance=from_micros(balance), row_count=count)


def period_totals(session: Session, requester_id: int, period: Period) -> tuple[Decimal, Decimal]:
    """(money in, money out) within the period; out is negative."""
    money_in, money_out = repository.ledger_period_totals(session, requester_id, period.start, period.end)
    return from_micros(money_in), from_micros(money_out)


def iter_statement(db: Database, requester_id: int, period: Period) -> Iterator[StatementRow]:
    """Every row of the period, newest first, one short read transaction per page."""
    before_id: int | None = None
    while True:
        with db.transaction(write=False) as session:
            rows, before_id = statement_page(session, requester_id, period, before_id=before_id, limit=EXPORT_PAGE)
        yield from rows
        if before_id is None:
            return
