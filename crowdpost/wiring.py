"""Everything that reacts to something, named in one place and registered at startup.

Nothing registers itself on import. `wire_domains()` registers every job handler (with its
give-up handler), every event subscriber and every operation-log renderer; the app
(`create_app`), the worker process (`crowdpost worker`) and the CLI call it once before
they run jobs or publish events. Calling it again changes nothing.

    job STEP_JOB                 rewards.runner: one chunk of an async bonus operation
    events                       notifications.subscribers: SYSTEM and bonus threads
    events                       email.subscribers: NEW_MESSAGE / OPERATION_FINISHED e-mail rows
    log USER_BONUS.BATCH_CREATE  rewards.runner.bonus_operation_log
    outbox channels              OUTBOX_CHANNELS (e-mail, webhooks)
"""

from __future__ import annotations

from typing import Any

from crowdpost import events
from crowdpost.email import channel as email_channel
from crowdpost.email import subscribers as email_subscribers
from crowdpost.notifications import subscribers
from crowdpost.operations import service as operations
from crowdpost.operations.service import LogRenderer
from crowdpost.outbox.channels import DeliverBatch, NotReady, register_channel
from crowdpost.rewards import runner
from crowdpost.rewards.service import BONUS_OPERATION, STEP_JOB
from crowdpost.webhooks import channel as webhook_channel
from crowdpost.webhooks import subscribers as webhook_subscribers
from crowdpost.worker.registry import GiveUpHandler, Handler, register_job

# kind -> (handler, give-up handler)
JOBS: dict[str, tuple[Handler, GiveUpHandler | None]] = {
    STEP_JOB: (runner.do_operation_step, runner.do_fail_operation),
}

# event type -> its subscribers, in the order they run
SUBSCRIBERS: dict[type, tuple[Any, ...]] = {
    events.PoolStatusChanged: (subscribers.on_pool_status_changed, webhook_subscribers.on_pool_status_changed),
    events.OperationFinished: (
        subscribers.on_operation_finished,
        email_subscribers.on_operation_finished,
        webhook_subscribers.on_operation_finished,
    ),
    events.BalanceChanged: (subscribers.on_balance_changed,),
    events.BonusesPaid: (subscribers.on_bonuses_paid,),
    events.AssignmentReviewed: (subscribers.on_assignment_reviewed, webhook_subscribers.on_assignment_reviewed),
    events.AssignmentsImported: (webhook_subscribers.on_assignments_imported,),
    events.MessagesReceived: (email_subscribers.on_messages_received, webhook_subscribers.on_messages_received),
}

# operation type -> what `GET /operations/{id}/log` streams
LOG_RENDERERS: dict[str, LogRenderer] = {
    BONUS_OPERATION: runner.bonus_operation_log,
}


# outbox channel -> (deliver a batch, rows per batch, why it cannot send now or None)
OUTBOX_CHANNELS: dict[str, tuple[DeliverBatch, int, NotReady | None]] = {
    email_channel.CHANNEL: (email_channel.deliver, email_channel.BATCH_SIZE, email_channel.not_ready),
    webhook_channel.CHANNEL: (webhook_channel.deliver, webhook_channel.BATCH_SIZE, webhook_channel.not_ready),
}


def wire_domains() -> None:
    """Registers every job handler, subscriber and log renderer (idempotent)."""
    for kind, (handler, on_give_up) in JOBS.items():
        register_job(kind, handler, on_give_up)
    for event_type, functions in SUBSCRIBERS.items():
        for fn in functions:
            events.subscribe(event_type, fn)
    for operation_type, renderer in LOG_RENDERERS.items():
        operations.register_log_renderer(operation_type, renderer)
    for name, (deliver, batch_size, not_ready) in OUTBOX_CHANNELS.items():
        register_channel(name, deliver, batch_size=batch_size, not_ready=not_ready)
