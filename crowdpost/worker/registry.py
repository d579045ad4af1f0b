"""Job kinds and their handlers. Domains register handlers; `enqueue` writes a job row
in the caller's transaction, so a job exists exactly when its cause committed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from crowdpost.kit.timefmt import utcnow
from crowdpost.models import Job

# A handler gets a fresh session (its own transaction) and the job payload. It must be
# idempotent: after a crash the same job runs again.
Handler = Callable[[Session, dict[str, Any]], None]

_HANDLERS: dict[str, Handler] = {}

# Called, in the transaction that marks the job FAILED, when the worker gives up on a job
# (a data error, or too many attempts): the payload and a one-line reason. A domain ends
# whatever the job was doing (an operation: FAIL with the reason) so nothing stays RUNNING.
GiveUpHandler = Callable[[Session, dict[str, Any], str], None]
_GIVE_UP_HANDLERS: dict[str, GiveUpHandler] = {}


def job_handler(kind: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        _HANDLERS[kind] = fn
        return fn

    return register


def handler_for(kind: str) -> Handler | None:
    return _HANDLERS.get(kind)


def on_give_up(kind: str) -> Callable[[GiveUpHandler], GiveUpHandler]:
    def register(fn: GiveUpHandler) -> GiveUpHandler:
        _GIVE_UP_HANDLERS[kind] = fn
        return fn

    return register


def give_up_handler_for(kind: str) -> GiveUpHandler | None:
    return _GIVE_UP_HANDLERS.get(kind)


def enqueue(session: Session, kind: str, payload: dict[str, Any], run_after: datetime | None = None) -> None:
    now = utcnow()
    session.execute(
        insert(Job).values(kind=kind, payload=payload, status="QUEUED", run_after=run_after or now, created=now)
    )
