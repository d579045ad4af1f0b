"""E-mail rows written with their cause: one INSERT ... SELECT per event, whatever its size.

MessagesReceived   "NEW_MESSAGE" per recipient whose address is set (verified, for a
                   requester) and whose switch is on; ref_id = the message id
OperationFinished  "OPERATION_FINISHED" to the requester when that switch is on
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, cast, literal, null, select
from sqlalchemy.orm import Session

from crowdpost.events import MessagesReceived, OperationFinished
from crowdpost.models import Message, OutboxItem, Requester, RequesterThread, Toloker, TolokerThread
from crowdpost.outbox.service import enqueue_select

EMAIL = "email"
NEW_MESSAGE = "NEW_MESSAGE"
OPERATION_FINISHED = "OPERATION_FINISHED"
COLUMNS = ("channel", "kind", "requester_id", "user_id", "ref_id", "ordering_key", "payload")


def _none(column: Any) -> Any:
    # A NULL typed as its outbox column: PostgreSQL will not put an untyped one into bigint/jsonb.
    return cast(null(), column.type)


def _constants(kind: str) -> tuple[Any, Any]:
    return literal(EMAIL).label("channel"), literal(kind).label("kind")


def new_message_rows(event: MessagesReceived) -> Select[Any]:
    """The recipients of messages [first..last] who get them by e-mail, as outbox columns."""
    in_range = Message.id.between(event.first_message_id, event.last_message_id)
    if event.side == "REQUESTER":
        on = Requester.id == RequesterThread.requester_id
        rows = _recipient_rows(RequesterThread, _none(OutboxItem.user_id), Requester, on)
        return rows.where(
            in_range,
            Message.sender_role != "REQUESTER",  # never the requester's own message
            Requester.email.is_not(None),
            Requester.email_verified.is_(True),
            Requester.email_new_message.is_(True),
        )
    rows = _recipient_rows(TolokerThread, TolokerThread.user_id, Toloker, Toloker.id == TolokerThread.user_id)
    return rows.where(
        in_range,
        Message.sender_role != "USER",  # never the Toloker's own message
        Toloker.email.is_not(None),
        Toloker.email_new_message.is_(True),
    )


def _recipient_rows(
    state: type[RequesterThread] | type[TolokerThread], user_id: Any, person: type[Requester] | type[Toloker], on: Any
) -> Select[Any]:
    """A message's outbox rows for one side's participants (`state`: their thread rows, joined
    with `person` `on` their id), before the side's conditions."""
    return (
        select(
            *_constants(NEW_MESSAGE),
            state.requester_id.label("requester_id"),
            user_id.label("user_id"),
            Message.id.label("ref_id"),
            _none(OutboxItem.ordering_key).label("ordering_key"),
            _none(OutboxItem.payload).label("payload"),
        )
        .join(state, state.thread_id == Message.thread_id)
        .join(person, on)
    )


def on_messages_received(session: Session, event: MessagesReceived) -> None:
    enqueue_select(session, new_message_rows(event), COLUMNS)


def on_operation_finished(session: Session, event: OperationFinished) -> None:
    payload = {"operation_id": event.operation_id, "type": event.operation_type, "status": event.status}
    rows = select(
        *_constants(OPERATION_FINISHED),
        Requester.id.label("requester_id"),
        _none(OutboxItem.user_id).label("user_id"),
        _none(OutboxItem.ref_id).label("ref_id"),
        _none(OutboxItem.ordering_key).label("ordering_key"),
        literal(payload, OutboxItem.payload.type).label("payload"),
    ).where(
        Requester.id == event.requester_id,
        Requester.email.is_not(None),
        Requester.email_verified.is_(True),
        Requester.email_operation_finished.is_(True),
    )
    enqueue_select(session, rows, COLUMNS)
