"""Job kinds and their handlers. `crowdpost.wiring` registers the handlers at startup;
`enqueue` writes a job row in the caller's transaction, so a job exists exactly when its
cause committed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from crowdpost.kit.timefmt import utcnow
from crowdpost.worker import repository

# A handler gets a fresh session (its own transaction) and the job payload. It must be
# idempotent: after a crash the same job runs again.
Handler = Callable[[Session, dict[str, Any]], None]

# Called, in the transaction that marks the job FAILED, when the worker gives up on a job
# (a data error, or too many attempts): the payload and a one-line reason. A domain ends
# whatever the job was doing (an operation: FAIL with the reason) so nothing stays RUNNING.
GiveUpHandler = Callable[[Session, dict[str, Any], str], None]

_HANDLERS: dict[str, Handler] = {}
_GIVE_UP_HANDLERS: dict[str, GiveUpHandler] = {}


def register_job(kind: str, handler: Handler, on_give_up: GiveUpHandler | None = None) -> None:
    """Names the handler (and give-up handler) of a job kind; registering again replaces it."""
    _HANDLERS[kind] = handler
    if on_give_up is None:
        _GIVE_UP_HANDLERS.pop(kind, None)
    else:
        _GIVE_UP_HANDLERS[kind] = on_give_up


def unregister_job(kind: str) -> None:
    _HANDLERS.pop(kind, None)
    _GIVE_UP_HANDLERS.pop(kind, None)


def registered_kinds() -> frozenset[str]:
    return frozenset(_HANDLERS)


def handler_for(kind: str) -> Handler | None:
    return _HANDLERS.get(kind)


def give_up_handler_for(kind: str) -> GiveUpHandler | None:
    return _GIVE_UP_HANDLERS.get(kind)


def enqueue(session: Session, kind: str, payload: dict[str, Any], run_after: datetime | None = None) -> None:
    now = utcnow()
    repository.insert_job(session, kind, payload, run_after or now, now)
