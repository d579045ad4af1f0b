"""Platform messages from the operator land in requesters' INBOX from role ADMINISTRATOR."""

from __future__ import annotations

import httpx

from tests.fixtures.factories import Admin

THREADS = "/api/v1/message-threads"


def _requester_client(server_url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=server_url, headers={"Authorization": f"OAuth {token}"}, timeout=30)


def test_news_to_all_requesters_and_to_chosen_ones(server_url: str, admin: Admin) -> None:
    first, second, third = (admin.create_requester() for _ in range(3))

    news = admin.http.post(
        "/api/admin/v1/messages",
        json={"topic": {"EN": "Maintenance"}, "text": {"EN": "Sunday 02:00 UTC"}, "all_requesters": True},
    )
    personal = admin.http.post(
        "/api/admin/v1/messages",
        json={"topic": {"EN": "Your limits"}, "text": {"EN": "raised"}, "requester_ids": [second.id]},
    )
    unknown = admin.http.post(
        "/api/admin/v1/messages",
        json={"topic": {"EN": "x"}, "text": {"EN": "y"}, "requester_ids": ["999999999999"]},
    )

    assert news.status_code == 201
    assert news.json()["recipients_count"] == 3
    assert personal.json()["recipients_count"] == 1
    assert unknown.status_code == 400
    with _requester_client(server_url, second.token) as client:
        items = client.get(THREADS, params={"interlocutor_role": "ADMINISTRATOR", "sort": "id"}).json()["items"]
        refused = client.post(f"{THREADS}/{items[0]['id']}/reply", json={"text": {"EN": "thanks"}})
    with _requester_client(server_url, third.token) as client:
        third_items = client.get(THREADS, params={"folder": "INBOX,UNREAD"}).json()["items"]
    assert [t["topic"]["EN"] for t in items] == ["Maintenance", "Your limits"]
    assert set(items[0]["folders"]) == {"INBOX", "UNREAD"}
    assert items[0]["messages"][0]["from"] == {"id": "ADMINISTRATOR", "role": "ADMINISTRATOR"}
    assert refused.status_code == 409
    assert [t["id"] for t in third_items] == [news.json()["id"]]
    assert first.id != second.id


def test_platform_messages_need_the_operator(server_url: str, admin: Admin) -> None:
    requester = admin.create_requester()
    with _requester_client(server_url, requester.token) as client:
        response = client.post(
            "/api/admin/v1/messages", json={"topic": {"EN": "x"}, "text": {"EN": "y"}, "all_requesters": True}
        )
    assert response.status_code == 403
