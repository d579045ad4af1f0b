"""The Toloker API: their threads in their language, replies into a private thread, isolation."""

from __future__ import annotations

import httpx

from crowdpost.db import Database
from tests.fixtures.factories import Admin, RequesterInfo
from tests.messaging.helpers import compose_body, crew, toloker_client

COMPOSE = "/api/v1/message-threads/compose"
THREADS = "/api/v1/message-threads"


def test_toloker_sees_sends_in_their_language_and_marks_them(
    requester_http: httpx.Client, server_url: str, admin: Admin, db: Database, requester: RequesterInfo
) -> None:
    _, _, (german, french, english) = crew(
        db, admin, requester.id, [{"languages": ["DE", "EN"]}, {"languages": ["FR"]}, {"languages": ["EN"]}]
    )
    body = compose_body(
        "ALL",
        topic={"EN": "Hello", "DE": "Hallo", "RU": "Привет"},
        text={"EN": "Thanks", "DE": "Danke", "RU": "Спасибо"},
    )
    sent = requester_http.post(COMPOSE, json=body).json()

    with toloker_client(server_url, admin, german) as de, toloker_client(server_url, admin, french) as fr:
        de_page = de.get("/message-threads").json()
        fr_thread = fr.get(f"/message-threads/{sent['id']}").json()
        unread = de.get("/message-threads", params={"folder": "UNREAD"}).json()["items"]
        marked = de.post(f"/message-threads/{sent['id']}/remove-from-folders", json={"folders": ["UNREAD"]}).json()
        important = de.post(f"/message-threads/{sent['id']}/add-to-folders", json={"folders": ["IMPORTANT"]}).json()
        counts = de.get("/message-threads/counts").json()

    (de_thread,) = de_page["items"]
    assert de_thread["id"] == sent["id"]
    assert de_thread["topic"] == {"DE": "Hallo"}
    assert de_thread["messages"][0]["text"] == {"DE": "Danke"}
    assert de_thread["messages"][0]["from"] == {"id": requester.id, "role": "REQUESTER"}
    assert {"id": german, "role": "USER", "myself": True} in de_thread["interlocutors"]
    assert "compose_details" not in de_thread
    assert fr_thread["topic"] == {"EN": "Hello"}  # no French text: EN
    assert [t["id"] for t in unread] == [sent["id"]]
    assert set(marked["folders"]) == {"INBOX"}
    assert set(important["folders"]) == {"INBOX", "IMPORTANT"}
    assert counts["folders"]["IMPORTANT"] == {"total": 1, "unread": 0}
    assert english  # the third Toloker got it too (checked through delivery)
    assert sent["delivery"]["delivered"] == 3


def test_toloker_reply_opens_a_private_thread_with_the_requester(
    requester_http: httpx.Client, server_url: str, admin: Admin, db: Database, requester: RequesterInfo
) -> None:
    _, _, (alice, bob) = crew(db, admin, requester.id, [{}, {}])
    sent = requester_http.post(COMPOSE, json=compose_body(recipients_ids=[alice, bob])).json()

    with toloker_client(server_url, admin, alice) as a, toloker_client(server_url, admin, bob) as b:
        first = a.post(f"/message-threads/{sent['id']}/reply", json={"text": {"EN": "Q1 <script>x()</script>"}})
        again = a.post(f"/message-threads/{sent['id']}/reply", json={"text": {"EN": "Q2"}})
        inbox = requester_http.get(THREADS, params={"folder": "INBOX,UNREAD"}).json()["items"]
        answer = requester_http.post(f"{THREADS}/{first.json()['id']}/reply", json={"text": {"EN": "A1"}})
        alice_view = a.get(f"/message-threads/{first.json()['id']}").json()
        bob_list = b.get("/message-threads").json()["items"]
        bob_peek = b.get(f"/message-threads/{first.json()['id']}")
        bob_reply = b.post(f"/message-threads/{first.json()['id']}/reply", json={"text": {"EN": "me too"}})

    assert first.status_code == 201
    conversation = first.json()
    assert conversation["id"] != sent["id"]
    assert conversation["parent_id"] == sent["id"]
    assert again.json()["id"] == conversation["id"]
    (thread,) = inbox
    assert thread["id"] == conversation["id"]
    assert set(thread["folders"]) == {"INBOX", "UNREAD"}
    assert [m["text"]["EN"] for m in thread["messages"]] == ["Q2", "Q1 "]
    assert thread["messages"][0]["from"] == {"id": alice, "role": "USER"}
    assert [i["id"] for i in thread["interlocutors"]] == sorted([requester.id, alice])
    assert answer.status_code == 201
    assert "UNREAD" not in answer.json()["folders"]
    assert [m["text"]["EN"] for m in alice_view["messages"]] == ["A1", "Q2", "Q1 "]
    assert set(alice_view["folders"]) == {"INBOX", "OUTBOX", "UNREAD"}
    assert [t["id"] for t in bob_list] == [sent["id"]]
    assert bob_peek.status_code == 404
    assert bob_reply.status_code == 404


def test_non_answerable_threads_refuse_toloker_replies_and_roles_are_kept_apart(
    requester_http: httpx.Client, server_url: str, admin: Admin, db: Database, requester: RequesterInfo
) -> None:
    _, _, (worker,) = crew(db, admin, requester.id, [{}])
    sent = requester_http.post(COMPOSE, json=compose_body(recipients_ids=[worker], answerable=False)).json()

    with toloker_client(server_url, admin, worker) as toloker:
        refused = toloker.post(f"/message-threads/{sent['id']}/reply", json={"text": {"EN": "hi"}})
        requester_api = toloker.get(f"{server_url}{THREADS}")
    as_requester = requester_http.get("/api/toloker/v1/message-threads")

    assert refused.status_code == 409
    assert refused.json()["code"] == "CONFLICT_STATE"
    assert requester_http.get(THREADS, params={"folder": "INBOX"}).json()["items"] == []
    assert requester_api.status_code == 403
    assert as_requester.status_code == 403
