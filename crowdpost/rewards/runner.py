"""Running a `USER_BONUS.BATCH_CREATE` operation, one stored chunk per step, and its log.

Each step is one job and one transaction: it locks the operation, checks that the
job still matches the operation's (phase, cursor) -- a duplicate of a step that
already committed does nothing -- handles the chunk at the cursor, advances the
cursor and queues the next step, all in that transaction. A crash anywhere loses at
most the uncommitted step, which then runs again; the unique (operation, item) key
on bonuses makes paying an item twice impossible even if all of that failed.

`skip_invalid_items=false` runs two passes: CHECK (validate everything, pay nothing,
then make sure the balance covers the total) and PAY. `true` runs PAY only, skipping
invalid items and items the balance no longer covers.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from crowdpost.errors import field_error
from crowdpost.kit.ids import format_id
from crowdpost.kit.jsonwire import loads
from crowdpost.models import Operation
from crowdpost.operations import service as operations
from crowdpost.rewards import repository
from crowdpost.rewards.service import (
    BONUS_OPERATION,
    PHASE_CHECK,
    PHASE_PAY,
    STEP_JOB,
    check_batch,
    do_pay,
    fee_of,
    rules_of,
)
from crowdpost.rewards.views import bonus_input
from crowdpost.worker.registry import enqueue

# Share of the progress bar the CHECK pass takes when there is one.
_CHECK_SHARE = 25


def do_operation_step(session: Session, payload: dict[str, Any]) -> None:
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
    chunk = repository.get_chunk(session, operation.id, operation.cursor)
    if chunk is None:
        raise RuntimeError(f"operation {operation.public_id}: no input at item {operation.cursor}")
    rules = rules_of(payload)
    skip_invalid = bool(operation.parameters.get("skip_invalid_items"))
    checked = check_batch(
        session,
        operation.requester_id,
        enumerate(chunk.items, start=chunk.first_item),
        rules,
        payload.get("assignment_id"),
    )
    errors = dict(checked.errors)
    if operation.phase == PHASE_CHECK or skip_invalid:
        details["valid_count"] += len(checked.drafts)
        details["not_valid_count"] += len(checked.errors)
    if operation.phase == PHASE_CHECK:
        valid_micros += sum(d.amount_micros for d in checked.drafts)
    else:
        paid = do_pay(
            session,
            operation.requester_id,
            checked.drafts,
            rules,
            partial=True,
            operation_id=operation.id,
            reference=f"operation:{operation.public_id}",
        )
        errors.update(paid.rejected)
        details["success_count"] += len(paid.bonus_ids)
        details["failed_count"] += len(paid.rejected) + (0 if skip_invalid else len(checked.errors))
    if errors or chunk.errors:
        repository.set_chunk_errors(session, operation.id, chunk.first_item, {str(i): e for i, e in errors.items()})
    operation.cursor += len(chunk.items)
    operation.details = details
    if operation.cursor >= details["total_count"]:
        _end_phase(session, operation, payload, valid_micros)
    else:
        operation.progress = _progress(operation, skip_invalid)
        _queue(session, operation, payload, valid_micros)


def _progress(operation: Operation, skip_invalid: bool) -> int:
    done = operation.cursor * 100 // max(1, int(operation.details["total_count"]))
    if skip_invalid:
        return done
    if operation.phase == PHASE_CHECK:
        return done * _CHECK_SHARE // 100
    return _CHECK_SHARE + done * (100 - _CHECK_SHARE) // 100


def _queue(session: Session, operation: Operation, payload: dict[str, Any], valid_micros: int) -> None:
    enqueue(
        session,
        STEP_JOB,
        {**payload, "phase": operation.phase, "cursor": operation.cursor, "valid_micros": valid_micros},
    )


def _end_phase(session: Session, operation: Operation, payload: dict[str, Any], valid_micros: int) -> None:
    details = dict(operation.details)
    if operation.phase == PHASE_PAY:
        failed = not operation.parameters.get("skip_invalid_items") and details["failed_count"] > 0
        operations.do_finish(session, operation, operations.FAIL if failed else operations.SUCCESS, details)
        return
    needed = valid_micros + fee_of(valid_micros, rules_of(payload))
    if details["not_valid_count"]:
        reason = "INVALID_ITEMS", "not paid: some items are invalid and skip_invalid_items is false"
    elif repository.lock_balance(session, operation.requester_id) < needed:
        reason = "NOT_ENOUGH_BALANCE", "not paid: the balance does not cover the whole batch"
    else:
        operation.phase, operation.cursor, operation.progress = PHASE_PAY, 0, _CHECK_SHARE
        _queue(session, operation, payload, valid_micros)
        return
    details["failed_count"] = details["valid_count"]
    details["error"] = {"code": reason[0], "message": reason[1]}
    operations.do_finish(session, operation, operations.FAIL, details)


@operations.log_renderer(BONUS_OPERATION)
def bonus_operation_log(session: Session, operation: Operation) -> list[dict[str, Any]]:
    """One entry per item handled so far: `input` as sent (with `__item_idx`), `output`
    `{"user_bonus_id": "<id>"}` or the item's field errors."""
    if operation.result is not None:
        return _sync_log(session, operation)
    paid = repository.bonus_ids_of_operation(session, operation.id)
    failure = operation.details.get("error") or {"code": "NOT_ISSUED", "message": "not paid"}
    unpaid = {"item": field_error(failure["code"], failure["message"])}
    finished = operation.status in operations.TERMINAL
    log: list[dict[str, Any]] = []
    for chunk in repository.chunks_of(session, operation.id):
        for index, item in enumerate(chunk.items, start=chunk.first_item):
            bonus_id = paid.get(index)
            if bonus_id is not None:
                log.append(_entry(True, item, {"user_bonus_id": format_id(bonus_id)}))
            elif str(index) in chunk.errors:
                log.append(_entry(False, item, chunk.errors[str(index)]))
            elif finished:
                log.append(_entry(False, item, unpaid))
    return log


def _entry(success: bool, item: Any, output: dict[str, Any]) -> dict[str, Any]:
    # Toloka's step names: the item failed validation, or it was valid and paying it failed.
    persisted = success or output.get("amount", {}).get("code") == "NOT_ENOUGH_BALANCE"
    kind = "USER_BONUS_PERSIST" if persisted else "USER_BONUS_VALIDATE"
    return {"type": kind, "success": success, "input": item, "output": output}


def _sync_log(session: Session, operation: Operation) -> list[dict[str, Any]]:
    assert operation.result is not None
    result = loads(operation.result.encode("utf-8"))
    entries: dict[int, dict[str, Any]] = {}
    for bonus in repository.bonuses_of_operation(session, operation.requester_id, operation.id):
        assert bonus.item_idx is not None
        entries[bonus.item_idx] = _entry(True, bonus_input(bonus), {"user_bonus_id": format_id(bonus.id)})
    for index, errors in result["validation_errors"].items():
        entries[int(index)] = _entry(False, result["inputs"].get(index), errors)
    return [entries[i] for i in sorted(entries)]
