"""Sending and replying: the requester's side of messaging. No HTTP, no commit.

    check_compose / do_compose       a send to DIRECT ids, a FILTER or ALL (one fan-out)
    do_dry_run                       the same checks and counts, nothing written
    do_requester_reply               a message in one of the requester's threads
    list/get                         the requester's threads (folders: `folders.py`)

toloka-kit resends a POST that timed out, and compose/reply carry no idempotency key:
an identical request from the same sender within 60 s returns what the first one made.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from crowdpost.config import Settings
from crowdpost.errors import ConflictState, DoesNotExist, TooManyRequests, ValidationFailed, field_error
from crowdpost.events import MessagesReceived, publish
from crowdpost.kit.id_order import Claim, keep_id_order
from crowdpost.kit.ids import format_id
from crowdpost.kit.pagination import ListParams, list_answer
from crowdpost.kit.timefmt import utcnow
from crowdpost.messaging import folders, policy, repository, views

# Re-exported: the value types callers pass to the services (pages import them from here, as
# no other domain may import this domain's repository).
from crowdpost.messaging.repository import Participant as Participant
from crowdpost.messaging.repository import ThreadFilters as ThreadFilters
from crowdpost.messaging.schemas import (
    DIRECT_MAX_RECIPIENTS,
    TEXT_MAX_CHARS,
    TOPIC_MAX_CHARS,
    ComposeForm,
    InterlocutorRole,
    Outcome,
    SelectType,
    ThreadKind,
)
from crowdpost.models import MessageThread
from crowdpost.workforce.schemas import AudienceRequest
from crowdpost.workforce.service.audience import AudiencePlan, check_audience_request, plan_audience

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


def write_message(session: Session, new: NewMessage) -> int:
    """Store a message once: sanitized HTML per language, and plain text for search; its id."""
    texts = policy.sanitize_lang_map(new.text, markup=True)
    searchable = " ".join([*new.topic.values(), *(policy.plain_text(t) for t in texts.values())])
    return repository.insert_message(
        session,
        thread_id=new.thread_id,
        requester_id=new.requester_id,
        sender_role=new.sender_role,
        sender_id=new.sender_id,
        text=texts,
        search_text=searchable,
        dedupe_key=new.dedupe_key,
    )


# --- reading ----------------------------------------------------------------------------


def get_requester_thread(session: Session, requester_id: int, public_id: str) -> dict[str, Any]:
    return folders.get_thread(session, Participant.requester(requester_id), public_id)


def list_requester_threads(
    session: Session, requester_id: int, filters: ThreadFilters, params: ListParams
) -> dict[str, Any]:
    states, has_more = repository.requester_states_page(session, requester_id, filters, params)
    return {"items": views.requester_views(session, states), "has_more": has_more}


# --- composing --------------------------------------------------------------------------


def check_compose(form: ComposeForm, requester_id: int, *, ignore_cap: bool = False) -> AudienceRequest:
    check_texts(form.topic, form.text)
    select_type = form.recipients_select_type
    if ignore_cap and select_type == SelectType.ALL:
        raise ValidationFailed(
            {
                "ignore_cap": field_error(
                    "VALUE_NOT_ALLOWED", "an ALL send cannot ignore the bulk cap; use FILTER", select_type.value
                )
            },
            "ignore_cap=true is allowed for FILTER sends only",
        )
    req = AudienceRequest(
        requester_id=requester_id,
        select_type=select_type.value,
        recipients_ids=form.recipients_ids if select_type == SelectType.DIRECT else None,
        recipients_filter=form.recipients_filter if select_type == SelectType.FILTER else None,
    )
    check_audience_request(req)  # DIRECT needs ids, FILTER a filter
    if len(req.recipients_ids or ()) > DIRECT_MAX_RECIPIENTS:
        raise ValidationFailed(
            {
                "recipients_ids": field_error(
                    "ARRAY_SIZE_GREATER_THAN_MAX", "at most 100 recipients; use FILTER", DIRECT_MAX_RECIPIENTS
                )
            }
        )
    return req


def do_dry_run(
    session: Session, settings: Settings, requester_id: int, form: ComposeForm, *, ignore_cap: bool = False
) -> dict[str, Any]:
    req = check_compose(form, requester_id, ignore_cap=ignore_cap)
    plan = plan_audience(session, req, min_started=settings.all_recipients_min_started)
    counts = plan.counts
    cap = bulk_cap(settings, form.recipients_select_type, ignore_cap, utcnow())
    capped = repository.count_capped(session, requester_id, plan.members, cap) if cap is not None else 0
    excluded: dict[str, Any] = {
        "banned": counts.banned,
        "unknown": counts.unknown,
        "banned_ids": counts.banned_ids,
        "unknown_ids": counts.unknown_ids,
        "capped": capped,
    }
    if capped:
        excluded["capped_reason"] = cap_reason(settings)
    return {
        "dry_run": True,
        "recipients_select_type": req.select_type,
        "recipients_count": counts.count - capped,
        "excluded": excluded,
        "policy_warnings": policy.check_policy(form.topic, form.text, public_host(settings)),
    }


def bulk_cap(settings: Settings, select_type: SelectType, ignore_cap: bool, now: datetime) -> repository.BulkCap | None:
    """The cap a send is checked against: FILTER and ALL sends, unless a FILTER ignores it."""
    if select_type == SelectType.DIRECT or ignore_cap:
        return None
    return repository.BulkCap.week(settings.bulk_messages_per_toloker_week, now)


def cap_reason(settings: Settings) -> str:
    limit = settings.bulk_messages_per_toloker_week
    return (
        f"already received {limit} bulk (FILTER or ALL) message{'s' if limit != 1 else ''} from you "
        "in the last 7 days; direct messages and replies are not counted"
    )


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
    session: Session,
    settings: Settings,
    requester_id: int,
    form: ComposeForm,
    *,
    strict: bool = False,
    ignore_cap: bool = False,
    refuse_unknown: bool = False,
) -> dict[str, Any]:
    """One requester thread (OUTBOX), one message, one outcome row per addressed Toloker and
    one Toloker row per recipient. DIRECT ids that are no Toloker or never worked for the
    requester are left out like banned ones (their outcome says which); `refuse_unknown`
    (the Messages page, which names them beside To first) refuses the send instead."""
    warnings = policy.check_policy(form.topic, form.text, public_host(settings))
    policy.raise_if_strict(warnings, strict)
    req = check_compose(form, requester_id, ignore_cap=ignore_cap)
    key = dedupe_key("compose", requester_id, form.model_dump(mode="json"), ignore_cap)
    now = utcnow()
    first = repository.recent_duplicate(session, requester_id, key, now - DEDUPE_WINDOW)
    if first is not None:
        return {**get_requester_thread(session, requester_id, format_id(first)), "policy_warnings": warnings}
    check_quota(session, settings, requester_id, form.recipients_select_type)
    plan = plan_audience(session, req, min_started=settings.all_recipients_min_started)
    counts = plan.counts
    if refuse_unknown and counts.unknown_ids:
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
    # Both sides page by thread id: lock before it is allocated (a FILTER/ALL send: every Toloker).
    keep_id_order(session, Claim("requester_threads", [requester_id]), Claim("toloker_threads", req.recipients_ids))
    thread = repository.add_thread(
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
    delivered = _do_deliver(session, settings, thread, plan, ignore_cap=ignore_cap, now=now)
    if delivered == 0:
        raise ValidationFailed(
            {"recipients": field_error("VALUE_REQUIRED", "no Toloker receives this message", counts.banned)},
            "No recipients: nobody matches, or everyone who does is banned, unknown or over the bulk cap",
        )
    sender = format_id(requester_id)
    message_id = write_message(
        session, NewMessage(thread.id, requester_id, InterlocutorRole.REQUESTER.value, sender, form.text, topic, key)
    )
    publish(session, MessagesReceived("TOLOKER", message_id, message_id))
    repository.add_state(
        session,
        Participant.requester(requester_id),
        thread.id,
        now,
        interlocutor_role=InterlocutorRole.USER.value,
        **repository.flags("outbox"),
    )
    session.flush()
    return {**get_requester_thread(session, requester_id, format_id(thread.id)), "policy_warnings": warnings}


def _do_deliver(
    session: Session, settings: Settings, thread: MessageThread, plan: AudiencePlan, *, ignore_cap: bool, now: datetime
) -> int:
    """The send's outcome rows (one INSERT ... SELECT from the audience, the bulk cap inside it),
    then one Toloker row per DELIVERED one (one INSERT ... SELECT from those rows), then the
    thread's counts from the rows just written: all in the caller's transaction, in the database.
    How many were delivered."""
    assert plan.addressed is not None
    assert thread.requester_id is not None
    select_type = SelectType(plan.request.select_type)
    cap = bulk_cap(settings, select_type, ignore_cap, now)
    if cap is not None:
        repository.lock_bulk_sends(session, thread.requester_id)
    repository.record_outcomes(
        session,
        plan.addressed,
        thread_id=thread.id,
        requester_id=thread.requester_id,
        bulk=select_type != SelectType.DIRECT,
        cap=cap,
        now=now,
    )
    repository.fan_out(
        session, repository.delivered_ids(thread.requester_id, thread.id), thread.id, thread.requester_id, now
    )
    counted = repository.outcome_counts(session, thread.requester_id, thread.id)
    repository.set_counts(
        session,
        thread,
        delivered_count=counted[Outcome.DELIVERED],
        banned_count=counted[Outcome.LEFT_OUT_BANNED],
        unknown_count=counted[Outcome.LEFT_OUT_UNKNOWN],
        not_yours_count=counted[Outcome.LEFT_OUT_NOT_YOURS],
        capped_count=counted[Outcome.LEFT_OUT_CAPPED],
    )
    return thread.delivered_count


def list_recipients(
    session: Session, requester_id: int, public_id: str, filters: repository.RecipientFilters, params: ListParams
) -> dict[str, Any]:
    """A sent thread's addressed Tolokers with their outcomes (404 unless it is the requester's
    composed thread)."""
    state = folders.thread_state(session, Participant.requester(requester_id), public_id)
    thread = repository.get_thread(session, state.thread_id)
    if thread.kind != ThreadKind.COMPOSE.value or thread.requester_id != requester_id:
        raise DoesNotExist(f"Message thread {public_id} has no recipients list")
    rows, has_more = repository.recipients_page(session, requester_id, thread.id, filters, params)
    return list_answer(rows, has_more, views.recipient_view)


# --- replying ------------------------------------------------------------------------


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
    me = Participant.requester(requester_id)
    state = folders.thread_state(session, me, public_id)
    thread = repository.get_thread(session, state.thread_id)
    if thread.kind not in REPLYABLE_KINDS:
        raise ConflictState("Notifications and platform messages cannot be answered")
    check_texts(None, text)
    warnings = policy.check_policy(None, text, public_host(settings))
    policy.raise_if_strict(warnings, strict)
    key = dedupe_key("reply", requester_id, thread.id, text)
    if repository.recent_duplicate(session, requester_id, key, utcnow() - DEDUPE_WINDOW) is None:
        check_quota(session, settings, requester_id, reply_send_kind(thread))
        sender = format_id(requester_id)
        message_id = write_message(
            session,
            NewMessage(thread.id, requester_id, InterlocutorRole.REQUESTER.value, sender, text, thread.topic, key),
        )
        repository.notify_recipients(session, thread.id)
        publish(session, MessagesReceived("TOLOKER", message_id, message_id))
        repository.set_flags(session, me, thread.id, {"unread": False})
    session.expire_all()
    return {**get_requester_thread(session, requester_id, public_id), "policy_warnings": warnings}
