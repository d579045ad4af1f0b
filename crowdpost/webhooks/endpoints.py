"""Requester API: PUT/GET/DELETE /webhook-subscriptions, as toloka-kit calls them, and the
extension GET /webhook-subscriptions/{id}/deliveries (the log of delivery attempts)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Response

from crowdpost.accounts.auth import RequesterDep
from crowdpost.dependencies import SessionDep, SettingsDep
from crowdpost.kit.list_query import PagingDep
from crowdpost.kit.pagination import list_answer
from crowdpost.kit.routing import WireRoute, json_body
from crowdpost.kit.wire_response import WireJSONResponse, wire
from crowdpost.webhooks import service
from crowdpost.webhooks.schemas import (
    DeliveryPage,
    EventType,
    SubscriptionBatchResult,
    SubscriptionForm,
    SubscriptionPage,
    SubscriptionView,
)
from crowdpost.webhooks.views import delivery_view, subscription_view

router = APIRouter(route_class=WireRoute, tags=["webhooks"])

_LIST_BODY = json_body({"type": "array", "items": SubscriptionForm.model_json_schema()})


@router.put(
    "/webhook-subscriptions",
    response_model=SubscriptionBatchResult,
    summary="Create or update subscriptions (a list; one per url + event_type + pool_id)",
    openapi_extra=_LIST_BODY,
)
def upsert_webhook_subscriptions(
    caller: RequesterDep, session: SessionDep, settings: SettingsDep, body: Any = Body(...)
) -> WireJSONResponse:
    rows = service.do_upsert_subscriptions(session, settings, caller.requester_id, body)
    return wire({"items": {str(i): subscription_view(row) for i, row in sorted(rows.items())}, "validation_errors": {}})


@router.get("/webhook-subscriptions", response_model=SubscriptionPage, summary="List subscriptions")
def find_webhook_subscriptions(
    caller: RequesterDep,
    session: SessionDep,
    paging: PagingDep,
    event_type: EventType | None = None,
    pool_id: str | None = None,
) -> WireJSONResponse:
    rows, has_more = service.list_subscriptions(
        session, caller.requester_id, paging, event_type=event_type.value if event_type else None, pool_id=pool_id
    )
    return wire(list_answer(rows, has_more, subscription_view))


@router.get("/webhook-subscriptions/{subscription_id}", response_model=SubscriptionView, summary="Get a subscription")
def get_webhook_subscription(caller: RequesterDep, session: SessionDep, subscription_id: str) -> WireJSONResponse:
    return wire(subscription_view(service.get_subscription(session, caller.requester_id, subscription_id)))


@router.delete("/webhook-subscriptions/{subscription_id}", status_code=204, summary="Delete a subscription")
def delete_webhook_subscription(caller: RequesterDep, session: SessionDep, subscription_id: str) -> Response:
    service.do_delete_subscription(session, caller.requester_id, subscription_id)
    return Response(status_code=204)


@router.get(
    "/webhook-subscriptions/{subscription_id}/deliveries",
    response_model=DeliveryPage,
    summary="Delivery attempts of a subscription, oldest first (crowdpost extension)",
)
def find_webhook_deliveries(
    caller: RequesterDep, session: SessionDep, subscription_id: str, paging: PagingDep
) -> WireJSONResponse:
    rows, has_more = service.list_deliveries(session, caller.requester_id, subscription_id, paging)
    return wire(list_answer(rows, has_more, delivery_view))
