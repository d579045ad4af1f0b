"""E-mail rows written with their cause: one INSERT ... SELECT per event, whatever its size.

MessagesReceived   "NEW_MESSAGE" per recipient whose address is set (verified, for a
                   requester) and whose switch is on; ref_id = the message id
OperationFinished  "OPERATION_FINISHED" to the requester when that switch is on
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from crowdpost.email import repository
from crowdpost.email.repository import EMAIL as EMAIL
from crowdpost.email.repository import NEW_MESSAGE as NEW_MESSAGE
from crowdpost.email.repository import OPERATION_FINISHED as OPERATION_FINISHED
from crowdpost.events import MessagesReceived, OperationFinished
from crowdpost.outbox.service import enqueue_select

COLUMNS = repository.OUTBOX_COLUMNS


def on_messages_received(session: Session, event: MessagesReceived) -> None:
    rows = repository.new_message_rows(event.side, event.first_message_id, event.last_message_id)
    enqueue_select(session, rows, COLUMNS)


def on_operation_finished(session: Session, event: OperationFinished) -> None:
    payload = {"operation_id": event.operation_id, "type": event.operation_type, "status": event.status}
    enqueue_select(session, repository.operation_finished_rows(event.requester_id, payload), COLUMNS)
