"""All SQL of e-mail settings: the switches and addresses of requesters and Tolokers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crowdpost.models import Requester, Toloker

# The switch column of each event, per audience.
REQUESTER_SWITCHES = {"NEW_MESSAGE": "email_new_message", "OPERATION_FINISHED": "email_operation_finished"}
TOLOKER_SWITCHES = {"NEW_MESSAGE": "email_new_message"}


def requester_settings(session: Session, requester_id: int, *, lock: bool = False) -> Any:
    stmt = select(
        Requester.email, Requester.email_verified, Requester.email_new_message, Requester.email_operation_finished
    ).where(Requester.id == requester_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.execute(stmt).one_or_none()


def update_requester(session: Session, requester_id: int, values: dict[str, Any]) -> None:
    if values:
        session.execute(update(Requester).where(Requester.id == requester_id).values(**values))


def confirm_address(session: Session, requester_id: int, email: str) -> bool:
    """Marks the address verified if it is still the requester's; whether it was."""
    done = session.execute(
        update(Requester)
        .where(Requester.id == requester_id, Requester.email == email)
        .values(email_verified=True)
        .returning(Requester.id)
    ).first()
    return done is not None


def toloker_settings(session: Session, toloker_id: str) -> Any:
    return session.execute(
        select(Toloker.email, Toloker.email_new_message).where(Toloker.id == toloker_id)
    ).one_or_none()


def update_toloker(session: Session, toloker_id: str, values: dict[str, Any]) -> bool:
    done = session.execute(
        update(Toloker).where(Toloker.id == toloker_id).values(**values).returning(Toloker.id)
    ).first()
    return done is not None


def update_requester_switch(session: Session, requester_id: int, column: str) -> bool:
    done = session.execute(
        update(Requester).where(Requester.id == requester_id).values({column: False}).returning(Requester.id)
    ).first()
    return done is not None
