"""Subscriptions and deliveries as the wire shows them. The secret key is never shown."""

from __future__ import annotations

from typing import Any

from crowdpost.kit.ids import format_id
from crowdpost.models import WebhookDelivery, WebhookSubscription


def subscription_view(row: WebhookSubscription) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": format_id(row.id),
        "webhook_url": row.webhook_url,
        "event_type": row.event_type,
        "created": row.created,
    }
    if row.pool_id:
        view["pool_id"] = format_id(row.pool_id)
    return view


def delivery_view(row: WebhookDelivery) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": format_id(row.id),
        "attempted_at": row.attempted_at,
        "latency_ms": row.latency_ms,
        "event_count": row.event_count,
    }
    if row.status_code is not None:
        view["status_code"] = row.status_code
    if row.error is not None:
        view["error"] = row.error
    return view
