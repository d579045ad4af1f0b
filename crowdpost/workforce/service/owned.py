"""Looking up a requester's own objects by public id, and checking a Toloker worked for them."""

from __future__ import annotations

from typing import Protocol, TypeVar

from sqlalchemy.orm import Session

from crowdpost.errors import DoesNotExist, ValidationFailed, field_error
from crowdpost.kit.ids import load_by_id
from crowdpost.workforce.repository import owned as repository


class _Owned(Protocol):
    requester_id: int


T = TypeVar("T", bound=_Owned)


def get_referenced(session: Session, model: type[T], requester_id: int, public_id: str | None, field: str) -> T:
    """The same lookup for an id inside a request body: a 400 naming `field` instead."""
    try:
        return get_owned(session, model, requester_id, public_id or "", field)
    except DoesNotExist as exc:
        problem = field_error(
            "ENTITY_DOES_NOT_EXIST", f"no {field.removesuffix('_id')} of yours has this id", public_id
        )
        raise ValidationFailed({field: problem}) from exc


def check_worker(session: Session, requester_id: int, user_id: str, field: str = "user_id") -> None:
    """The Toloker started at least one of this requester's tasks; otherwise one 400 that
    reads the same for an unknown id and for a Toloker who never worked for them, so
    the answer reveals nothing about other requesters' Tolokers (as bonuses do)."""
    if not repository.started_count(session, requester_id, user_id):
        raise ValidationFailed(
            {field: field_error("ENTITY_DOES_NOT_EXIST", "no such Toloker among those who started your tasks", user_id)}
        )


def get_owned(session: Session, model: type[T], requester_id: int, public_id: str, what: str) -> T:
    """The row behind `public_id` if this requester owns it; otherwise 404, also for
    another requester's row, so ids never reveal what exists."""
    missing = f"No {what} {public_id!r}"
    row: T = load_by_id(public_id, lambda n: repository.owned_row(session, model, requester_id, n), missing)
    if row.requester_id != requester_id:
        raise DoesNotExist(missing)
    return row
