"""System notifications: domain events become SYSTEM threads in the same transaction.

    PoolStatusChanged -> CLOSED     "Pool ... closed" in the requester's notifications
    OperationFinished               "Operation ... finished" with its counts
    BalanceChanged                  "Balance below $5" when the balance crosses the threshold
    BonusesPaid                     each bonus with a message -> a thread to its Toloker
    AssignmentReviewed -> ACCEPTED  a note on the Toloker's appeal thread, if any

`crowdpost.wiring` subscribes these functions at startup (`SUBSCRIBERS` there).
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.orm import Session

from crowdpost.config import get_settings
from crowdpost.events import (
    AssignmentReviewed,
    BalanceChanged,
    BonusesPaid,
    OperationFinished,
    PoolStatusChanged,
)
from crowdpost.kit.ids import format_id
from crowdpost.kit.money import from_micros, to_micros
from crowdpost.messaging import platform

# Counters worth a line in the "operation finished" text, in this order.
_COUNTERS = ("total_count", "valid_count", "not_valid_count", "success_count", "failed_count")


def on_pool_status_changed(session: Session, event: PoolStatusChanged) -> None:
    if event.new_status != "CLOSED" or event.old_status == "CLOSED":
        return
    pool = format_id(event.pool_id)
    reason = f" Reason: {event.reason}." if event.reason else ""
    platform.do_system_thread(
        session,
        event.requester_id,
        {"EN": f"Pool {pool} closed"},
        {"EN": f"Pool {pool} was closed.{reason}"},
        pool_id=event.pool_id,
        project_id=event.project_id,
    )


def operation_text(event: OperationFinished) -> str:
    counts = [f"{name}: {event.details[name]}" for name in _COUNTERS if name in event.details]
    extra = [f"{k}: {v}" for k, v in sorted(event.details.items()) if k not in _COUNTERS and isinstance(v, int)]
    summary = "; ".join(counts + extra)
    return f"Operation {event.operation_id} ({event.operation_type}) finished with status {event.status}." + (
        f" {summary}." if summary else ""
    )


def on_operation_finished(session: Session, event: OperationFinished) -> None:
    platform.do_system_thread(
        session,
        event.requester_id,
        {"EN": f"Operation {event.operation_type} finished: {event.status}"},
        {"EN": operation_text(event)},
    )


def low_balance_threshold_micros() -> int:
    # Events carry no settings; the threshold is process configuration (CROWDPOST_LOW_BALANCE_THRESHOLD).
    return to_micros(Decimal(get_settings().low_balance_threshold))


def on_balance_changed(session: Session, event: BalanceChanged) -> None:
    threshold = low_balance_threshold_micros()
    # Only on the crossing: one notice per fall, not one per payment below the line.
    if not (event.old_balance_micros >= threshold > event.new_balance_micros):
        return
    balance, limit = from_micros(event.new_balance_micros), from_micros(threshold)
    platform.do_system_thread(
        session,
        event.requester_id,
        {"EN": f"Your balance is below ${limit}"},
        {"EN": f"Your balance is ${balance}. Top it up to keep paying bonuses and running pools."},
    )


def on_bonuses_paid(session: Session, event: BonusesPaid) -> None:
    platform.do_bonus_threads(session, event.requester_id, event.bonus_ids)


def on_assignment_reviewed(session: Session, event: AssignmentReviewed) -> None:
    if event.status != "ACCEPTED":
        return
    comment = f" Comment: {event.public_comment}" if event.public_comment else ""
    platform.do_note_on_appeal(
        session,
        event.requester_id,
        event.assignment_id,
        {"EN": f"Your appeal was accepted: assignment {format_id(event.assignment_id)} is now ACCEPTED.{comment}"},
    )
