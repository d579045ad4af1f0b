"""Every query on webhook subscriptions and deliveries. No commit; every read filters by requester."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from crowdpost.kit.bulk import upsert
from crowdpost.kit.pagination import ListParams, paginate, where_equal
from crowdpost.kit.timefmt import utcnow
from crowdpost.models import Pool, WebhookDelivery, WebhookSubscription

_KEY = ["requester_id", "webhook_url", "event_type", "pool_id"]


def upsert_subscription(
    session: Session, requester_id: int, *, webhook_url: str, event_type: str, pool_id: int, secret_key: str | None
) -> WebhookSubscription:
    """Creates the subscription or, when (url, event, pool) exists, takes the new secret and
    resumes it (a paused subscription is renewed by subscribing again)."""
    stmt = upsert(session, WebhookSubscription).values(
        requester_id=requester_id,
        webhook_url=webhook_url,
        event_type=event_type,
        pool_id=pool_id,
        secret_key=secret_key,
        created=utcnow(),
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


def delete_subscription(session: Session, subscription_id: int) -> None:
    # Deliveries go with it (ON DELETE CASCADE; SQLite enforces it only with foreign keys on,
    # so say it here too).
    session.execute(delete(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id))
    session.execute(delete(WebhookSubscription).where(WebhookSubscription.id == subscription_id))


def list_deliveries(session: Session, subscription_id: int, params: ListParams) -> tuple[list[WebhookDelivery], bool]:
    return paginate(
        session,
        select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id),
        params,
        id_column=WebhookDelivery.id,
        sort_fields={"id": WebhookDelivery.id},
    )
