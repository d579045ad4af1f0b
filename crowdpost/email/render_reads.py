"""What rendering a batch of e-mail rows reads, a few IN queries per batch (never one per row).

Every read is keyed by the row's own recipient: a message is rendered for a requester only if
that requester has the thread (`requester_threads`), for a Toloker only if that Toloker has it
(`toloker_threads`), and an operation only within its requester, so a wrong row can never mail
one tenant's text to another's address.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from crowdpost.email import repository
from crowdpost.models import RequesterThread, TolokerThread


@dataclass(frozen=True)
class RequesterFacts:
    id: int
    email: str | None
    verified: bool
    new_message: bool
    operation_finished: bool
    public_name: dict[str, Any]


@dataclass(frozen=True)
class TolokerFacts:
    id: str
    email: str | None
    new_message: bool
    languages: tuple[str, ...]


@dataclass(frozen=True)
class MessageFacts:
    id: int
    thread_id: int
    thread_kind: str
    thread_requester_id: int | None
    topic: dict[str, Any]
    text: dict[str, Any]
    sender_role: str
    sender_id: str
    created: datetime


@dataclass(frozen=True)
class OperationFacts:
    requester_id: int
    public_id: str
    type: str
    status: str
    details: dict[str, Any]


@dataclass
class Facts:
    requesters: dict[int, RequesterFacts] = field(default_factory=dict)
    tolokers: dict[str, TolokerFacts] = field(default_factory=dict)
    messages: dict[int, MessageFacts] = field(default_factory=dict)
    # (requester_id, thread_id) / (user_id, thread_id) pairs that exist
    requester_threads: set[tuple[int, int]] = field(default_factory=set)
    toloker_threads: set[tuple[str, int]] = field(default_factory=set)
    # (requester_id, public operation id)
    operations: dict[tuple[int, str], OperationFacts] = field(default_factory=dict)


@dataclass
class Wanted:
    """What a batch needs, collected from its rows."""

    requester_ids: set[int] = field(default_factory=set)
    user_ids: set[str] = field(default_factory=set)
    message_ids: set[int] = field(default_factory=set)
    operations: set[tuple[int, str]] = field(default_factory=set)


def load(session: Session, wanted: Wanted) -> Facts:
    facts = Facts()
    facts.messages = _messages(session, wanted.message_ids)
    thread_ids = {m.thread_id for m in facts.messages.values()}
    # The sender's name in a Toloker's e-mail is the thread's requester's.
    requester_ids = wanted.requester_ids | {
        m.thread_requester_id for m in facts.messages.values() if m.thread_requester_id is not None
    }
    facts.requesters = _requesters(session, requester_ids)
    facts.tolokers = _tolokers(session, wanted.user_ids)
    if thread_ids and wanted.requester_ids:
        facts.requester_threads = repository.thread_pairs(session, RequesterThread, wanted.requester_ids, thread_ids)
    if thread_ids and wanted.user_ids:
        facts.toloker_threads = repository.thread_pairs(session, TolokerThread, wanted.user_ids, thread_ids)
    facts.operations = _operations(session, wanted.operations)
    return facts


def _messages(session: Session, ids: Iterable[int]) -> dict[int, MessageFacts]:
    ids = list(ids)
    if not ids:
        return {}
    return {row[0]: MessageFacts(*row) for row in repository.messages_to_render(session, ids)}


def _requesters(session: Session, ids: Iterable[int]) -> dict[int, RequesterFacts]:
    ids = list(ids)
    if not ids:
        return {}
    return {row[0]: RequesterFacts(*row) for row in repository.requesters_to_render(session, ids)}


def _tolokers(session: Session, ids: Iterable[str]) -> dict[str, TolokerFacts]:
    ids = list(ids)
    if not ids:
        return {}
    languages: dict[str, list[str]] = defaultdict(list)
    for user_id, language in repository.toloker_languages(session, ids):
        languages[user_id].append(language)
    return {
        user_id: TolokerFacts(user_id, email, new_message, tuple(languages[user_id]))
        for user_id, email, new_message in repository.tolokers_to_render(session, ids)
    }


def _operations(session: Session, keys: set[tuple[int, str]]) -> dict[tuple[int, str], OperationFacts]:
    if not keys:
        return {}
    return {(row[0], row[1]): OperationFacts(*row) for row in repository.operations_to_render(session, keys)}
