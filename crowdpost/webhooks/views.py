"""Subscriptions and deliveries as the wire shows them. The secret key is never shown."""

from __future__ import annotations

from typing import Any

from crowdpost.kit.ids import format_id
from crowdpost.kit.schemas import with_set
from crowdpost.models import WebhookDelivery, WebhookSubscription


def subscription_view(row: WebhookSubscription) -> dict[str, Any]:
    view = {
        "id": format_id(row.id),
        "webhook_url": row.webhook_url,
        "event_type": row.event_type,
        "created": row.created,
    }
    # pool_id 0 is a subscription to every pool: no pool_id on the wire.
    return with_set(view, pool_id=format_id(row.pool_id) if row.pool_id else None)


def delivery_view(row: WebhookDelivery) -> dict[str, Any]:
    view = {
        "id": format_id(row.id),
        "attempted_at": row.attempted_at,
        "latency_ms": row.latency_ms,
        "event_count": row.event_count,
    }
    return with_set(view, status_code=row.status_code, error=row.error)
