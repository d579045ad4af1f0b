"""`/webhook-subscriptions` through the real toloka-kit 1.2.3 against a live server; both backends."""

from __future__ import annotations

from itertools import pairwise

import httpx
import pytest
from toloka.client import TolokaClient
from toloka.client.exceptions import DoesNotExistApiError, ValidationApiError
from toloka.client.webhook_subscription import WebhookSubscription

from crowdpost.db import Database
from tests.fixtures.factories import Admin, RequesterInfo, create_project_and_pool

EventType = WebhookSubscription.EventType


def _client(server_url: str, info: RequesterInfo) -> TolokaClient:
    return TolokaClient(info.token, url=server_url, retries=0)


def _sub(
    url: str, event: EventType | str, pool_id: str | None = None, secret_key: str | None = None
) -> WebhookSubscription:
    return WebhookSubscription(webhook_url=url, event_type=event, pool_id=pool_id, secret_key=secret_key)


def _upsert(client: TolokaClient, *subs: WebhookSubscription) -> dict[str, WebhookSubscription]:
    result = client.upsert_webhook_subscriptions(list(subs))
    assert result.items is not None
    return result.items


def _id(sub: WebhookSubscription) -> str:
    assert sub.id is not None
    return sub.id


def test_toloka_kit_creates_lists_gets_and_deletes(server_url: str, db: Database, requester: RequesterInfo) -> None:
    client = _client(server_url, requester)
    _, pool_id = create_project_and_pool(db, requester.id)

    created = _upsert(
        client,
        _sub("http://127.0.0.1:9/a", EventType.POOL_CLOSED, pool_id),
        _sub("http://127.0.0.1:9/a", EventType.ASSIGNMENT_APPROVED, pool_id, secret_key="k1"),
        _sub("http://127.0.0.1:9/b", "MESSAGE_RECEIVED"),
    )

    assert sorted(created) == ["0", "1", "2"]
    closed, approved, messages = (created[k] for k in ("0", "1", "2"))
    assert closed.event_type == EventType.POOL_CLOSED
    assert closed.pool_id == pool_id
    assert approved.webhook_url == "http://127.0.0.1:9/a"
    assert approved.created is not None
    assert messages.pool_id is None
    assert approved.secret_key is None  # never shown back
    assert len({closed.id, approved.id, messages.id}) == 3

    # Upsert by (url, event_type, pool_id): the same subscription, not a second one.
    assert _upsert(client, _sub("http://127.0.0.1:9/a", EventType.POOL_CLOSED, pool_id))["0"].id == closed.id
    assert _upsert(client, _sub("http://127.0.0.1:9/b", "MESSAGE_RECEIVED"))["0"].id == messages.id

    listed = list(client.get_webhook_subscriptions(batch_size=2))
    assert [s.id for s in listed] == [closed.id, approved.id, messages.id]
    by_pool = client.find_webhook_subscriptions(pool_id=pool_id, sort=["id"])
    assert [s.id for s in by_pool.items or []] == [closed.id, approved.id]
    by_type = client.find_webhook_subscriptions(event_type=EventType.ASSIGNMENT_APPROVED)
    assert [s.id for s in by_type.items or []] == [approved.id]

    got = client.get_webhook_subscription(_id(approved))
    assert (got.id, got.event_type, got.pool_id) == (approved.id, EventType.ASSIGNMENT_APPROVED, pool_id)

    client.delete_webhook_subscription(_id(approved))
    with pytest.raises(DoesNotExistApiError):
        client.get_webhook_subscription(_id(approved))
    assert [s.id for s in client.get_webhook_subscriptions()] == [closed.id, messages.id]


def test_subscriptions_of_one_upsert_each_get_their_own_created_so_toloka_kit_pages_them_all(
    server_url: str, requester: RequesterInfo
) -> None:
    # toloka-kit pages by `created_gt` of the last one seen: two sharing a millisecond (one
    # request writes several well within one) would drop the second from the listing.
    client = _client(server_url, requester)
    first = _upsert(client, *(_sub(f"http://127.0.0.1:9/{n}", "MESSAGE_RECEIVED") for n in range(7)))
    again = _upsert(client, *(_sub(f"http://127.0.0.1:9/{n}", "POOL_CLOSED") for n in range(5)))
    created = [s.created for s in [*first.values(), *again.values()]]
    assert all(a is not None and b is not None and a < b for a, b in pairwise(created))

    listed = list(client.get_webhook_subscriptions(batch_size=2))
    assert [s.id for s in listed] == [s.id for s in [*first.values(), *again.values()]]


def test_another_requesters_subscription_is_404(server_url: str, admin: Admin, requester: RequesterInfo) -> None:
    mine = _client(server_url, requester)
    other = admin.create_requester()
    theirs = _client(server_url, other)
    sub_id = _id(_upsert(theirs, _sub("http://127.0.0.1:9/x", "OPERATION_FINISHED"))["0"])

    with pytest.raises(DoesNotExistApiError):
        mine.get_webhook_subscription(sub_id)
    with pytest.raises(DoesNotExistApiError):
        mine.delete_webhook_subscription(sub_id)
    with httpx.Client(base_url=server_url, headers={"Authorization": f"OAuth {requester.token}"}) as http:
        assert http.get(f"/api/v1/webhook-subscriptions/{sub_id}/deliveries").status_code == 404
    assert list(mine.get_webhook_subscriptions()) == []
    assert theirs.get_webhook_subscription(sub_id).id == sub_id


def test_invalid_items_store_nothing(server_url: str, db: Database, admin: Admin, requester: RequesterInfo) -> None:
    client = _client(server_url, requester)
    other = admin.create_requester()
    _, others_pool = create_project_and_pool(db, other.id)

    with pytest.raises(ValidationApiError) as caught:
        _upsert(
            client,
            _sub("http://127.0.0.1:9/ok", "POOL_CLOSED"),
            _sub("ftp://127.0.0.1/x", "POOL_CLOSED"),
            _sub("http://127.0.0.1:9/ok", "POOL_CLOSED", others_pool),
        )

    assert caught.value.status_code == 400
    payload = caught.value.payload
    assert isinstance(payload, dict)
    assert set(payload) == {"1", "2"}
    assert "webhook_url" in payload["1"]
    assert "pool_id" in payload["2"]
    assert list(client.get_webhook_subscriptions()) == []


@pytest.mark.parametrize("webhook_allow_private", [False])
def test_ssrf_guard_refuses_private_urls_at_subscription_time(server_url: str, requester: RequesterInfo) -> None:
    urls = ["http://127.0.0.1/hook", "http://169.254.169.254/latest/meta-data/", "http://[::1]/", "http://0x0a.0.0.1/"]
    with httpx.Client(base_url=server_url, headers={"Authorization": f"OAuth {requester.token}"}) as http:
        for url in urls:
            response = http.put(
                "/api/v1/webhook-subscriptions", json=[{"webhook_url": url, "event_type": "POOL_CLOSED"}]
            )
            assert response.status_code == 400, url
            body = response.json()
            assert body["code"] == "VALIDATION_ERROR"
            assert body["request_id"]
            assert "private" in body["payload"]["0"]["webhook_url"]["message"]
        assert http.get("/api/v1/webhook-subscriptions").json()["items"] == []
