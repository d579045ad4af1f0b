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

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from crowdpost.models import (
    Message,
    MessageThread,
    Operation,
    Requester,
    RequesterThread,
    Toloker,
    TolokerLanguage,
    TolokerThread,
)


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
        stmt = select(RequesterThread.requester_id, RequesterThread.thread_id).where(
            RequesterThread.requester_id.in_(wanted.requester_ids), RequesterThread.thread_id.in_(thread_ids)
        )
        facts.requester_threads = {(r, t) for r, t in session.execute(stmt)}
    if thread_ids and wanted.user_ids:
        stmt2 = select(TolokerThread.user_id, TolokerThread.thread_id).where(
            TolokerThread.user_id.in_(wanted.user_ids), TolokerThread.thread_id.in_(thread_ids)
        )
        facts.toloker_threads = {(u, t) for u, t in session.execute(stmt2)}
    facts.operations = _operations(session, wanted.operations)
    return facts


def _messages(session: Session, ids: Iterable[int]) -> dict[int, MessageFacts]:
    ids = list(ids)
    if not ids:
        return {}
    stmt = (
        select(
            Message.id,
            Message.thread_id,
            MessageThread.kind,
            MessageThread.requester_id,
            MessageThread.topic,
            Message.text,
            Message.sender_role,
            Message.sender_id,
            Message.created,
        )
        .join(MessageThread, MessageThread.id == Message.thread_id)
        .where(Message.id.in_(ids))
    )
    return {row[0]: MessageFacts(*row) for row in session.execute(stmt)}


def _requesters(session: Session, ids: Iterable[int]) -> dict[int, RequesterFacts]:
    ids = list(ids)
    if not ids:
        return {}
    stmt = select(
        Requester.id,
        Requester.email,
        Requester.email_verified,
        Requester.email_new_message,
        Requester.email_operation_finished,
        Requester.public_name,
    ).where(Requester.id.in_(ids))
    return {row[0]: RequesterFacts(*row) for row in session.execute(stmt)}


def _tolokers(session: Session, ids: Iterable[str]) -> dict[str, TolokerFacts]:
    ids = list(ids)
    if not ids:
        return {}
    languages: dict[str, list[str]] = defaultdict(list)
    stmt = (
        select(TolokerLanguage.user_id, TolokerLanguage.language)
        .where(TolokerLanguage.user_id.in_(ids))
        .order_by(TolokerLanguage.user_id, TolokerLanguage.language)
    )
    for user_id, language in session.execute(stmt):
        languages[user_id].append(language)
    rows = session.execute(select(Toloker.id, Toloker.email, Toloker.email_new_message).where(Toloker.id.in_(ids)))
    return {
        user_id: TolokerFacts(user_id, email, new_message, tuple(languages[user_id]))
        for user_id, email, new_message in rows
    }


def _operations(session: Session, keys: set[tuple[int, str]]) -> dict[tuple[int, str], OperationFacts]:
    if not keys:
        return {}
    stmt = select(
        Operation.requester_id, Operation.public_id, Operation.type, Operation.status, Operation.details
    ).where(tuple_(Operation.requester_id, Operation.public_id).in_(list(keys)))
    return {(row[0], row[1]): OperationFacts(*row) for row in session.execute(stmt)}
