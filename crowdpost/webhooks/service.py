"""Webhook subscriptions of a requester: upsert, list, get, delete, and the delivery log.

A subscription's URL passes the SSRF guard (`ssrf.check_url`) when it is stored, and
again at every delivery (the channel), since DNS may answer differently later.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from crowdpost.config import Settings
from crowdpost.errors import ValidationFailed, field_error
from crowdpost.kit.bulk import validate_items
from crowdpost.kit.ids import id_filter, load_by_id, parse_id
from crowdpost.kit.pagination import ListParams
from crowdpost.models import WebhookDelivery, WebhookSubscription
from crowdpost.webhooks import repository, ssrf
from crowdpost.webhooks.schemas import SubscriptionForm

# Subscriptions per PUT; each is one row, and a requester rarely needs more than a few.
MAX_ITEMS_PER_REQUEST = 100
_MISSING = "Webhook subscription not found"


def do_upsert_subscriptions(
    session: Session, settings: Settings, requester_id: int, body: Any
) -> dict[int, WebhookSubscription]:
    """Every item valid -> each created or updated, by its index; otherwise ValidationFailed
    naming each bad item, and nothing is written."""
    forms = validate_items(SubscriptionForm, body, MAX_ITEMS_PER_REQUEST)
    errors: dict[str, Any] = {}
    pool_keys: dict[int, int] = {}
    for index, form in enumerate(forms):
        try:
            ssrf.check_url(form.webhook_url, allow_private=settings.webhook_allow_private)
        except ssrf.UnsafeUrl as exc:
            errors.setdefault(str(index), {})["webhook_url"] = field_error("INVALID_URL", str(exc))
        if form.pool_id is not None:
            key = parse_id(form.pool_id)
            if key is None:
                errors.setdefault(str(index), {})["pool_id"] = field_error("NOT_FOUND", "No such pool")
            else:
                pool_keys[index] = key
    owned = repository.owned_pool_ids(session, requester_id, list(pool_keys.values()))
    for index, key in pool_keys.items():
        if key not in owned:
            errors.setdefault(str(index), {})["pool_id"] = field_error("NOT_FOUND", "No such pool")
    if errors:
        raise ValidationFailed(errors, f"{len(errors)} of {len(forms)} subscriptions are invalid; none was stored")
    # Each its own millisecond: toloka-kit pages subscriptions by `created_gt`.
    first = repository.next_subscription_created(session, requester_id)
    return {
        index: repository.upsert_subscription(
            session,
            requester_id,
            webhook_url=form.webhook_url,
            event_type=form.event_type.value,
            pool_id=pool_keys.get(index, 0),
            secret_key=form.secret_key,
            created=first + index * repository.CREATED_STEP,
        )
        for index, form in enumerate(forms)
    }


def get_subscription(session: Session, requester_id: int, subscription_id: str) -> WebhookSubscription:
    """Another requester's subscription is as missing as an unknown one (404 either way)."""
    return load_by_id(subscription_id, lambda key: repository.find_subscription(session, requester_id, key), _MISSING)


def list_subscriptions(
    session: Session, requester_id: int, params: ListParams, *, event_type: str | None, pool_id: str | None
) -> tuple[Sequence[WebhookSubscription], bool]:
    return repository.list_subscriptions(
        session, requester_id, params, event_type=event_type, pool_id=id_filter(pool_id)
    )


def do_delete_subscription(session: Session, requester_id: int, subscription_id: str) -> None:
    repository.delete_subscription(session, requester_id, get_subscription(session, requester_id, subscription_id).id)


def list_deliveries(
    session: Session, requester_id: int, subscription_id: str, params: ListParams
) -> tuple[Sequence[WebhookDelivery], bool]:
    subscription = get_subscription(session, requester_id, subscription_id)
    return repository.list_deliveries(session, subscription.id, params)
