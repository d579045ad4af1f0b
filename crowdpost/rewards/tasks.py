"""Job handlers of the rewards domain (listed in `worker.loop.HANDLER_MODULES`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from crowdpost.rewards.runner import do_fail_operation, do_operation_step
from crowdpost.rewards.service import STEP_JOB
from crowdpost.worker.registry import job_handler, on_give_up


@job_handler(STEP_JOB)
def run_bonus_operation_step(session: Session, payload: dict[str, Any]) -> None:
    """One chunk of an async bonus operation; queues the next step itself."""
    do_operation_step(session, payload)


@on_give_up(STEP_JOB)
def end_bonus_operation(session: Session, payload: dict[str, Any], reason: str) -> None:
    """The worker gave up on a step: the operation ends FAIL with the reason, unpaid
    reservation refunded."""
    do_fail_operation(session, payload, reason)
