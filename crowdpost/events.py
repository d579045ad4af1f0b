"""Domain events: how one domain reacts to another inside the same transaction.

A domain `publish`es an event with the session that made the change; subscribers
(e.g. system notifications) run synchronously on that session, so their writes
commit or roll back with the cause. Subscribers must be set-based (no per-row loops
over large sets) and must not commit. `crowdpost.wiring` subscribes them at startup;
nothing subscribes on import.

    PoolStatusChanged      workforce: a pool opened or closed
    OperationFinished      rewards/operations: an async operation reached SUCCESS or FAIL
    BalanceChanged         rewards: a balance went down (subscribers check thresholds)
    BonusesPaid            rewards: bonuses with ids in [first_id, last_id] were paid
    AssignmentReviewed     workforce: an assignment was accepted or rejected
    MessagesReceived       messaging: messages [first..last] arrived for the other side
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.orm import Session

E = TypeVar("E")
Subscriber = Callable[[Session, Any], None]

_subscribers: dict[type, list[Subscriber]] = {}


@dataclass(frozen=True)
class PoolStatusChanged:
    requester_id: int
    pool_id: int
    project_id: int
    old_status: str
    new_status: str
    reason: str | None = None


@dataclass(frozen=True)
class OperationFinished:
    requester_id: int
    operation_id: str
    operation_type: str
    status: str
    details: dict[str, Any]


@dataclass(frozen=True)
class BalanceChanged:
    requester_id: int
    old_balance_micros: int
    new_balance_micros: int


@dataclass(frozen=True)
class BonusesPaid:
    requester_id: int
    bonus_ids: tuple[int, ...]


@dataclass(frozen=True)
class AssignmentsImported:
    """The operator imported assignments with ids in [first_assignment_id, last_assignment_id]
    (one insert; possibly of several requesters' pools)."""

    first_assignment_id: int
    last_assignment_id: int


@dataclass(frozen=True)
class AssignmentReviewed:
    requester_id: int
    assignment_id: int
    user_id: str
    status: str
    public_comment: str | None


@dataclass(frozen=True)
class MessagesReceived:
    """Messages with ids in [first_message_id, last_message_id], all written by one
    transaction for one kind of arrival, reached recipients on `side`: "REQUESTER" (the
    requesters with `requester_threads` rows of their threads: Toloker replies, appeals,
    administrator messages) or "TOLOKER" (the Tolokers with `toloker_threads` rows: sends,
    bonus messages, requester replies, administrator news). Never published for a party's
    own message. Subscribers join the id range set-based (one INSERT ... SELECT)."""

    side: str
    first_message_id: int
    last_message_id: int


def subscribe(event_type: type[E], fn: Callable[[Session, E], None]) -> None:
    """Adds a subscriber to an event type (once: subscribing it again changes nothing)."""
    subscribers = _subscribers.setdefault(event_type, [])
    if fn not in subscribers:
        subscribers.append(fn)


def unsubscribe(event_type: type, fn: Subscriber) -> None:
    subscribers = _subscribers.get(event_type, [])
    if fn in subscribers:
        subscribers.remove(fn)


def subscribers_of(event_type: type) -> tuple[Subscriber, ...]:
    return tuple(_subscribers.get(event_type, ()))


def publish(session: Session, event: object) -> None:
    for fn in _subscribers.get(type(event), []):
        fn(session, event)
