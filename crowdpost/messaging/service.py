"""Sending and replying: the requester's side of messaging. No HTTP, no commit.

    check_compose / do_compose       a send to DIRECT ids, a FILTER or ALL (one fan-out)
    do_dry_run                       the same checks and counts, nothing written
    do_requester_reply               a message in one of the requester's threads
    do_change_folders, do_mark_all_read, folder_counts, list/get

toloka-kit resends a POST that timed out, and compose/reply carry no idempotency key:
an identical request from the same sender within 60 s returns what the first one made.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import insert
from sqlalchemy.orm import Session

from crowdpost.config import Settings
from crowdpost.errors import ConflictState, DoesNotExist, TooManyRequests, ValidationFailed, field_error
from crowdpost.kit.ids import format_id, parse_id
from crowdpost.kit.pagination import ListParams
from crowdpost.kit.timefmt import utcnow
from crowdpost.messaging import policy, repository, views
from crowdpost.messaging.repository import ThreadFilters
from crowdpost.messaging.schemas import (
    DIRECT_MAX_RECIPIENTS,
    FOLDER_COLUMNS,
    TEXT_MAX_CHARS,
    TOPIC_MAX_CHARS,
    USER_FOLDERS,
    ComposeForm,
    Folder,
    InterlocutorRole,
    SelectType,
    ThreadKind,
)
from crowdpost.models import Message, MessageThread, RequesterThread
from crowdpost.workforce.audience import AudienceRequest, audience_select, count_audience, is_large_audience

DEDUPE_WINDOW = timedelta(seconds=60)
REPLYABLE_KINDS = frozenset({ThreadKind.COMPOSE, ThreadKind.CONVERSATION, ThreadKind.APPEAL})


@dataclass(frozen=True)
class NewMessage:
    thread_id: int
    requester_id: int | None
    sender_role: str
    sender_id: str
    text: dict[str, str]
    topic: dict[str, str]
    dedupe_key: str | None = None


def public_host(settings: Settings) -> str:
    return urlsplit(settings.public_url).netloc


def dedupe_key(*parts: Any) -> str:
    canonical = json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_texts(topic: dict[str, str] | None, text: dict[str, str]) -> None:
    for field, texts, limit in (("topic", topic or {}, TOPIC_MAX_CHARS), ("text", text, TEXT_MAX_CHARS)):
        for lang, value in texts.items():
            if not value.strip():
                raise ValidationFailed(
                    {f"{field}.{lang}": field_error("BLANK_STRING_NOT_ALLOWED", "must not be blank")}
                )
            if len(value) > limit:
                raise ValidationFailed(
                    {f"{field}.{lang}": field_error("STRING_LENGTH_GREATER_THAN_MAX", "too long", limit)}
                )


def write_message(session: Session, new: NewMessage) -> None:
    """Store a message once: sanitized HTML per language, and plain text for search."""
    texts = policy.sanitize_lang_map(new.text, markup=True)
    searchable = " ".join([*new.topic.values(), *(policy.plain_text(t) for t in texts.values())])
    session.execute(
        insert(Message).values(
            thread_id=new.thread_id,
            requester_id=new.requester_id,
            sender_role=new.sender_role,
            sender_id=new.sender_id,
            text=texts,
            search_text=searchable,
            dedupe_key=new.dedupe_key,
            created=utcnow(),
        )
    )


def new_thread(session: Session, **values: Any) -> MessageThread:
    values = {"created": utcnow(), "delivered_count": 0, "banned_count": 0, "unknown_count": 0, **values}
    thread = MessageThread(**values)
    session.add(thread)
    session.flush()
    return thread


# --- reading ----------------------------------------------------------------------------


def requester_thread_state(session: Session, requester_id: int, public_id: str) -> RequesterThread:
    thread_id = parse_id(public_id)
    state = repository.requester_state(session, requester_id, thread_id) if thread_id is not None else None
    if state is None:
        raise DoesNotExist(f"Message thread {public_id} does not exist")
    return state


def get_requester_thread(session: Session, requester_id: int, public_id: str) -> dict[str, Any]:
    state = requester_thread_state(session, requester_id, public_id)
    return views.requester_views(session, [state])[0]


def list_requester_threads(
    session: Session, requester_id: int, filters: ThreadFilters, params: ListParams
) -> dict[str, Any]:
    states, has_more = repository.requester_states_page(session, requester_id, filters, params)
    return {"items": views.requester_views(session, states), "has_more": has_more}


# --- composing --------------------------------------------------------------------------


def check_compose(form: ComposeForm, requester_id: int) -> AudienceRequest:
    check_texts(form.topic, form.text)
    ids = form.recipients_ids
    if form.recipients_select_type == SelectType.DIRECT:
        if not ids:
            raise ValidationFailed({"recipients_ids": field_error("VALUE_REQUIRED", "DIRECT needs recipients_ids")})
        if len(ids) > DIRECT_MAX_RECIPIENTS:
            raise ValidationFailed(
                {
                    "recipients_ids": field_error(
                        "ARRAY_SIZE_GREATER_THAN_MAX", "at most 100 recipients; use FILTER", DIRECT_MAX_RECIPIENTS
                    )
                }
            )
    if form.recipients_select_type == SelectType.FILTER and form.recipients_filter is None:
        raise ValidationFailed({"recipients_filter": field_error("VALUE_REQUIRED", "FILTER needs recipients_filter")})
    return AudienceRequest(
        requester_id=requester_id,
        select_type=form.recipients_select_type.value,
        recipients_ids=ids if form.recipients_select_type == SelectType.DIRECT else None,
        recipients_filter=form.recipients_filter if form.recipients_select_type == SelectType.FILTER else None,
    )


def do_dry_run(session: Session, settings: Settings, requester_id: int, form: ComposeForm) -> dict[str, Any]:
    req = check_compose(form, requester_id)
    counts = count_audience(session, req, min_started=settings.all_recipients_min_started)
    return {
        "dry_run": True,
        "recipients_select_type": req.select_type,
        "recipients_count": counts.count,
        "excluded": {
            "banned": counts.banned,
            "unknown": counts.unknown,
            "banned_ids": counts.banned_ids,
            "unknown_ids": counts.unknown_ids,
        },
        "policy_warnings": policy.check_policy(form.topic, form.text, public_host(settings)),
    }


def check_quota(session: Session, settings: Settings, requester_id: int, select_type: SelectType) -> None:
    kind, limit = (
        ("ALL", settings.all_sends_per_day)
        if select_type == SelectType.ALL
        else ("TARGETED", settings.targeted_sends_per_day)
    )
    if not repository.consume_quota(session, requester_id, utcnow().date(), kind, limit):
        # No Retry-After, no payload.interval: toloka-kit 1.2.3 crashes on either.
        raise TooManyRequests(f"At most {limit} {kind.lower()} sends per UTC day; try again tomorrow")


def do_compose(
    session: Session, settings: Settings, requester_id: int, form: ComposeForm, *, strict: bool = False
) -> dict[str, Any]:
    """One requester thread (OUTBOX), one message, one Toloker row per recipient."""
    warnings = policy.check_policy(form.topic, form.text, public_host(settings))
    policy.raise_if_strict(warnings, strict)
    req = check_compose(form, requester_id)
    key = dedupe_key("compose", requester_id, form.model_dump(mode="json"))
    now = utcnow()
    first = repository.recent_duplicate(session, key, now - DEDUPE_WINDOW)
    if first is not None:
        return {**get_requester_thread(session, requester_id, format_id(first)), "policy_warnings": warnings}
    check_quota(session, settings, requester_id, form.recipients_select_type)
    counts = count_audience(session, req, min_started=settings.all_recipients_min_started)
    if counts.unknown_ids:
        raise ValidationFailed(
            {
                "recipients_ids": field_error(
                    "ENTITY_DOES_NOT_EXIST",
                    "unknown Tolokers, or Tolokers who never worked on your tasks: " + ", ".join(counts.unknown_ids),
                    *counts.unknown_ids,
                )
            }
        )
    topic = policy.sanitize_lang_map(form.topic, markup=False)
    thread = new_thread(
        session,
        requester_id=requester_id,
        kind=ThreadKind.COMPOSE.value,
        topic=topic,
        answerable=form.answerable,
        select_type=req.select_type,
        recipients_ids=list(req.recipients_ids) if req.recipients_ids is not None else None,
        recipients_filter=req.recipients_filter,
        created=now,
    )
    audience = audience_select(
        req, min_started=settings.all_recipients_min_started, large=is_large_audience(session, requester_id)
    )
    delivered = repository.fan_out(session, audience, thread.id, requester_id, now)
    if delivered == 0:
        raise ValidationFailed(
            {"recipients": field_error("VALUE_REQUIRED", "no Toloker receives this message", counts.banned)},
            "No recipients: nobody matches, or everyone who does is banned",
        )
    thread.delivered_count, thread.banned_count, thread.unknown_count = delivered, counts.banned, counts.unknown
    sender = format_id(requester_id)
    write_message(
        session, NewMessage(thread.id, requester_id, InterlocutorRole.REQUESTER.value, sender, form.text, topic, key)
    )
    session.add(
        RequesterThread(
            requester_id=requester_id,
            thread_id=thread.id,
            interlocutor_role=InterlocutorRole.USER.value,
            created=now,
            outbox=True,
            inbox=False,
            notification=False,
            important=False,
            unread=False,
        )
    )
    session.flush()
    return {**get_requester_thread(session, requester_id, format_id(thread.id)), "policy_warnings": warnings}


# --- replying and folders ---------------------------------------------------------------


def reply_send_kind(thread: MessageThread) -> SelectType:
    """The quota a requester's reply counts against: it reaches every Toloker of the thread
    again, so a reply on an ALL or FILTER send is another send of that kind (otherwise replies
    would bypass the once-a-day ALL quota); replies in one Toloker's thread are targeted sends."""
    if thread.kind == ThreadKind.COMPOSE.value and thread.select_type is not None:
        return SelectType(thread.select_type)
    return SelectType.DIRECT


def do_requester_reply(
    session: Session, settings: Settings, requester_id: int, public_id: str, text: dict[str, str], *, strict: bool
) -> dict[str, Any]:
    state = requester_thread_state(session, requester_id, public_id)
    thread = session.get(MessageThread, state.thread_id)
    assert thread is not None
    if thread.kind not in REPLYABLE_KINDS:
        raise ConflictState("Notifications and platform messages cannot be answered")
    check_texts(None, text)
    warnings = policy.check_policy(None, text, public_host(settings))
    policy.raise_if_strict(warnings, strict)
    key = dedupe_key("reply", requester_id, thread.id, text)
    if repository.recent_duplicate(session, key, utcnow() - DEDUPE_WINDOW) is None:
        check_quota(session, settings, requester_id, reply_send_kind(thread))
        sender = format_id(requester_id)
        write_message(
            session,
            NewMessage(thread.id, requester_id, InterlocutorRole.REQUESTER.value, sender, text, thread.topic, key),
        )
        repository.notify_recipients(session, thread.id)
        repository.set_flags(session, RequesterThread, requester_id, thread.id, {"unread": False})
    session.expire_all()
    return {**get_requester_thread(session, requester_id, public_id), "policy_warnings": warnings}


def check_user_folders(folders: list[Folder]) -> dict[str, bool]:
    wrong = [f.value for f in folders if f not in USER_FOLDERS]
    if wrong:
        raise ValidationFailed(
            {"folders": field_error("VALUE_NOT_ALLOWED", "only IMPORTANT and UNREAD can be changed", *wrong)}
        )
    return {FOLDER_COLUMNS[f]: True for f in folders}


def do_change_requester_folders(
    session: Session, requester_id: int, public_id: str, folders: list[Folder], *, add: bool
) -> dict[str, Any]:
    columns = check_user_folders(folders)
    state = requester_thread_state(session, requester_id, public_id)
    repository.set_flags(session, RequesterThread, requester_id, state.thread_id, dict.fromkeys(columns, add))
    session.expire_all()
    return get_requester_thread(session, requester_id, public_id)


def do_mark_all_read(session: Session, requester_id: int, folder: Folder | None) -> dict[str, Any]:
    return {"marked_read": repository.mark_all_read(session, RequesterThread, requester_id, folder)}


def folder_counts(session: Session, requester_id: int) -> dict[str, Any]:
    return repository.folder_counts(session, RequesterThread, requester_id)
