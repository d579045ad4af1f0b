"""What became of every addressed Toloker of a send: the outcome rows, the counts on the sent
thread, read and replied as the Toloker reads and replies, the recipients list and its paging."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from crowdpost.db import Database
from crowdpost.kit.timefmt import utcnow
from crowdpost.models import RecipientOutcome, UserRestriction
from tests.fixtures.factories import Admin, RequesterInfo
from tests.messaging.helpers import compose_body, crew, toloker_client

COMPOSE = "/api/v1/message-threads/compose"
THREADS = "/api/v1/message-threads"
OUTCOMES = ("DELIVERED", "LEFT_OUT_BANNED", "LEFT_OUT_UNKNOWN", "LEFT_OUT_NOT_YOURS", "LEFT_OUT_CAPPED")


def ban(db: Database, requester_id: str, user_id: str) -> None:
    with db.transaction() as session:
        session.add(
            UserRestriction(requester_id=int(requester_id), user_id=user_id, scope="ALL_PROJECTS", created=utcnow())
        )


def send(client: httpx.Client, body: dict[str, Any], **params: str) -> dict[str, Any]:
    response = client.post(COMPOSE, json=body, params=params)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


def recipients(client: httpx.Client, thread_id: str, **params: str) -> list[dict[str, Any]]:
    """Every row of the thread's recipients list, following `id_gt` pages of `limit`."""
    rows: list[dict[str, Any]] = []
    params.setdefault("limit", "300")
    while True:
        page = client.get(f"{THREADS}/{thread_id}/recipients", params=params)
        assert page.status_code == 200, page.text
        rows += page.json()["items"]
        if not page.json()["has_more"]:
            return rows
        params["id_gt"] = rows[-1]["id"]


def by_user(rows: list[dict[str, Any]]) -> dict[str, str]:
    return {row["user_id"]: row["outcome"] for row in rows}


def tally(rows: list[dict[str, Any]]) -> dict[str, int]:
    return {outcome: sum(1 for row in rows if row["outcome"] == outcome) for outcome in OUTCOMES}


def test_a_mixed_direct_send_records_every_outcome(
    requester_http: httpx.Client, admin: Admin, db: Database, requester: RequesterInfo
) -> None:
    _, _, (good, banned) = crew(db, admin, requester.id, [{}, {}])
    ban(db, requester.id, banned)
    stranger = admin.create_toloker()  # a Toloker who never worked for this requester
    nobody = "no-such-toloker"

    thread = send(requester_http, compose_body(recipients_ids=[good, banned, nobody, stranger, good]))
    rows = recipients(requester_http, thread["id"])

    assert by_user(rows) == {
        good: "DELIVERED",
        banned: "LEFT_OUT_BANNED",
        nobody: "LEFT_OUT_UNKNOWN",
        stranger: "LEFT_OUT_NOT_YOURS",
    }
    assert len(rows) == 4  # the repeated id is addressed once
    assert thread["outcomes"] == tally(rows)
    assert thread["delivery"] == {"delivered": 1, "banned": 1, "unknown": 1}
    assert all(row["read"] is False and row["read_at"] is None for row in rows)
    assert all(row["replied"] is False and row["reply_thread_id"] is None for row in rows)
    assert [row["id"] for row in rows] == sorted(row["id"] for row in rows)
    # The thread as listed carries the same counts.
    listed = requester_http.get(THREADS, params={"folder": "OUTBOX"}).json()["items"]
    assert [t["outcomes"] for t in listed] == [thread["outcomes"]]


def test_filter_and_all_sends_record_exact_outcomes(
    requester_http: httpx.Client, admin: Admin, db: Database, requester: RequesterInfo
) -> None:
    _, _, (fr_1, fr_banned, gb_1, gb_2) = crew(db, admin, requester.id, [{"country": "FR"}, {"country": "FR"}, {}, {}])
    _, _, (once,) = crew(db, admin, requester.id, [{"country": "FR"}], started=1)  # too few for ALL
    ban(db, requester.id, fr_banned)
    other = admin.create_requester()
    crew(db, admin, other.id, [{"country": "FR"}])  # another requester's: never addressed

    french = send(
        requester_http,
        compose_body(
            "FILTER", recipients_filter={"category": "profile", "key": "country", "operator": "EQ", "value": "FR"}
        ),
    )
    everyone = send(requester_http, compose_body("ALL", text={"EN": "to all"}))

    french_rows = recipients(requester_http, french["id"])
    everyone_rows = recipients(requester_http, everyone["id"])
    assert by_user(french_rows) == {fr_1: "DELIVERED", fr_banned: "LEFT_OUT_BANNED", once: "DELIVERED"}
    assert by_user(everyone_rows) == {
        fr_1: "DELIVERED",
        fr_banned: "LEFT_OUT_BANNED",
        gb_1: "DELIVERED",
        gb_2: "DELIVERED",
    }
    assert french["outcomes"] == tally(french_rows)
    assert everyone["outcomes"] == tally(everyone_rows)
    assert everyone["outcomes"]["DELIVERED"] == everyone["delivery"]["delivered"] == 3


def test_read_and_replied_follow_the_toloker(
    requester_http: httpx.Client, server_url: str, admin: Admin, db: Database, requester: RequesterInfo
) -> None:
    _, _, (reader, replier, all_reader, silent) = crew(db, admin, requester.id, [{}, {}, {}, {}])
    thread = send(requester_http, compose_body(recipients_ids=[reader, replier, all_reader, silent]))
    tid = thread["id"]

    with toloker_client(server_url, admin, reader) as toloker:
        marked = toloker.post(f"/message-threads/{tid}/remove-from-folders", json={"folders": ["UNREAD"]})
        assert marked.status_code == 201
    with toloker_client(server_url, admin, replier) as toloker:
        reply = toloker.post(f"/message-threads/{tid}/reply", json={"text": {"EN": "Got it"}})
        assert reply.status_code == 201
    with toloker_client(server_url, admin, all_reader) as toloker:
        assert toloker.post("/message-threads/mark-all-read").status_code == 200

    rows = {row["user_id"]: row for row in recipients(requester_http, tid)}
    assert rows[reader]["read"] is True
    assert rows[reader]["read_at"] is not None
    assert rows[all_reader]["read"] is True
    assert rows[replier]["replied"] is True
    assert rows[replier]["reply_thread_id"] == reply.json()["id"]
    assert rows[replier]["read"] is False  # replying is not reading the thread itself
    assert (rows[silent]["read"], rows[silent]["replied"]) == (False, False)
    assert {uid for uid, row in rows.items() if row["replied"]} == {replier}

    def users(**params: str) -> set[str]:
        return {row["user_id"] for row in recipients(requester_http, tid, **params)}

    assert users(read="true") == {reader, all_reader}
    assert users(read="false") == {replier, silent}
    assert users(replied="true") == {replier}
    assert users(replied="false", read="false") == {silent}

    # The requester writes again: the thread is unread for everyone, but who read it stays read.
    first_read = rows[reader]["read_at"]
    assert requester_http.post(f"{THREADS}/{tid}/reply", json={"text": {"EN": "One more thing"}}).status_code == 201
    with toloker_client(server_url, admin, reader) as toloker:
        assert "UNREAD" in toloker.get(f"/message-threads/{tid}").json()["folders"]
        toloker.post(f"/message-threads/{tid}/remove-from-folders", json={"folders": ["UNREAD"]})
    again = {row["user_id"]: row for row in recipients(requester_http, tid)}
    assert again[reader]["read_at"] == first_read


def test_recipients_page_by_id_and_filter_and_stay_private(
    requester_http: httpx.Client, server_url: str, admin: Admin, db: Database, requester: RequesterInfo
) -> None:
    _, _, team = crew(db, admin, requester.id, [{} for _ in range(5)])
    ban(db, requester.id, team[0])
    thread = send(requester_http, compose_body(recipients_ids=[*team, "ghost-1", "ghost-2"]))
    tid = thread["id"]

    everything = recipients(requester_http, tid)
    in_twos = recipients(requester_http, tid, limit="2")
    assert in_twos == everything
    assert len(everything) == 7
    first = requester_http.get(f"{THREADS}/{tid}/recipients", params={"limit": "3"}).json()
    assert first["has_more"] is True
    assert [row["id"] for row in first["items"]] == [row["id"] for row in everything[:3]]
    after = requester_http.get(f"{THREADS}/{tid}/recipients", params={"id_gt": everything[4]["id"]}).json()
    assert after == {"items": everything[5:], "has_more": False}
    assert by_user(recipients(requester_http, tid, outcome="LEFT_OUT_UNKNOWN")) == {
        "ghost-1": "LEFT_OUT_UNKNOWN",
        "ghost-2": "LEFT_OUT_UNKNOWN",
    }
    assert {row["user_id"] for row in recipients(requester_http, tid, outcome="DELIVERED", limit="1")} == set(team[1:])
    assert requester_http.get(f"{THREADS}/{tid}/recipients", params={"outcome": "LOST"}).status_code == 400

    # Another requester: 404, as for any thread that is not theirs.
    other = admin.create_requester()
    with httpx.Client(base_url=server_url, headers={"Authorization": f"OAuth {other.token}"}) as stranger:
        missing = stranger.get(f"{THREADS}/{tid}/recipients")
        assert missing.status_code == 404
        assert missing.json()["code"] == "DOES_NOT_EXIST"
    # A Toloker's reply thread in the requester's INBOX is no send: it has no recipients list.
    with toloker_client(server_url, admin, team[1]) as toloker:
        conversation = toloker.post(f"/message-threads/{tid}/reply", json={"text": {"EN": "ok"}}).json()["id"]
    assert requester_http.get(f"{THREADS}/{conversation}/recipients").status_code == 404
    with db.transaction(write=False) as session:
        stored = session.scalars(select(RecipientOutcome.requester_id).distinct()).all()
    assert stored == [int(requester.id)]
