"""Response shapes of the operator outbox API (for the OpenAPI document)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from crowdpost.kit.schemas import ListPage


class OutboxRowView(BaseModel):
    id: str
    channel: str
    kind: str
    requester_id: str | None = None
    user_id: str | None = None
    ref_id: str | None = None
    ordering_key: str | None = None
    status: str
    attempts: int
    next_attempt_at: str | None = None
    last_error: str | None = Field(
        None,
        description="Why the last attempt did not deliver; on a DONE row, why nothing was sent "
        "(e.g. 'suppressed: the e-mail address is not verified'), or null",
    )
    created: str | None = None
    delivered_at: str | None = None


class OutboxPage(ListPage[OutboxRowView]):
    pass
