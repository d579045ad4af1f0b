"""Appeals: a Toloker contests a rejection; the requester sees it with its deadline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from crowdpost.db import Database
from crowdpost.events import AssignmentReviewed, publish
from crowdpost.kit.ids import parse_id
from tests.fixtures.factories import Admin, RequesterInfo
from tests.messaging.helpers import crew, toloker_client

THREADS = "/api/v1/message-threads"


def _rejected(admin: Admin, pool_id: str, user_id: str, days_ago: float) -> str:
    when = (datetime.now(UTC) - timedelta(days=days_ago)).replace(tzinfo=None).isoformat(timespec="milliseconds")
    (assignment_id,) = admin.add_assignments(
        [{"user_id": user_id, "pool_id": pool_id, "status": "REJECTED", "submitted": when, "rejected": when}]
    )
    return assignment_id


def test_appeal_reaches_the_requester_with_meta_and_deadline(
    requester_http: httpx.Client, server_url: str, admin: Admin, db: Database, requester: RequesterInfo
) -> None:
    project_id, pool_id, (worker, other) = crew(db, admin, requester.id, [{}, {}], started=1)
    recent = _rejected(admin, pool_id, worker, days_ago=2)
    old = _rejected(admin, pool_id, worker, days_ago=8)
    (accepted,) = admin.add_assignments([{"user_id": worker, "pool_id": pool_id, "status": "ACCEPTED"}])
    not_mine = _rejected(admin, pool_id, other, days_ago=1)

    with toloker_client(server_url, admin, worker) as toloker:
        appeal = toloker.post(f"/assignments/{recent}/appeal", json={"text": "I followed the <b>instructions</b>"})
        twice = toloker.post(f"/assignments/{recent}/appeal", json={"text": "again"})
        too_late = toloker.post(f"/assignments/{old}/appeal", json={"text": "late"})
        wrong_status = toloker.post(f"/assignments/{accepted}/appeal", json={"text": "why"})
        foreign = toloker.post(f"/assignments/{not_mine}/appeal", json={"text": "hm"})

    assert appeal.status_code == 201, appeal.text
    inbox = requester_http.get(THREADS, params={"folder": "INBOX,UNREAD", "user_id": worker}).json()["items"]
    (thread,) = inbox
    assert thread["id"] == appeal.json()["id"]
    assert thread["meta"] == {"pool_id": pool_id, "project_id": project_id, "assignment_id": recent}
    assert thread["messages"][0]["text"] == {"EN": "I followed the <b>instructions</b>"}
    assert thread["answerable"] is True
    deadline = datetime.fromisoformat(thread["appeal_deadline"])
    rejected_at = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=2)
    assert abs(deadline - (rejected_at + timedelta(days=9))) < timedelta(minutes=5)
    assert twice.status_code == 409
    assert too_late.status_code == 409
    assert wrong_status.status_code == 409
    assert foreign.status_code == 404


def test_accepting_the_assignment_posts_a_note_on_the_appeal(
    requester_http: httpx.Client, server_url: str, admin: Admin, db: Database, requester: RequesterInfo
) -> None:
    _, pool_id, (worker,) = crew(db, admin, requester.id, [{}], started=1)
    assignment = _rejected(admin, pool_id, worker, days_ago=1)
    with toloker_client(server_url, admin, worker) as toloker:
        appeal = toloker.post(f"/assignments/{assignment}/appeal", json={"text": "please check"}).json()
        toloker.post(f"/message-threads/{appeal['id']}/remove-from-folders", json={"folders": ["UNREAD"]})

        assignment_id = parse_id(assignment)
        assert assignment_id is not None
        with db.transaction() as session:
            event = AssignmentReviewed(int(requester.id), assignment_id, worker, "ACCEPTED", "Sorry, our mistake")
            publish(session, event)
            publish(session, AssignmentReviewed(int(requester.id), assignment_id, worker, "REJECTED", None))
        after = toloker.get(f"/message-threads/{appeal['id']}").json()

    assert [m["from"]["role"] for m in after["messages"]] == ["SYSTEM", "USER"]
    assert "accepted" in after["messages"][0]["text"]["EN"]
    assert "Sorry, our mistake" in after["messages"][0]["text"]["EN"]
    assert "UNREAD" in after["folders"]
    requester_view = requester_http.get(f"{THREADS}/{appeal['id']}").json()
    assert len(requester_view["messages"]) == 2


def test_accepting_through_the_api_settles_the_appeal(
    requester_http: httpx.Client, server_url: str, admin: Admin, db: Database, requester: RequesterInfo
) -> None:
    _, pool_id, (worker,) = crew(db, admin, requester.id, [{}], started=1)
    assignment = _rejected(admin, pool_id, worker, days_ago=3)
    with toloker_client(server_url, admin, worker) as toloker:
        appeal = toloker.post(f"/assignments/{assignment}/appeal", json={"text": "please look again"}).json()
        accepted = requester_http.patch(
            f"/api/v1/assignments/{assignment}", json={"status": "ACCEPTED", "public_comment": "You were right"}
        )
        again = requester_http.patch(f"/api/v1/assignments/{assignment}", json={"status": "ACCEPTED"})
        after = toloker.get(f"/message-threads/{appeal['id']}").json()

    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "ACCEPTED"
    assert again.status_code == 409
    assert again.json()["code"] == "INAPPROPRIATE_STATUS"
    roles = [m["from"]["role"] for m in after["messages"]]
    assert roles == ["SYSTEM", "USER"]
    assert "You were right" in after["messages"][0]["text"]["EN"]
