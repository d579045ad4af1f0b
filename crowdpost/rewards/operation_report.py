"""What a requester's operation page shows of a bonus operation: its progress, its result,
the items it did not pay, and the requester's recent bonus operations.

The operation is read through `crowdpost.operations.service` (as `GET /operations/{id}`
does, so another requester's id does not exist) and its failed items are the log's
(`operations.operation_log`, what `GET /operations/{id}/log` streams) entries with
`success: false`. Money comes from the operation's own rows: the bonuses it paid and the
ledger rows under its reference (what it charged, less what it refunded), so the fee shown
is the fee charged. No HTTP here and no commit.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from crowdpost.db import Database
from crowdpost.errors import DoesNotExist, ValidationFailed
from crowdpost.kit.csv_export import CellValue
from crowdpost.kit.jsonwire import dumps
from crowdpost.kit.pagination import ListParams, SortKey
from crowdpost.kit.timefmt import utcnow
from crowdpost.models import Operation
from crowdpost.operations import service as operations
from crowdpost.rewards import repository
from crowdpost.rewards.bonus_files import LINE_KEY, reasons
from crowdpost.rewards.ledger import reference_total
from crowdpost.rewards.service import BONUS_OPERATION, PHASE_CHECK, operation_reference

RECENT = 20
FAILED_COLUMNS = (
    "line",
    "user_id",
    "amount",
    "assignment_id",
    "private_comment",
    "title",
    "error_code",
    "error_message",
)
_STATUS_WORDS = {
    operations.PENDING: "Waiting to start",
    operations.RUNNING: "Running",
    operations.SUCCESS: "Finished",
    operations.FAIL: "Failed",
}


@dataclass(frozen=True, slots=True)
class Progress:
    done: int
    total: int
    percent: int
    stage: str  # what the items counted in `done` went through: "checked" or "handled"


@dataclass(frozen=True, slots=True)
class Outcome:
    paid_count: int
    failed_count: int  # invalid items and valid ones that were not paid
    paid_micros: int
    fee_micros: int
    error: dict[str, Any] | None  # why the whole operation failed, when it did


@dataclass(frozen=True, slots=True)
class Report:
    operation: Operation
    view: dict[str, Any]  # the API's Operation (`operations.operation_view`)
    status_words: str
    progress: Progress
    outcome: Outcome | None  # None until the operation has finished
    read_at: datetime  # when this was read (naive UTC)

    @property
    def finished(self) -> bool:
        return self.operation.status in operations.TERMINAL


def get_bonus_operation(session: Session, requester_id: int, public_id: str) -> Operation:
    """The requester's bonus operation; DoesNotExist for a malformed id, another requester's
    operation or one of another type."""
    try:
        operations.check_public_id(public_id)
    except ValidationFailed:
        raise DoesNotExist("This operation does not exist") from None
    operation = operations.get_operation(session, requester_id, public_id)
    if operation.type != BONUS_OPERATION:
        raise DoesNotExist("This operation does not exist")
    return operation


def progress_of(operation: Operation) -> Progress:
    total = int(operation.details.get("total_count", 0))
    if operation.status in operations.TERMINAL:
        return Progress(total, total, 100, "handled")
    # While it runs, the cursor is the items done in the current pass (a batch that must be
    # valid as a whole is checked through once, then paid).
    stage = "checked" if operation.phase == PHASE_CHECK else "handled"
    return Progress(min(operation.cursor, total), total, operation.progress, stage)


def outcome_of(session: Session, operation: Operation) -> Outcome | None:
    if operation.status not in operations.TERMINAL:
        return None
    details = operation.details
    paid = repository.paid_in_operation(session, operation.requester_id, operation.id)
    charged = -reference_total(session, operation.requester_id, operation_reference(operation))
    return Outcome(
        paid_count=int(details.get("success_count", 0)),
        failed_count=int(details.get("not_valid_count", 0)) + int(details.get("failed_count", 0)),
        paid_micros=paid,
        fee_micros=max(0, charged - paid),
        error=details.get("error"),
    )


def report(session: Session, requester_id: int, public_id: str) -> Report:
    operation = get_bonus_operation(session, requester_id, public_id)
    return Report(
        operation=operation,
        view=operations.operation_view(operation),
        status_words=_STATUS_WORDS.get(operation.status, operation.status),
        progress=progress_of(operation),
        outcome=outcome_of(session, operation),
        read_at=utcnow(),
    )


def recent(session: Session, requester_id: int, limit: int = RECENT) -> list[Report]:
    """The requester's latest bonus operations, newest first (the API's own listing)."""
    filters = operations.OperationFilters(type=BONUS_OPERATION)
    params = ListParams(limit=limit, sort=[SortKey("submitted", True)])
    rows, _ = operations.list_operations(session, requester_id, filters, params)
    now = utcnow()
    return [
        Report(op, operations.operation_view(op), _STATUS_WORDS.get(op.status, op.status), progress_of(op), None, now)
        for op in rows
    ]


# --- failed items -----------------------------------------------------------------------


def _cell(value: Any) -> CellValue:
    """An item's value as sent, as one CSV cell (numbers as written, anything else as text)."""
    if value is None or isinstance(value, str | Decimal):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return value
    if isinstance(value, dict) and all(isinstance(text, str) for text in value.values()):
        return " | ".join(f"{language}: {text}" for language, text in value.items())
    return dumps(value).decode("utf-8")


def failed_row(entry: dict[str, Any]) -> tuple[CellValue, ...]:
    """One row of FAILED_COLUMNS for a log entry that failed."""
    item = entry["input"] if isinstance(entry["input"], dict) else {}
    output = entry["output"] if isinstance(entry["output"], dict) else {}
    codes = [str(problem.get("code")) for problem in output.values() if isinstance(problem, dict)]
    return (
        _cell(item.get(LINE_KEY)),
        _cell(item.get("user_id")),
        _cell(item.get("amount")),
        _cell(item.get("assignment_id")),
        _cell(item.get("private_comment")),
        _cell(item.get("public_title")),
        "; ".join(codes),
        "; ".join(reasons(output)),
    )


def failed_rows(session: Session, operation: Operation) -> Iterator[tuple[CellValue, ...]]:
    """The operation's failed items in input order, as they are read from its log."""
    for entry in operations.operation_log(session, operation):
        if not entry["success"]:
            yield failed_row(entry)


def iter_failed_rows(db: Database, requester_id: int, operation_key: int) -> Iterator[tuple[CellValue, ...]]:
    """`failed_rows` in a read transaction of its own (for a response that streams after the
    request's session has closed), of the requester's operation with this primary key."""
    with db.transaction(write=False) as session:
        operation = operations.get_operation_by_key(session, requester_id, operation_key)
        if operation is None:
            return
        yield from failed_rows(session, operation)
