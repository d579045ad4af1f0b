"""Domain events: how one domain reacts to another inside the same transaction.

A domain `publish`es an event with the session that made the change; subscribers
(e.g. system notifications) run synchronously on that session, so their writes
commit or roll back with the cause. Subscribers must be set-based (no per-row loops
over large sets) and must not commit.

    PoolStatusChanged      workforce: a pool opened or closed
    OperationFinished      rewards/operations: an async operation reached SUCCESS or FAIL
    BalanceChanged         rewards: a balance went down (subscribers check thresholds)
    BonusesPaid            rewards: bonuses with ids in [first_id, last_id] were paid
    AssignmentReviewed     workforce: an assignment was accepted or rejected
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.orm import Session

E = TypeVar("E")
Subscriber = Callable[[Session, Any], None]

# Modules whose import subscribes handlers; loaded on first publish, in any process.
SUBSCRIBER_MODULES: tuple[str, ...] = ("crowdpost.notifications.subscribers",)

_subscribers: dict[type, list[Subscriber]] = {}
_loaded = False


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
class AssignmentReviewed:
    requester_id: int
    assignment_id: int
    user_id: str
    status: str
    public_comment: str | None


def subscribe(event_type: type[E]) -> Callable[[Callable[[Session, E], None]], Callable[[Session, E], None]]:
    def register(fn: Callable[[Session, E], None]) -> Callable[[Session, E], None]:
        _subscribers.setdefault(event_type, []).append(fn)
        return fn

    return register


def publish(session: Session, event: object) -> None:
    global _loaded
    if not _loaded:
        for module in SUBSCRIBER_MODULES:
            importlib.import_module(module)
        _loaded = True
    for fn in _subscribers.get(type(event), []):
        fn(session, event)
