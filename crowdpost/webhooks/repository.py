"""Every query on webhook subscriptions and deliveries. No commit; every read filters by requester."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, String, and_, case, cast, delete, func, insert, literal, select, text, update
from sqlalchemy.orm import Session

from crowdpost.kit.bulk import upsert
from crowdpost.kit.id_order import Claim, keep_id_order
from crowdpost.kit.pagination import ListParams, paginate, where_equal
from crowdpost.kit.timefmt import utcnow
from crowdpost.models import (
    Assignment,
    Message,
    OutboxItem,
    Pool,
    RequesterThread,
    WebhookDelivery,
    WebhookSubscription,
)
from crowdpost.outbox.service import enqueue_select

_KEY = ["requester_id", "webhook_url", "event_type", "pool_id"]
# Two-key advisory locks live in a space apart from migrate's one-key lock.
_PG_SUBSCRIPTIONS_LOCK_CLASS = 7_041_995
# A subscription's delivery log pages by id_gt. One worker transaction logs a batch's successes
# and then each failure: one lock for the whole table (not one per subscription, taken in two
# steps in different orders by two workers, which could deadlock); logging is short and rare.
DELIVERY_LOG = Claim("webhook_deliveries")
# The resolution of a stored timestamp (kit.timefmt.utcnow).
CREATED_STEP = timedelta(milliseconds=1)


def next_subscription_created(session: Session, requester_id: int) -> datetime:
    """A `created` later than every subscription of the requester, held until the transaction ends.

    toloka-kit pages subscriptions by `created_gt` of the last one seen, so two of one
    requester sharing a millisecond would lose the second one from `get_webhook_subscriptions`.
    PostgreSQL: an advisory lock per requester keeps two concurrent upserts from reading the
    same latest value; SQLite's write transaction already holds the only write lock.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:lock_class, :requester_id)"),
            {"lock_class": _PG_SUBSCRIPTIONS_LOCK_CLASS, "requester_id": requester_id},
        )
    latest = session.execute(
        select(func.max(WebhookSubscription.created)).where(WebhookSubscription.requester_id == requester_id)
    ).scalar_one_or_none()
    now = utcnow()
    return now if latest is None or latest < now else latest + CREATED_STEP


def upsert_subscription(
    session: Session,
    requester_id: int,
    *,
    webhook_url: str,
    event_type: str,
    pool_id: int,
    secret_key: str | None,
    created: datetime,
) -> WebhookSubscription:
    """Creates the subscription (at `created`) or, when (url, event, pool) exists, takes the new
    secret and resumes it (a paused subscription is renewed by subscribing again)."""
    stmt = upsert(session, WebhookSubscription).values(
        requester_id=requester_id,
        webhook_url=webhook_url,
        event_type=event_type,
        pool_id=pool_id,
        secret_key=secret_key,
        created=created,
        paused=False,
        consecutive_failures=0,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=_KEY,
        set_={"secret_key": stmt.excluded.secret_key, "paused": False, "consecutive_failures": 0},
    ).returning(WebhookSubscription)
    row: WebhookSubscription = session.execute(stmt, execution_options={"populate_existing": True}).scalar_one()
    return row


def owned_pool_ids(session: Session, requester_id: int, pool_ids: Sequence[int]) -> set[int]:
    if not pool_ids:
        return set()
    return set(
        session.execute(select(Pool.id).where(Pool.requester_id == requester_id, Pool.id.in_(pool_ids))).scalars()
    )


def find_subscription(session: Session, requester_id: int, subscription_id: int) -> WebhookSubscription | None:
    return session.execute(
        select(WebhookSubscription).where(
            WebhookSubscription.id == subscription_id, WebhookSubscription.requester_id == requester_id
        )
    ).scalar_one_or_none()


def list_subscriptions(
    session: Session, requester_id: int, params: ListParams, *, event_type: str | None, pool_id: int | None
) -> tuple[list[WebhookSubscription], bool]:
    stmt = where_equal(
        select(WebhookSubscription).where(WebhookSubscription.requester_id == requester_id),
        (WebhookSubscription.event_type, event_type),
        (WebhookSubscription.pool_id, pool_id),
    )
    return paginate(
        session,
        stmt,
        params,
        id_column=WebhookSubscription.id,
        sort_fields={"id": WebhookSubscription.id, "created": WebhookSubscription.created},
    )


def delete_subscription(session: Session, requester_id: int, subscription_id: int) -> None:
    # Deliveries go with it (ON DELETE CASCADE; SQLite enforces it only with foreign keys on,
    # so say it here too).
    session.execute(delete(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id))
    mine = and_(WebhookSubscription.requester_id == requester_id, WebhookSubscription.id == subscription_id)
    session.execute(delete(WebhookSubscription).where(mine))


def list_deliveries(session: Session, subscription_id: int, params: ListParams) -> tuple[list[WebhookDelivery], bool]:
    return paginate(
        session,
        select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id),
        params,
        id_column=WebhookDelivery.id,
        sort_fields={"id": WebhookDelivery.id},
    )


# ------------------------------------------------------------------------------------------------- outbox rows

_ENQUEUE_COLUMNS = ("channel", "kind", "requester_id", "ref_id", "ordering_key", "payload")


def _ordering_key() -> Any:
    """`webhook:<subscription id>`: one subscription's events go out in order, apart from the
    keys of other channels."""
    return (literal("webhook:") + cast(WebhookSubscription.id, String)).label("ordering_key")


def _event_rows(kind: Any, payload: Any) -> Select[Any]:
    """The `_ENQUEUE_COLUMNS` of one outbox row per webhook subscription selected: the event
    `kind` and its `payload`, each a constant or an SQL expression."""
    return select(
        literal("webhook").label("channel"),
        kind.label("kind"),
        WebhookSubscription.requester_id,
        WebhookSubscription.id.label("ref_id"),
        _ordering_key(),
        payload.label("payload"),
    )


def _matching(requester_id: Any, event_type: str) -> Any:
    return and_(
        WebhookSubscription.requester_id == requester_id,
        WebhookSubscription.event_type == event_type,
        WebhookSubscription.paused.is_(False),
    )


def enqueue_for_subscriptions(
    session: Session, requester_id: int, event_type: str, *, payload: dict[str, Any], pool_id: int | None = None
) -> None:
    """One row per matching subscription, all with the same payload. With `pool_id`, the
    subscriptions for that pool and those for every pool (0) match; without, only the latter."""
    pools = [0] if pool_id is None else [0, pool_id]
    stmt = _event_rows(literal(event_type), literal(payload, OutboxItem.payload.type)).where(
        _matching(requester_id, event_type), WebhookSubscription.pool_id.in_(pools)
    )
    enqueue_select(session, stmt.order_by(WebhookSubscription.id), _ENQUEUE_COLUMNS)


def _json_object(session: Session, *pairs: tuple[str, Any]) -> Any:
    args = [part for name, value in pairs for part in (literal(name), value)]
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.json_build_object(*args), OutboxItem.payload.type)
    return func.json(func.json_object(*args))


def _public_id(session: Session, column: Any) -> Any:
    """`kit.ids.format_id` in SQL: twelve digits, zero-padded."""
    if session.get_bind().dialect.name == "postgresql":
        return func.lpad(cast(column, String), 12, "0")
    return func.printf("%012d", column)


def _assignment_events(session: Session, kind: Any, first_id: int, last_id: int) -> Any:
    """Rows for the assignments in [first, last] and each subscription of their requester
    to `kind` (a constant or an SQL expression of the assignment) for their pool or every pool."""
    payload = _json_object(
        session,
        ("project_id", _public_id(session, Assignment.project_id)),
        ("pool_id", _public_id(session, Assignment.pool_id)),
        ("task_suite_id", Assignment.task_suite_id),
        ("assignment_id", _public_id(session, Assignment.id)),
    )
    return (
        _event_rows(kind, payload)
        .join(
            Assignment,
            and_(
                Assignment.requester_id == WebhookSubscription.requester_id,
                Assignment.id.between(first_id, last_id),
                WebhookSubscription.pool_id.in_([0, Assignment.pool_id]),
                WebhookSubscription.event_type == kind,
                WebhookSubscription.paused.is_(False),
            ),
        )
        .order_by(Assignment.id, WebhookSubscription.id)
    )


def enqueue_for_assignments(
    session: Session, requester_id: int, event_type: str, *, first_id: int, last_id: int
) -> None:
    """One row per (assignment in [first, last] of the requester, subscription for its pool or every pool)."""
    stmt = _assignment_events(session, literal(event_type), first_id, last_id).where(
        WebhookSubscription.requester_id == requester_id
    )
    enqueue_select(session, stmt, _ENQUEUE_COLUMNS)


# An imported assignment's status as the Toloka event that would have reported it.
_IMPORTED_EVENT = {
    "ACTIVE": "ASSIGNMENT_CREATED",
    "SUBMITTED": "ASSIGNMENT_SUBMITTED",
    "ACCEPTED": "ASSIGNMENT_APPROVED",
    "REJECTED": "ASSIGNMENT_REJECTED",
    "SKIPPED": "ASSIGNMENT_SKIPPED",
    "EXPIRED": "ASSIGNMENT_EXPIRED",
}


def enqueue_for_imported_assignments(session: Session, first_id: int, last_id: int) -> None:
    """Imported assignments (any requesters'), each as the event of its status."""
    kind = case(_IMPORTED_EVENT, value=Assignment.status, else_=literal("ASSIGNMENT_CREATED"))
    enqueue_select(session, _assignment_events(session, kind, first_id, last_id), _ENQUEUE_COLUMNS)


def enqueue_for_messages(session: Session, first_id: int, last_id: int) -> None:
    """MESSAGE_RECEIVED: one row per (message in [first, last], requester holding its thread,
    that requester's subscription). The sender's own requester is never a recipient here:
    the event names only messages that reached requesters from someone else."""
    payload = _json_object(
        session,
        ("message_thread_id", _public_id(session, Message.thread_id)),
        ("message_id", _public_id(session, Message.id)),
        ("from_role", Message.sender_role),
        ("from_id", Message.sender_id),
    )
    stmt = (
        _event_rows(literal("MESSAGE_RECEIVED"), payload)
        .select_from(Message)
        .join(RequesterThread, RequesterThread.thread_id == Message.thread_id)
        .join(WebhookSubscription, _matching(RequesterThread.requester_id, "MESSAGE_RECEIVED"))
        .where(Message.id.between(first_id, last_id))
        .order_by(Message.id, WebhookSubscription.id)
    )
    enqueue_select(session, stmt, _ENQUEUE_COLUMNS)


# ------------------------------------------------------------------------------------------------- delivery


def get_subscription(session: Session, subscription_id: int) -> WebhookSubscription | None:
    return session.get(WebhookSubscription, subscription_id)


def get_subscriptions(session: Session, subscription_ids: Sequence[int]) -> list[WebhookSubscription]:
    """The subscriptions of a delivery batch that still exist, by id (one query)."""
    if not subscription_ids:
        return []
    stmt = select(WebhookSubscription).where(WebhookSubscription.id.in_(subscription_ids))
    return list(session.execute(stmt).scalars())


def record_successes(session: Session, attempts: Sequence[dict[str, Any]]) -> None:
    """Logs successful attempts (`webhook_deliveries` columns, one per subscription) and ends
    their subscriptions' runs of failures: two statements however many."""
    if not attempts:
        return
    keep_id_order(session, DELIVERY_LOG)
    session.execute(insert(WebhookDelivery), list(attempts))
    ids = sorted({int(a["subscription_id"]) for a in attempts})
    session.execute(
        update(WebhookSubscription)
        .where(WebhookSubscription.id.in_(ids), WebhookSubscription.consecutive_failures != 0)
        .values(consecutive_failures=0)
        .execution_options(synchronize_session=False)
    )


def record_delivery(
    session: Session, attempt: dict[str, Any], *, ok: bool, pause_after: int
) -> WebhookSubscription | None:
    """Logs one attempt (a `webhook_deliveries` row, as `record_successes` takes them) and
    counts it: a success resets the run of failures, a failure adds one and pauses the
    subscription when the run reaches `pause_after`. The subscription when this attempt
    paused it, else None."""
    subscription_id = int(attempt["subscription_id"])
    keep_id_order(session, DELIVERY_LOG)
    session.execute(insert(WebhookDelivery).values(**attempt))
    if ok:
        session.execute(
            update(WebhookSubscription).where(WebhookSubscription.id == subscription_id).values(consecutive_failures=0)
        )
        return None
    session.execute(
        update(WebhookSubscription)
        .where(WebhookSubscription.id == subscription_id)
        .values(consecutive_failures=WebhookSubscription.consecutive_failures + 1)
    )
    paused = session.execute(
        update(WebhookSubscription)
        .where(
            WebhookSubscription.id == subscription_id,
            WebhookSubscription.paused.is_(False),
            WebhookSubscription.consecutive_failures >= pause_after,
        )
        .values(paused=True)
        .returning(WebhookSubscription)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    return paused
