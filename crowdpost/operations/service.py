"""Operation records: claim an id, start, report progress, finish, read back. No HTTP, no commit.

Domains that run work in the background (rewards today) create an operation with
`do_claim`, keep `progress`/`details` current from their job, and call `do_finish`,
which publishes `OperationFinished`. Each operation type may have a log renderer for
`GET /operations/{id}/log` (`crowdpost.wiring` registers them at startup): an iterator
of entries, read as it is consumed, so the endpoint can stream a log of any length in
bounded memory.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from sqlalchemy.orm import Session

from crowdpost.errors import ApiError, DoesNotExist, ValidationFailed, field_error
from crowdpost.events import OperationFinished, publish
from crowdpost.kit.pagination import ListParams
from crowdpost.kit.timefmt import utcnow
from crowdpost.models import Operation
from crowdpost.operations import repository
from crowdpost.operations.repository import OperationFilters as OperationFilters
from crowdpost.operations.views import operation_view as operation_view

PENDING, RUNNING, SUCCESS, FAIL = "PENDING", "RUNNING", "SUCCESS", "FAIL"
TERMINAL = frozenset({SUCCESS, FAIL})
# Path-safe, as toloka-kit puts the id straight into URLs (it sends UUIDs).
_PUBLIC_ID = re.compile(r"^[A-Za-z0-9._~-]{1,64}$")

LogRenderer = Callable[[Session, Operation], Iterable[dict[str, Any]]]
_LOG_RENDERERS: dict[str, LogRenderer] = {}


class OperationAlreadyExists(ApiError):
    """toloka-kit answers this code by fetching the existing operation and carrying on."""

    status_code = 409
    code = "OPERATION_ALREADY_EXISTS"
    message = "An operation with this id already exists"


def register_log_renderer(operation_type: str, renderer: LogRenderer) -> None:
    """Names the log renderer of an operation type (`crowdpost.wiring` does, at startup)."""
    _LOG_RENDERERS[operation_type] = renderer


def has_log_renderer(operation_type: str) -> bool:
    return operation_type in _LOG_RENDERERS


def check_public_id(value: str | None) -> str:
    """The client's operation_id, or a fresh UUID when none was given."""
    if value is None:
        return str(uuid.uuid4())
    if not _PUBLIC_ID.match(value):
        raise ValidationFailed(
            {
                "operation_id": field_error(
                    "PATTERN_MISMATCH", "operation_id must be 1-64 letters, digits, '.', '_', '~' or '-'", value
                )
            }
        )
    return value


def do_claim(
    session: Session,
    requester_id: int,
    public_id: str,
    operation_type: str,
    *,
    status: str = PENDING,
    parameters: dict[str, Any] | None = None,
    details: dict[str, Any] | None = None,
) -> tuple[Operation, bool]:
    """Creates the operation, or finds the one that already has this id: (operation, created).

    The unique key decides (`repository.insert_if_new`), so concurrent requests with one
    id create it once.
    """
    now = utcnow()
    created = repository.insert_if_new(
        session,
        requester_id=requester_id,
        public_id=public_id,
        type=operation_type,
        status=status,
        submitted=now,
        started=now if status == RUNNING else None,
        progress=0,
        parameters=parameters or {},
        details=details or {},
        cursor=0,
    )
    if created is None:
        return get_operation(session, requester_id, public_id), False
    return created, True


def get_operation(session: Session, requester_id: int, public_id: str) -> Operation:
    operation = repository.find_operation(session, requester_id, public_id)
    if operation is None:
        raise DoesNotExist(f"Operation {public_id!r} does not exist")
    return operation


def lock_operation(session: Session, operation_id: int) -> Operation | None:
    """The operation's row, locked until commit (for a job that advances it)."""
    return repository.lock_operation(session, operation_id)


def do_start(operation: Operation) -> None:
    if operation.status == PENDING:
        operation.status = RUNNING
        operation.started = utcnow()


def do_finish(
    session: Session,
    operation: Operation,
    status: str,
    details: dict[str, Any],
    *,
    result: str | None = None,
    notify: bool = True,
) -> None:
    """Marks the operation done and, unless `notify` is false (a synchronous request that
    merely kept its answer for retries), tells subscribers in the same transaction."""
    now = utcnow()
    operation.status = status
    operation.started = operation.started or now
    operation.finished = now
    operation.progress = 100
    operation.details = details
    operation.phase = None
    if result is not None:
        operation.result = result
    session.flush()
    if not notify:
        return
    publish(
        session,
        OperationFinished(
            requester_id=operation.requester_id,
            operation_id=operation.public_id,
            operation_type=operation.type,
            status=status,
            details=details,
        ),
    )


def list_operations(
    session: Session, requester_id: int, filters: OperationFilters, params: ListParams
) -> tuple[list[Operation], bool]:
    return repository.list_operations(session, requester_id, filters, params)


def operation_log(session: Session, operation: Operation) -> Iterator[dict[str, Any]]:
    """The operation's log entries, in input order, produced as they are read."""
    renderer = _LOG_RENDERERS.get(operation.type)
    if renderer is not None:
        yield from renderer(session, operation)


def get_operation_by_key(session: Session, requester_id: int, operation_key: int) -> Operation | None:
    """The requester's operation with this primary key (None for another requester's)."""
    return repository.get_operation_by_key(session, requester_id, operation_key)
