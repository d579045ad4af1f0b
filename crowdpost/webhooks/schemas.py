"""Wire shapes of `/webhook-subscriptions` (Toloka's WebhookSubscription, toloka-kit 1.2.3)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from crowdpost.kit.schemas import ListPage, WireDateTime
from crowdpost.webhooks.ssrf import MAX_URL_LENGTH


class EventType(StrEnum):
    """Toloka's event types (toloka-kit's `WebhookSubscription.EventType`) and crowdpost's two
    extensions, MESSAGE_RECEIVED and OPERATION_FINISHED. Some Toloka types never fire here
    (crowdpost runs no tasks: nothing is skipped, expired or overlap-aggregated); they are
    accepted so toloka-kit code that subscribes to them keeps working."""

    POOL_CLOSED = "POOL_CLOSED"
    DYNAMIC_OVERLAP_COMPLETED = "DYNAMIC_OVERLAP_COMPLETED"
    ASSIGNMENT_CREATED = "ASSIGNMENT_CREATED"
    ASSIGNMENT_SUBMITTED = "ASSIGNMENT_SUBMITTED"
    ASSIGNMENT_SKIPPED = "ASSIGNMENT_SKIPPED"
    ASSIGNMENT_EXPIRED = "ASSIGNMENT_EXPIRED"
    ASSIGNMENT_APPROVED = "ASSIGNMENT_APPROVED"
    ASSIGNMENT_REJECTED = "ASSIGNMENT_REJECTED"
    MESSAGE_RECEIVED = "MESSAGE_RECEIVED"
    OPERATION_FINISHED = "OPERATION_FINISHED"


def _id_as_text(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


PoolId = Annotated[str, BeforeValidator(_id_as_text), StringConstraints(min_length=1, max_length=64)]


class SubscriptionForm(BaseModel):
    """One item of the PUT list. `id`/`created` are read-only; toloka-kit never sends them."""

    model_config = ConfigDict(extra="forbid")

    webhook_url: str = Field(min_length=1, max_length=MAX_URL_LENGTH)
    event_type: EventType
    pool_id: PoolId | None = None
    secret_key: str | None = Field(None, min_length=1, max_length=255)


class SubscriptionView(BaseModel):
    id: str
    webhook_url: str
    event_type: str
    pool_id: str | None = None
    created: WireDateTime


class SubscriptionBatchResult(BaseModel):
    items: dict[str, SubscriptionView]
    validation_errors: dict[str, Any] = {}


class SubscriptionPage(ListPage[SubscriptionView]):
    pass


class DeliveryView(BaseModel):
    id: str
    attempted_at: WireDateTime
    status_code: int | None = None
    latency_ms: int
    error: str | None = None
    event_count: int


class DeliveryPage(ListPage[DeliveryView]):
    pass
