"""How an outbox row looks on the operator API."""

from __future__ import annotations

from typing import Any

from crowdpost.kit.timefmt import format_datetime
from crowdpost.models.outbox import OutboxItem


def _time(value: Any) -> str | None:
    return None if value is None else format_datetime(value)


def row_view(item: OutboxItem) -> dict[str, Any]:
    return {
        "id": str(item.id),
        "channel": item.channel,
        "kind": item.kind,
        "requester_id": None if item.requester_id is None else str(item.requester_id),
        "user_id": item.user_id,
        "ref_id": None if item.ref_id is None else str(item.ref_id),
        "ordering_key": item.ordering_key,
        "status": item.status,
        "attempts": item.attempts,
        "next_attempt_at": _time(item.next_attempt_at),
        "last_error": item.last_error,
        "created": _time(item.created),
        "delivered_at": _time(item.delivered_at),
    }
