"""Message threads: each message stored once, each participant's view stored as its own row.

    message_threads      one conversation: topic, compose details, meta, parent
    messages             one row per message, whatever the number of recipients
    requester_threads    a requester's view of a thread (folder flags), keyed (requester_id, thread_id)
    toloker_threads      a Toloker's view of a thread (folder flags), keyed (user_id, thread_id)
    message_quotas       per requester, per UTC day, per kind of send: how many were made
    recipient_outcomes   per composed thread, one row per addressed Toloker: delivered or why left out

A send to 100,000 Tolokers writes one thread, one message, one requester row and
100,000 `toloker_threads` rows (one INSERT ... SELECT from the audience query), as
zulip's `UserMessage` does. Folder flags are booleans with partial indexes that match
the folder listings (zulip's `zerver_usermessage_unread_message_id`).

Keyword search: SQLite keeps an FTS5 index over `messages.search_text` (external
content, filled by a trigger); PostgreSQL a GIN index on
`to_tsvector('simple', search_text)`. Both are created by migration 0004; since 0018 both
hold only messages with a `search_text` (bonus messages have none).

Keys: the rows written once per recipient or per paid bonus -- a bonus's thread and its
message, `toloker_threads`, `recipient_outcomes` -- carry no foreign keys (migrations 0017,
0018). Each is written by one set-based statement that draws it from rows it has just read
or written (a paid bonus, whose own keys hold the requester and the Toloker; the thread made
in the same statement), so a per-row key check only proved that again: on PostgreSQL the
five checks were half the time of the statement that writes 100,000 bonus threads (4.4 s ->
2.2 s, bench/rewards.py), and under Citus a key from `toloker_threads` (by Toloker) to
`message_threads` (by requester) cannot exist at all. Nothing in crowdpost deletes a thread,
a Toloker or a requester; an operator who does so by hand deletes these rows with them.
`requester_threads` (one per requester and thread) and a thread's `parent_id` keep theirs.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from crowdpost.models.base import Base, BigIntPK, BigIntRef, JSONType, UTCDateTime, created_column

ThreadFK = BigIntRef


def _flag() -> Mapped[bool]:
    return mapped_column(Boolean, default=False, nullable=False)


def _partial(table: str, owner: str, flag: str) -> Index:
    """`(owner, thread_id) WHERE flag`: what a folder listing scans, newest or oldest first."""
    return Index(
        f"ix_{table}_{owner}_{flag}",
        owner,
        "thread_id",
        sqlite_where=text(f"{flag} = 1"),
        postgresql_where=text(flag),
    )


class MessageThread(Base):
    __tablename__ = "message_threads"
    __table_args__ = (
        Index("ix_message_threads_requester_id_kind_created", "requester_id", "kind", "created"),
        # One conversation per Toloker under a composed thread (their replies land there).
        Index("uq_message_threads_parent_id_toloker_id", "parent_id", "toloker_id", unique=True),
        # One appeal per assignment.
        Index(
            "uq_message_threads_appeal_assignment_id",
            "assignment_id",
            unique=True,
            sqlite_where=text("kind = 'APPEAL'"),
            postgresql_where=text("kind = 'APPEAL'"),
        ),
        Index(
            "ix_message_threads_bonus_id",
            "bonus_id",
            sqlite_where=text("bonus_id IS NOT NULL"),
            postgresql_where=text("bonus_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    # NULL only for platform messages to every requester (their rows carry the requester).
    # No foreign key, nor on the Toloker, the message's thread or a Toloker's folder row
    # (migration 0018): see "Keys" in the module docstring.
    requester_id: Mapped[int | None] = mapped_column(BigIntRef)
    # COMPOSE, CONVERSATION, APPEAL, SYSTEM, PLATFORM, BONUS
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    topic: Mapped[dict[str, Any]]
    answerable: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    parent_id: Mapped[int | None] = mapped_column(ThreadFK, ForeignKey("message_threads.id", ondelete="CASCADE"))
    # The one Toloker on the other side of a conversation or appeal.
    toloker_id: Mapped[str | None] = mapped_column(String(64))
    select_type: Mapped[str | None] = mapped_column(String(16))
    recipients_ids: Mapped[list[str] | None] = mapped_column(JSONType)
    recipients_filter: Mapped[dict[str, Any] | None]
    delivered_count: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    banned_count: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    unknown_count: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    # With the two above, a composed thread's `recipient_outcomes` counted once at send time
    # (a view of 50 sent threads must not count 50 x 100,000 rows).
    not_yours_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0", nullable=False)
    capped_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0", nullable=False)
    pool_id: Mapped[int | None] = mapped_column(BigInteger)
    project_id: Mapped[int | None] = mapped_column(BigInteger)
    assignment_id: Mapped[int | None] = mapped_column(BigInteger)
    bonus_id: Mapped[int | None] = mapped_column(BigInteger)
    appeal_deadline: Mapped[datetime | None]
    created: Mapped[datetime] = created_column()


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_thread_id_id", "thread_id", "id"),
        Index("ix_messages_dedupe_key_created", "dedupe_key", "created"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    thread_id: Mapped[int] = mapped_column(ThreadFK)
    # The thread's requester, copied so that messages are found (and sharded) by requester
    # without a join.
    requester_id: Mapped[int | None] = mapped_column(BigIntRef)
    # REQUESTER, USER, ADMINISTRATOR, SYSTEM
    sender_role: Mapped[str] = mapped_column(String(16), nullable=False)
    sender_id: Mapped[str] = mapped_column(String(64), nullable=False)
    # language -> sanitized HTML
    text: Mapped[dict[str, Any]]
    # Topic and text without markup, every language: what keyword search reads.
    search_text: Mapped[str | None] = mapped_column(Text)
    # Hash of sender + request, so a retried compose/reply within 60 s finds its first copy.
    dedupe_key: Mapped[str | None] = mapped_column(String(64))
    created: Mapped[datetime] = created_column()


class RequesterThread(Base):
    __tablename__ = "requester_threads"
    __table_args__ = (
        _partial("requester_threads", "requester_id", "inbox"),
        _partial("requester_threads", "requester_id", "outbox"),
        _partial("requester_threads", "requester_id", "notification"),
        _partial("requester_threads", "requester_id", "important"),
        _partial("requester_threads", "requester_id", "unread"),
        Index("ix_requester_threads_requester_id_toloker_id_thread_id", "requester_id", "toloker_id", "thread_id"),
        Index("ix_requester_threads_requester_id_created", "requester_id", "created"),
        # A participant look-up only. Hash on PostgreSQL (0013): as a btree it offered thread_id
        # order and the planner walked it backwards for a requester's newest-first page.
        Index("ix_requester_threads_thread_id", "thread_id", postgresql_using="hash"),
    )

    requester_id: Mapped[int] = mapped_column(ForeignKey("requesters.id", ondelete="CASCADE"), primary_key=True)
    thread_id: Mapped[int] = mapped_column(
        ThreadFK, ForeignKey("message_threads.id", ondelete="CASCADE"), primary_key=True
    )
    # Copies of the thread's facts the listings filter on, so a page is one index scan.
    toloker_id: Mapped[str | None] = mapped_column(String(64))
    interlocutor_role: Mapped[str] = mapped_column(String(16), nullable=False)
    created: Mapped[datetime] = created_column()
    inbox: Mapped[bool] = _flag()
    outbox: Mapped[bool] = _flag()
    notification: Mapped[bool] = _flag()
    important: Mapped[bool] = _flag()
    unread: Mapped[bool] = _flag()


class TolokerThread(Base):
    __tablename__ = "toloker_threads"
    __table_args__ = (
        _partial("toloker_threads", "user_id", "unread"),
        _partial("toloker_threads", "user_id", "important"),
        Index("ix_toloker_threads_thread_id", "thread_id"),
    )

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    thread_id: Mapped[int] = mapped_column(ThreadFK, primary_key=True)
    requester_id: Mapped[int | None] = mapped_column(BigInteger)
    created: Mapped[datetime] = created_column()
    inbox: Mapped[bool] = _flag()
    outbox: Mapped[bool] = _flag()
    notification: Mapped[bool] = _flag()
    important: Mapped[bool] = _flag()
    unread: Mapped[bool] = _flag()
    # When the Toloker first read the thread (NULL: never). Set once by the UPDATE that clears
    # `unread` (`repository.set_flags`, `mark_all_read`) and kept when the thread is unread again
    # (marked unread, or a new message from the requester): "read" in a send's outcomes means
    # the Toloker has seen the message, which a later flag change does not undo.
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RecipientOutcome(Base):
    """What became of one addressed Toloker of a composed thread: `DELIVERED` or the reason
    they were left out. Written by one INSERT ... SELECT per send
    (`messaging.repository.record_outcomes`); whether a delivered Toloker read or replied is
    not stored here but read at query time from their `toloker_threads` row (`read_at`) and
    their reply thread (`parent_id`, `toloker_id`), so reading or replying writes nothing extra."""

    __tablename__ = "recipient_outcomes"
    __table_args__ = (
        # The recipients list of one thread, paged by id.
        Index("ix_recipient_outcomes_thread_id_id", "thread_id", "id"),
        # The bulk cap: a Toloker's bulk deliveries from one requester since a time, one range
        # per Toloker; only the rows the cap counts are in it.
        Index(
            "ix_recipient_outcomes_bulk_delivered",
            "requester_id",
            "user_id",
            "created",
            sqlite_where=text("bulk = 1 AND outcome = 'DELIVERED'"),
            postgresql_where=text("bulk AND outcome = 'DELIVERED'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    # The thread's requester.
    requester_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    thread_id: Mapped[int] = mapped_column(ThreadFK, nullable=False)
    # As addressed: an unknown id is no Toloker, so no foreign key.
    user_id: Mapped[str] = mapped_column(String, nullable=False)
    # DELIVERED, LEFT_OUT_BANNED, LEFT_OUT_UNKNOWN, LEFT_OUT_NOT_YOURS, LEFT_OUT_CAPPED
    outcome: Mapped[str] = mapped_column(String(24), nullable=False)
    # A FILTER or ALL send: its deliveries count against the bulk cap.
    bulk: Mapped[bool] = mapped_column(Boolean, nullable=False)
    created: Mapped[datetime] = created_column()


class MessageQuota(Base):
    """Sends per requester per UTC day; the increment is a conditional upsert."""

    __tablename__ = "message_quotas"

    requester_id: Mapped[int] = mapped_column(ForeignKey("requesters.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    used: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
