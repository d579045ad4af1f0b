"""Job handlers of the rewards domain (registered by `crowdpost.wiring`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from crowdpost.rewards.runner import do_fail_operation, do_operation_step


def run_bonus_operation_step(session: Session, payload: dict[str, Any]) -> None:
    """One chunk of an async bonus operation; queues the next step itself."""
    do_operation_step(session, payload)


def end_bonus_operation(session: Session, payload: dict[str, Any], reason: str) -> None:
    """The worker gave up on a step: the operation ends FAIL with the reason, unpaid
    reservation refunded."""
    do_fail_operation(session, payload, reason)
