"""Paying bonuses: `POST /user-bonuses` in both modes, and the payment every path shares.

A payment is one transaction: the items were checked, the balance pays the total in
one conditional UPDATE with its ledger rows (bonus, and fee when there is one), all
bonus rows go in with one executemany, and subscribers hear `BonusesPaid` and
`BalanceChanged` before commit. No HTTP here and no commit.

Idempotency lives in the database: an `operation_id` claims a unique
(requester, operation id) row first, so a retry finds it and replays (sync) or gets
OPERATION_ALREADY_EXISTS (async, what toloka-kit expects), and a bonus row's unique
(operation, item index) means no item of an operation can ever be paid twice.

Fees: a request's fee is the fee on its total, computed once. A payment made in parts
(the chunks of an async batch) charges each part the fee's increase,
`fee(paid before + part) - fee(paid before)`, so the parts' fees add up to the fee on
what was paid whatever the chunk size.

An async batch with `skip_invalid_items=false` is all or nothing: the request that stores it
also charges its whole cost (bonuses plus the fee on their total) to the balance, as the
ledger rows BONUS and FEE of the operation ("reserved"), or, when the balance does not cover
it, stores the operation as FAIL with NOT_ENOUGH_BALANCE and pays nothing. On PostgreSQL it
also checks every item then, so that a valid batch is paid at once rather than checked
through by the worker first (`repository.checks_when_stored`). The worker's payments then
draw on that reservation without touching the balance, and when the operation ends
`do_settle` refunds (REFUND row) whatever it did not pay. So the balance never goes below
zero and every change of it is a ledger row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from crowdpost.config import Settings
from crowdpost.errors import PayloadTooLarge, TooManyRequests, ValidationFailed, field_error, request_id_var
from crowdpost.events import BalanceChanged, BonusesPaid, publish
from crowdpost.kit.jsonwire import dumps, loads
from crowdpost.kit.money import from_micros, percent_of
from crowdpost.kit.timefmt import format_datetime, utcnow
from crowdpost.models import Operation
from crowdpost.operations import service as operations
from crowdpost.rewards import repository
from crowdpost.rewards.ledger import LedgerLine, NotEnoughBalance, change_balance, reference_total
from crowdpost.rewards.validation import (
    AmountRules,
    BonusDraft,
    ItemErrors,
    check_amount,
    check_item,
    check_no_duplicates,
    check_references,
)
from crowdpost.rewards.views import bonus_view, draft_view
from crowdpost.worker.registry import enqueue

BONUS_OPERATION = "USER_BONUS.BATCH_CREATE"
STEP_JOB = "rewards.bonus_operation_step"
PHASE_CHECK, PHASE_PAY = "CHECK", "PAY"
# Share of the progress bar the check pass takes, when a batch has one.
CHECK_SHARE = 25


@dataclass(frozen=True)
class BonusRequest:
    """The query of a `POST /user-bonuses`."""

    async_mode: bool = False
    skip_invalid_items: bool = False
    operation_id: str | None = None
    assignment_id: str | None = None


@dataclass(frozen=True)
class BonusesCreated:
    """A synchronous request's outcome: the paid bonuses' views by item index, and why each
    other item was not paid. `single`: the request sent one object, not a list."""

    single: bool
    items: dict[int, dict[str, Any]]
    errors: dict[int, ItemErrors]


@dataclass(frozen=True)
class BatchAccepted:
    """An async request's outcome: the stored operation (a worker pays it)."""

    operation: Operation


@dataclass
class Checked:
    drafts: list[BonusDraft] = field(default_factory=list)
    errors: dict[int, ItemErrors] = field(default_factory=dict)


@dataclass
class Paid:
    drafts: list[BonusDraft]
    bonus_ids: list[int]
    created: datetime
    # Items that did not fit the balance (partial payments only), by index.
    rejected: dict[int, ItemErrors]


def rules_from(settings: Settings) -> AmountRules:
    return AmountRules(settings.bonus_min_amount, settings.bonus_max_amount, settings.bonus_fee_percent)


def fee_of(total_micros: int, rules: AmountRules) -> int:
    return percent_of(total_micros, rules.fee_percent) if rules.fee_percent > 0 else 0


def check_body(body: Any) -> tuple[list[Any], bool]:
    """(items, single): one object or a non-empty list of them."""
    if body is None:
        raise ValidationFailed({"body": field_error("VALUE_REQUIRED", "send a bonus object or a list of them")})
    if isinstance(body, dict):
        return [body], True
    if not isinstance(body, list):
        raise ValidationFailed({"body": field_error("OBJECT_EXPECTED", "send a bonus object or a list of them")})
    if not body:
        raise ValidationFailed({"body": field_error("ARRAY_SIZE_LESS_THAN_MIN", "the list of bonuses is empty", 1)})
    return body, False


def check_batch(
    session: Session,
    requester_id: int,
    indexed_items: Iterable[tuple[int, Any]],
    rules: AmountRules,
    default_assignment: str | None,
) -> Checked:
    """Shape of each item, then references of all of them in one pass."""
    return check_refs(session, requester_id, check_shapes(indexed_items, rules, default_assignment))


def check_shapes(
    indexed_items: Iterable[tuple[int, Any]], rules: AmountRules, default_assignment: str | None
) -> Checked:
    """The items as drafts, or their field errors: plain Python, no I/O (and the same answer
    whenever it runs, so the worker may work it out ahead: `rewards.lookahead`)."""
    checked = Checked()
    for index, item in indexed_items:
        result = check_item(index, item, rules, default_assignment)
        if isinstance(result, BonusDraft):
            checked.drafts.append(result)
        else:
            checked.errors[index] = result
    return checked


def check_refs(session: Session, requester_id: int, shaped: Checked) -> Checked:
    """What the drafts refer to, as the database has it now, for all of them in one pass; a
    new `Checked` (the one given may be shared)."""
    bad = check_references(session, requester_id, shaped.drafts)
    if not bad:
        return Checked(list(shaped.drafts), dict(shaped.errors))
    return Checked([d for d in shaped.drafts if d.index not in bad], {**shaped.errors, **bad})


def fee_increase(paid_before: int, amount: int, rules: AmountRules) -> int:
    """The fee `amount` more adds to a request that has paid `paid_before` already."""
    if rules.fee_percent <= 0:
        return 0
    return fee_of(paid_before + amount, rules) - fee_of(paid_before, rules)


def _fit(
    drafts: Sequence[BonusDraft], balance: int, rules: AmountRules, paid_before: int
) -> tuple[list[BonusDraft], list[BonusDraft]]:
    """In order, each item that still fits the balance (with the fee on the running total)."""
    fit: list[BonusDraft] = []
    rest: list[BonusDraft] = []
    total = 0
    for draft in drafts:
        candidate = total + draft.amount_micros
        if candidate + fee_increase(paid_before, candidate, rules) <= balance:
            fit.append(draft)
            total = candidate
        else:
            rest.append(draft)
    return fit, rest


def do_pay(
    session: Session,
    requester_id: int,
    drafts: Sequence[BonusDraft],
    rules: AmountRules,
    *,
    partial: bool,
    operation_id: int | None,
    reference: str,
    paid_before: int = 0,
) -> Paid:
    """Pays checked drafts. `partial=False`: all or NotEnoughBalance; `True`: what fits, in order.

    `paid_before`: what earlier parts of the same request paid (the fee is on the sum)."""
    rejected: dict[int, ItemErrors] = {}
    if partial:
        balance = repository.lock_balance(session, requester_id)
        to_pay, rest = _fit(drafts, balance, rules, paid_before)
        for draft in rest:
            rejected[draft.index] = {
                "amount": field_error(
                    "NOT_ENOUGH_BALANCE", "not paid: the balance does not cover it", from_micros(balance)
                )
            }
    else:
        to_pay = list(drafts)
    created = utcnow()
    if not to_pay:
        return Paid([], [], created, rejected)
    total = sum(d.amount_micros for d in to_pay)
    fee = fee_increase(paid_before, total, rules)
    lines = [LedgerLine("BONUS", -total, reference, f"{len(to_pay)} bonuses")]
    if fee:
        lines.append(LedgerLine("FEE", -fee, reference, f"platform fee {rules.fee_percent}%"))
    new_balance = change_balance(session, requester_id, lines)
    bonus_ids = repository.insert_bonuses(session, requester_id, to_pay, operation_id, created)
    publish(session, BonusesPaid(requester_id=requester_id, bonus_ids=tuple(bonus_ids)))
    publish(session, BalanceChanged(requester_id, new_balance + total + fee, new_balance))
    return Paid(to_pay, bonus_ids, created, rejected)


def do_pay_reserved(session: Session, requester_id: int, drafts: Sequence[BonusDraft], operation_id: int) -> list[int]:
    """Pays checked drafts of an operation whose whole cost was reserved at submit: bonus
    rows only, the balance was charged then (see `do_reserve`)."""
    if not drafts:
        return []
    bonus_ids = repository.insert_bonuses(session, requester_id, drafts, operation_id, utcnow())
    publish(session, BonusesPaid(requester_id=requester_id, bonus_ids=tuple(bonus_ids)))
    return bonus_ids


def operation_reference(operation: Operation) -> str:
    return f"operation:{operation.public_id}"


def do_reserve(session: Session, operation: Operation, amount: int, fee: int, count: int) -> None:
    """Charges an operation's cost before it pays (BONUS and FEE rows of the operation).
    Raises NotEnoughBalance, having changed nothing, when the balance does not cover it."""
    reference = operation_reference(operation)
    lines = [LedgerLine("BONUS", -amount, reference, f"reserved for {count} bonuses")]
    if fee:
        lines.append(LedgerLine("FEE", -fee, reference, "platform fee on the batch, reserved"))
    new_balance = change_balance(session, operation.requester_id, lines)
    publish(session, BalanceChanged(operation.requester_id, new_balance + amount + fee, new_balance))


def do_settle(session: Session, operation: Operation, rules: AmountRules) -> int:
    """When an operation ends: refunds what its ledger rows charged beyond what it paid
    (its bonuses plus the fee on their total). Returns the refund in micros."""
    charged = -reference_total(session, operation.requester_id, operation_reference(operation))
    paid = repository.paid_in_operation(session, operation.requester_id, operation.id)
    refund = charged - paid - fee_of(paid, rules)
    if refund <= 0:
        return 0
    unpaid = int(operation.details.get("total_count", 0)) - int(operation.details.get("success_count", 0))
    line = LedgerLine("REFUND", refund, operation_reference(operation), f"released: {unpaid} bonuses not paid")
    new_balance = change_balance(session, operation.requester_id, [line])
    publish(session, BalanceChanged(operation.requester_id, new_balance - refund, new_balance))
    return refund


def amounts_total(items: Sequence[Any], rules: AmountRules) -> int:
    """The sum of the items' valid amounts (an item with an invalid one fails the batch later)."""
    total = 0
    for item in items:
        amount = item.get("amount") if isinstance(item, dict) else None
        if amount is not None:
            micros = check_amount(amount, rules)
            if isinstance(micros, int):
                total += micros
    return total


# --- POST /user-bonuses ---------------------------------------------------------------


def do_create_bonuses(
    session: Session, settings: Settings, requester_id: int, body: Any, request: BonusRequest
) -> BonusesCreated | BatchAccepted:
    """The whole request. Raises ApiErrors; the caller's transaction rolls back on any of
    them, so an error never pays and never counts against the quota."""
    today = utcnow().date()
    limit = settings.bonus_requests_per_day
    # The count at the end decides; an async batch is worth a cheap look first.
    if request.async_mode and repository.requests_on(session, requester_id, today) >= limit:
        raise TooManyRequests(f"At most {limit} bonus requests per day; try again tomorrow (UTC)")
    items, single = check_body(body)
    answer: BonusesCreated | BatchAccepted
    if request.async_mode:
        answer = BatchAccepted(_do_submit(session, settings, requester_id, items, request))
    else:
        answer = _do_sync(session, settings, requester_id, items, single, request)
    if repository.do_count_request(session, requester_id, today) > limit:
        raise TooManyRequests(f"At most {limit} bonus requests per day; try again tomorrow (UTC)")
    return answer


def _claim(session: Session, requester_id: int, request: BonusRequest, **fields: Any) -> tuple[Operation, bool]:
    """The bonus operation `request.operation_id` names (a fresh UUID when none), created or
    found: (operation, created). `fields`: the status or details it is created with."""
    public_id = operations.check_public_id(request.operation_id)
    parameters = {"skip_invalid_items": request.skip_invalid_items}
    return operations.do_claim(session, requester_id, public_id, BONUS_OPERATION, parameters=parameters, **fields)


def _do_sync(
    session: Session, settings: Settings, requester_id: int, items: list[Any], single: bool, request: BonusRequest
) -> BonusesCreated:
    if len(items) > settings.bonus_sync_max_items:
        raise PayloadTooLarge(
            f"At most {settings.bonus_sync_max_items} bonuses per synchronous request, got {len(items)}; "
            "use async_mode=true for more. Nothing was paid."
        )
    operation: Operation | None = None
    if request.operation_id is not None:
        operation, created = _claim(session, requester_id, request, status=operations.RUNNING)
        if not created:
            return _replay(session, requester_id, operation)
    check_no_duplicates(items)
    rules = rules_from(settings)
    checked = check_batch(session, requester_id, enumerate(items), rules, request.assignment_id)
    if checked.errors and (single or not request.skip_invalid_items):
        if single:
            raise ValidationFailed(checked.errors[0])
        raise ValidationFailed(
            {str(i): e for i, e in sorted(checked.errors.items())},
            f"{len(checked.errors)} of {len(items)} bonuses are invalid; nothing was paid",
        )
    reference = f"operation:{operation.public_id}" if operation else f"request:{request_id_var.get()}"
    paid = do_pay(
        session,
        requester_id,
        checked.drafts,
        rules,
        partial=request.skip_invalid_items and not single,
        operation_id=operation.id if operation else None,
        reference=reference,
    )
    errors = {**checked.errors, **paid.rejected}
    paid_at = format_datetime(paid.created)  # once for the batch, not per item at render time
    views = {d.index: draft_view(d, i, paid_at) for d, i in zip(paid.drafts, paid.bonus_ids, strict=True)}
    if operation is not None:
        _finish_sync(session, operation, items, single, views, errors)
    return BonusesCreated(single, views, errors)


def _finish_sync(
    session: Session,
    operation: Operation,
    items: list[Any],
    single: bool,
    views: dict[int, Any],
    errors: dict[int, ItemErrors],
) -> None:
    """Stores what a retry must replay: which items failed and why (the bonuses are rows)."""
    result = {
        "single": single,
        "validation_errors": {str(i): e for i, e in errors.items()},
        "inputs": {str(i): items[i] for i in errors},
    }
    not_valid = sum(1 for e in errors.values() if not _is_balance(e))
    details = _counts(len(items))
    details.update(
        valid_count=len(items) - not_valid,
        not_valid_count=not_valid,
        success_count=len(views),
        failed_count=len(items) - not_valid - len(views),
    )
    # No OperationFinished: the caller has the answer already; the row only serves retries.
    operations.do_finish(
        session, operation, operations.SUCCESS, details, result=dumps(result).decode("utf-8"), notify=False
    )


def _is_balance(errors: ItemErrors) -> bool:
    return errors.get("amount", {}).get("code") == "NOT_ENOUGH_BALANCE"


def _replay(session: Session, requester_id: int, operation: Operation) -> BonusesCreated:
    """The original answer of a sync request retried with the same operation_id."""
    if operation.result is None:
        raise operations.OperationAlreadyExists(
            f"Operation {operation.public_id!r} already exists and is asynchronous; "
            f"GET /operations/{operation.public_id} for its state"
        )
    result = loads(operation.result.encode("utf-8"))
    bonuses = repository.bonuses_of_operation(session, requester_id, operation.id)
    views = {b.item_idx: bonus_view(b) for b in bonuses if b.item_idx is not None}
    errors = {int(i): e for i, e in result["validation_errors"].items()}
    return BonusesCreated(bool(result["single"]), views, errors)


def _counts(total: int) -> dict[str, Any]:
    return {"total_count": total, "valid_count": 0, "not_valid_count": 0, "success_count": 0, "failed_count": 0}


def _do_submit(
    session: Session, settings: Settings, requester_id: int, items: list[Any], request: BonusRequest
) -> Operation:
    """Stores the batch and queues its first step; a worker does the paying."""
    operation, created = _claim(session, requester_id, request, details=_counts(len(items)))
    if not created:
        public_id = operation.public_id
        raise operations.OperationAlreadyExists(
            f"Operation {public_id!r} already exists; GET /operations/{public_id} for its state"
        )
    check_no_duplicates(items)
    repository.insert_chunks(session, operation.id, items, settings.worker_chunk_size)
    rules = rules_from(settings)
    if not request.skip_invalid_items and not _reserved(session, operation, items, rules):
        return operation
    if request.skip_invalid_items:
        operation.phase = PHASE_PAY  # pays what is valid, chunk by chunk
    elif repository.checks_when_stored(session) and _all_valid(
        session, requester_id, items, rules, request.assignment_id, settings.worker_chunk_size
    ):
        # All or nothing, and all of it passes now: the check pass would find nothing, so the
        # worker starts paying at once (each chunk is checked again as it is paid).
        operation.phase, operation.progress = PHASE_PAY, CHECK_SHARE
        operation.details = {**operation.details, "valid_count": len(items)}
    else:
        operation.phase = PHASE_CHECK  # the check pass records which items fail, then fails it
    enqueue(
        session,
        STEP_JOB,
        {
            "operation": operation.id,
            "phase": operation.phase,
            "cursor": 0,
            "valid_micros": 0,
            "assignment_id": request.assignment_id,
            # The rules in force when the request was accepted, whatever the worker's settings.
            "rules": {k: str(v) for k, v in asdict(rules).items()},
        },
    )
    session.flush()
    return operation


def _all_valid(
    session: Session, requester_id: int, items: list[Any], rules: AmountRules, assignment_id: str | None, size: int
) -> bool:
    """Whether every item passes every check now: each item's shape (`size` items at a time,
    stopping at the first chunk with an invalid one), then what they refer to, asked once
    per distinct (Toloker, assignment) pair: batches name the same Tolokers many times."""
    distinct: dict[tuple[str, int | None], BonusDraft] = {}
    for first in range(0, len(items), size):
        shaped = check_shapes(enumerate(items[first : first + size], start=first), rules, assignment_id)
        if shaped.errors:
            return False
        for draft in shaped.drafts:
            distinct.setdefault((draft.user_id, draft.assignment_id), draft)
    return not check_references(session, requester_id, list(distinct.values()))


def _reserved(session: Session, operation: Operation, items: list[Any], rules: AmountRules) -> bool:
    """All or nothing: reserves the batch's cost, or finishes the operation FAIL (nothing paid)."""
    amount = amounts_total(items, rules)
    fee = fee_of(amount, rules)
    if amount == 0:
        return True  # no valid amount at all: the check pass fails the batch
    try:
        do_reserve(session, operation, amount, fee, len(items))
    except NotEnoughBalance as exc:
        fail_batch(
            session,
            operation,
            "NOT_ENOUGH_BALANCE",
            f"not paid: the batch costs {from_micros(amount + fee)} ({from_micros(amount)} in bonuses plus "
            f"{from_micros(fee)} fee) and the balance is {exc.payload['balance']}; nothing was paid",
        )
        return False
    return True


def fail_batch(session: Session, operation: Operation, code: str, message: str) -> None:
    """Finishes a bonus operation FAIL with the reason in `details.error`; every item not
    paid by then counts as failed (the log names the reason for each)."""
    details = dict(operation.details)
    unpaid = details["total_count"] - details["success_count"] - details["not_valid_count"]
    details["failed_count"] = max(int(details["failed_count"]), unpaid)
    details["error"] = {"code": code, "message": message}
    operations.do_finish(session, operation, operations.FAIL, details)


def rules_of(payload: dict[str, Any]) -> AmountRules:
    raw = payload["rules"]
    return AmountRules(Decimal(raw["min_amount"]), Decimal(raw["max_amount"]), Decimal(raw["fee_percent"]))
