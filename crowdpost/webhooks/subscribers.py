"""Domain events -> webhook outbox rows, one `INSERT ... SELECT` per event, in the cause's
transaction: a row for every matching, unpaused subscription (`ordering_key` keeps each
subscription's events in order; `ref_id` is the subscription).

The payload is the event body without what differs per delivery: the channel adds `uuid`
(from the outbox row), `webhook_subscription_id`, `type` and `event_time` when it sends.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from crowdpost import events
from crowdpost.kit.ids import format_id
from crowdpost.webhooks import repository

CHANNEL = "webhook"
# crowdpost says ACCEPTED where Toloka's webhooks say APPROVED.
_REVIEWED = {"ACCEPTED": "ASSIGNMENT_APPROVED", "APPROVED": "ASSIGNMENT_APPROVED", "REJECTED": "ASSIGNMENT_REJECTED"}


def on_pool_status_changed(session: Session, event: events.PoolStatusChanged) -> None:
    if event.new_status != "CLOSED":
        return
    payload: dict[str, Any] = {"project_id": format_id(event.project_id), "pool_id": format_id(event.pool_id)}
    if event.reason:
        payload["close_reason"] = event.reason
    repository.enqueue_for_subscriptions(
        session, event.requester_id, "POOL_CLOSED", payload=payload, pool_id=event.pool_id
    )


def on_assignment_reviewed(session: Session, event: events.AssignmentReviewed) -> None:
    event_type = _REVIEWED.get(event.status)
    if event_type is None:
        return
    repository.enqueue_for_assignments(
        session, event.requester_id, event_type, first_id=event.assignment_id, last_id=event.assignment_id
    )


def on_assignments_imported(session: Session, event: events.AssignmentsImported) -> None:
    """Each imported assignment as the event of its status (ACTIVE -> ASSIGNMENT_CREATED,
    SUBMITTED -> ASSIGNMENT_SUBMITTED, ACCEPTED -> ASSIGNMENT_APPROVED, ...)."""
    repository.enqueue_for_imported_assignments(session, event.first_assignment_id, event.last_assignment_id)


def on_operation_finished(session: Session, event: events.OperationFinished) -> None:
    payload = {"operation_id": event.operation_id, "operation_type": event.operation_type, "status": event.status}
    repository.enqueue_for_subscriptions(session, event.requester_id, "OPERATION_FINISHED", payload=payload)


def on_messages_received(session: Session, event: events.MessagesReceived) -> None:
    if event.side != "REQUESTER":
        return
    repository.enqueue_for_messages(session, event.first_message_id, event.last_message_id)
