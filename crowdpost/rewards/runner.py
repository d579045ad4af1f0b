"""Running a `USER_BONUS.BATCH_CREATE` operation, one stored chunk per step, and its log.

Each step is one job and one transaction: it locks the operation, checks that the
job still matches the operation's (phase, cursor) -- a duplicate of a step that
already committed does nothing -- handles the chunk at the cursor, advances the
cursor and queues the next step, all in that transaction. A crash anywhere loses at
most the uncommitted step, which then runs again; the unique (operation, item) key
on bonuses makes paying an item twice impossible even if all of that failed.

`skip_invalid_items=false` is all or nothing over a batch whose whole cost was reserved when
it was stored (`service.do_reserve`). A batch whose every item passed its checks then
(PostgreSQL: `repository.checks_when_stored`) goes straight to PAY (bonus rows drawn on the
reservation, each chunk checked again as it is paid); one with an invalid item runs CHECK
first (validate everything, pay nothing, record which items fail) and fails. `true` runs PAY
only, skipping invalid items and items the balance no longer covers, each chunk charged with
the fee's increase. Whatever way an operation ends, `service.do_settle` refunds what it
reserved and did not pay. A step the worker gives up on (a data error, or too many
attempts) ends its operation FAIL through `do_fail_operation`.

While a step writes its payment, the next chunk is decoded and shape-checked on a thread
(`rewards.lookahead`); the step that handles it takes that work instead of doing it again.

The log streams: `bonus_operation_log` yields entries chunk by chunk.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from sqlalchemy.orm import Session

from crowdpost.errors import field_error
from crowdpost.kit.ids import format_id
from crowdpost.kit.jsonwire import loads
from crowdpost.models import Operation
from crowdpost.operations import service as operations
from crowdpost.rewards import repository
from crowdpost.rewards.ledger import NotEnoughBalance, reference_total
from crowdpost.rewards.lookahead import LOOKAHEAD, Key, Prepared, prepare
from crowdpost.rewards.repository import Chunk
from crowdpost.rewards.service import (
    CHECK_SHARE,
    PHASE_CHECK,
    PHASE_PAY,
    STEP_JOB,
    check_refs,
    do_pay,
    do_pay_reserved,
    do_reserve,
    do_settle,
    fail_batch,
    fee_of,
    operation_reference,
    rules_of,
)
from crowdpost.rewards.validation import AmountRules
from crowdpost.rewards.views import bonus_input
from crowdpost.worker.registry import enqueue


def do_operation_step(session: Session, payload: dict[str, Any]) -> None:
    """The `STEP_JOB` handler: one chunk of an async bonus operation; queues the next step itself."""
    operation = operations.lock_operation(session, int(payload["operation"]))
    if (
        operation is None
        or operation.status in operations.TERMINAL
        or operation.phase != payload["phase"]
        or operation.cursor != payload["cursor"]
    ):
        return  # finished, or this step already committed and its job is a leftover
    operations.do_start(operation)
    details = dict(operation.details)
    valid_micros = int(payload["valid_micros"])
    paid_micros = _paid_micros(session, operation, payload)
    rules = rules_of(payload)
    key = Key(operation.id, str(operation.phase), operation.cursor, rules, payload.get("assignment_id"))
    prepared = LOOKAHEAD.take(key) or _prepare(session, key)
    if prepared is None:
        _fail(
            session, operation, rules, "OPERATION_EXECUTION_ERROR", f"the stored input ends at item {operation.cursor}"
        )
        return
    chunk = prepared.chunk
    checked = check_refs(session, operation.requester_id, prepared.shaped)
    _look_ahead(session, key, chunk, int(details["total_count"]))
    skip_invalid = bool(operation.parameters.get("skip_invalid_items"))
    errors = dict(checked.errors)
    if operation.phase == PHASE_CHECK or skip_invalid:
        details["valid_count"] += len(checked.drafts)
        details["not_valid_count"] += len(checked.errors)
    if operation.phase == PHASE_CHECK:
        valid_micros += sum(d.amount_micros for d in checked.drafts)
    elif skip_invalid:
        paid = do_pay(
            session,
            operation.requester_id,
            checked.drafts,
            rules,
            partial=True,
            operation_id=operation.id,
            reference=operation_reference(operation),
            paid_before=paid_micros,
        )
        paid_micros += sum(d.amount_micros for d in paid.drafts)
        errors.update(paid.rejected)
        details["success_count"] += len(paid.bonus_ids)
        details["failed_count"] += len(paid.rejected)
    else:
        # Reserved at submit: every item passed the check pass; one that fails now (its
        # Toloker or assignment changed since) is not paid and its share is refunded.
        bonus_ids = do_pay_reserved(session, operation.requester_id, checked.drafts, operation.id)
        paid_micros += sum(d.amount_micros for d in checked.drafts)
        details["success_count"] += len(bonus_ids)
        details["failed_count"] += len(checked.errors)
    if errors or chunk.errors:
        repository.set_chunk_errors(session, operation.id, chunk.first_item, {str(i): e for i, e in errors.items()})
    operation.cursor += len(chunk.items)
    operation.details = details
    if operation.cursor >= details["total_count"]:
        _end_phase(session, operation, payload, valid_micros)
    else:
        operation.progress = _progress(operation, skip_invalid)
        _queue(session, operation, {**payload, "paid_micros": paid_micros}, valid_micros)


def _prepare(session: Session, key: Key) -> Prepared | None:
    """The chunk at the key's item, decoded and shape-checked here (nothing was prepared
    ahead for this step); None past the stored input."""
    found = repository.get_chunk_text(session, key.operation_id, key.first_item)
    return prepare(key, *found) if found is not None else None


def _look_ahead(session: Session, key: Key, chunk: Chunk, total: int) -> None:
    """Start preparing the next chunk of this pass while this step's payment is written."""
    following = chunk.first_item + len(chunk.items)
    if following < total and (found := repository.get_chunk_text(session, key.operation_id, following)):
        LOOKAHEAD.start(replace(key, first_item=following), *found)


def _paid_micros(session: Session, operation: Operation, payload: dict[str, Any]) -> int:
    """What the operation paid before this step (carried by the steps; counted once for a
    step queued by an older version)."""
    if "paid_micros" in payload:
        return int(payload["paid_micros"])
    if operation.phase != PHASE_PAY or operation.cursor == 0:
        return 0
    return repository.paid_in_operation(session, operation.requester_id, operation.id)


def _progress(operation: Operation, skip_invalid: bool) -> int:
    done = operation.cursor * 100 // max(1, int(operation.details["total_count"]))
    if skip_invalid:
        return done
    if operation.phase == PHASE_CHECK:
        return done * CHECK_SHARE // 100
    return CHECK_SHARE + done * (100 - CHECK_SHARE) // 100


def _queue(session: Session, operation: Operation, payload: dict[str, Any], valid_micros: int) -> None:
    enqueue(
        session,
        STEP_JOB,
        {**payload, "phase": operation.phase, "cursor": operation.cursor, "valid_micros": valid_micros},
    )


def _end_phase(session: Session, operation: Operation, payload: dict[str, Any], valid_micros: int) -> None:
    rules = rules_of(payload)
    details = dict(operation.details)
    if operation.phase == PHASE_PAY:
        do_settle(session, operation, rules)
        failed = not operation.parameters.get("skip_invalid_items") and details["failed_count"] > 0
        operations.do_finish(session, operation, operations.FAIL if failed else operations.SUCCESS, details)
        return
    if details["not_valid_count"]:
        _fail(
            session,
            operation,
            rules,
            "INVALID_ITEMS",
            "not paid: some items are invalid and skip_invalid_items is false",
        )
        return
    # Reserved at submit; an operation stored before reservations existed reserves now.
    needed = valid_micros + fee_of(valid_micros, rules)
    missing = needed + reference_total(session, operation.requester_id, operation_reference(operation))
    if missing > 0:
        try:
            do_reserve(session, operation, missing, 0, int(details["total_count"]))
        except NotEnoughBalance:
            _fail(
                session, operation, rules, "NOT_ENOUGH_BALANCE", "not paid: the balance does not cover the whole batch"
            )
            return
    operation.phase, operation.cursor, operation.progress = PHASE_PAY, 0, CHECK_SHARE
    _queue(session, operation, {**payload, "paid_micros": 0}, valid_micros)


def _fail(session: Session, operation: Operation, rules: AmountRules, code: str, message: str) -> None:
    fail_batch(session, operation, code, message)
    do_settle(session, operation, rules)


def do_fail_operation(session: Session, payload: dict[str, Any], reason: str) -> None:
    """A step the worker gave up on: its operation ends FAIL with the reason, and what it
    reserved and did not pay is refunded. What earlier steps paid stays paid."""
    operation = operations.lock_operation(session, int(payload["operation"]))
    if operation is None or operation.status in operations.TERMINAL:
        return
    operations.do_start(operation)
    _fail(
        session,
        operation,
        rules_of(payload),
        "OPERATION_EXECUTION_ERROR",
        f"stopped at item {operation.cursor}: {reason}",
    )


def bonus_operation_log(session: Session, operation: Operation) -> Iterator[dict[str, Any]]:
    """One entry per item handled so far: `input` as sent (with `__item_idx`), `output`
    `{"user_bonus_id": "<id>"}` or the item's field errors. Yielded chunk by chunk (one
    chunk's items and bonus ids in memory at a time)."""
    if operation.result is not None:
        yield from _sync_log(session, operation)
        return
    failure = operation.details.get("error") or {"code": "NOT_ISSUED", "message": "not paid"}
    unpaid = {"item": field_error(failure["code"], failure["message"])}
    finished = operation.status in operations.TERMINAL
    for chunk in repository.iter_chunks(session, operation.id):
        end = chunk.first_item + len(chunk.items)
        paid = repository.bonus_ids_of_items(session, operation.requester_id, operation.id, chunk.first_item, end)
        for index, item in enumerate(chunk.items, start=chunk.first_item):
            bonus_id = paid.get(index)
            if bonus_id is not None:
                yield _entry(True, item, {"user_bonus_id": format_id(bonus_id)})
            elif str(index) in chunk.errors:
                yield _entry(False, item, chunk.errors[str(index)])
            elif finished:
                yield _entry(False, item, unpaid)


_PERSIST_ERRORS = frozenset({"NOT_ENOUGH_BALANCE", "OPERATION_EXECUTION_ERROR"})


def _entry(success: bool, item: Any, output: dict[str, Any]) -> dict[str, Any]:
    # Toloka's step names: the item failed validation, or it was valid and paying it failed.
    persisted = success or any(
        isinstance(error, dict) and error.get("code") in _PERSIST_ERRORS for error in output.values()
    )
    kind = "USER_BONUS_PERSIST" if persisted else "USER_BONUS_VALIDATE"
    return {"type": kind, "success": success, "input": item, "output": output}


def _sync_log(session: Session, operation: Operation) -> list[dict[str, Any]]:
    """A synchronous request's log (at most `bonus_sync_max_items` entries)."""
    assert operation.result is not None
    result = loads(operation.result.encode("utf-8"))
    entries: dict[int, dict[str, Any]] = {}
    for bonus in repository.bonuses_of_operation(session, operation.requester_id, operation.id):
        assert bonus.item_idx is not None
        entries[bonus.item_idx] = _entry(True, bonus_input(bonus), {"user_bonus_id": format_id(bonus.id)})
    for index, errors in result["validation_errors"].items():
        entries[int(index)] = _entry(False, result["inputs"].get(index), errors)
    return [entries[i] for i in sorted(entries)]
