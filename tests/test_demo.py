"""The demo data fills every folder of the Messages page, as the requester API shows it.

Issue 11: `make run` prints the page address and a demo e-mail and password that sign in,
and the demo requester finds Toloker replies (some unread), an open appeal inside its 9-day
window (one close to its deadline), administrator news, system notifications, important
threads, sends of each recipient kind, and bonuses paid with messages. Loading it again
changes nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from crowdpost.accounts.exposure import DEMO_PASSWORD
from crowdpost.accounts.web_sessions import do_sign_in_with_password
from crowdpost.config import Settings
from crowdpost.db import Database
from crowdpost.demo import DEMO_EMAIL, DEMO_REQUESTER_TOKEN, DEMO_TOLOKER_TOKEN, do_load_demo
from crowdpost.models import Bonus, LedgerEntry, Message, MessageThread, Operation, RequesterThread, TolokerThread
from crowdpost.models.message import MessageQuota, RecipientOutcome
from tests.fixtures.factories import settings_for

THREADS = "/api/v1/message-threads"
FOLDERS = ("INBOX", "OUTBOX", "AUTOMATIC_NOTIFICATION", "IMPORTANT", "UNREAD")
COUNTED = (Bonus, LedgerEntry, Message, MessageThread, MessageQuota, Operation, RequesterThread, TolokerThread)


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    # The demo's published token and password work only in development.
    return settings_for(db_url, tmp_path, environment="development")


def _threads(client: httpx.Client, **params: str) -> list[dict[str, Any]]:
    response = client.get(THREADS, params={"limit": "300", **params})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["has_more"] is False
    items: list[dict[str, Any]] = body["items"]
    return items


def _topics(threads: list[dict[str, Any]]) -> list[str]:
    return [t["topic"]["EN"] for t in threads]


def _row_counts(db: Database) -> dict[str, int]:
    with db.transaction(write=False) as session:
        return {m.__name__: session.execute(select(func.count()).select_from(m)).scalar_one() for m in COUNTED}


def _check_every_folder_has_threads(as_demo: httpx.Client) -> None:
    counts = as_demo.get(f"{THREADS}/counts").json()
    listed = {folder: _threads(as_demo, folder=folder) for folder in FOLDERS}
    by_role = {role: _threads(as_demo, interlocutor_role=role) for role in ("USER", "ADMINISTRATOR", "SYSTEM")}

    assert 25 <= counts["total"] <= 60
    for folder in FOLDERS:
        assert counts["folders"][folder]["total"] > 0, folder
        assert len(listed[folder]) == counts["folders"][folder]["total"], folder
        assert all(folder in t["folders"] for t in listed[folder]), folder
    assert counts["folders"]["UNREAD"]["total"] < counts["total"], "some threads have been read"
    for role, threads in by_role.items():
        assert threads, role
    assert by_role["SYSTEM"] == listed["AUTOMATIC_NOTIFICATION"]
    notices = _topics(listed["AUTOMATIC_NOTIFICATION"])
    assert any(t.startswith("Pool ") and t.endswith(" closed") for t in notices), notices
    assert any(t.startswith("Operation ") for t in notices), notices
    assert {"UNREAD"} <= {f for t in by_role["ADMINISTRATOR"] for f in t["folders"]}


def _check_toloker_replies_some_unread_and_answered(as_demo: httpx.Client) -> None:
    replies = [t for t in _threads(as_demo, folder="INBOX", interlocutor_role="USER") if "appeal_deadline" not in t]
    unread = [t for t in replies if "UNREAD" in t["folders"]]
    answered = [t for t in replies if [m["from"]["role"] for m in t["messages"]].count("REQUESTER") >= 1]

    assert len(replies) >= 10
    assert 0 < len(unread) < len(replies)
    assert answered, "the requester answered some replies"
    assert all(t["parent_id"] for t in replies), "each reply sits under the send it answers"
    languages = {lang for t in replies for m in t["messages"] for lang in m["text"]}
    assert {"EN", "RU"} <= languages


def _check_open_appeals_inside_their_window(as_demo: httpx.Client) -> None:
    appeals = [t for t in _threads(as_demo, folder="INBOX") if "appeal_deadline" in t]
    now = datetime.now(UTC).replace(tzinfo=None)
    left = sorted(datetime.fromisoformat(t["appeal_deadline"]) - now for t in appeals)
    open_ones = [d for d in left if d > timedelta(0)]

    assert open_ones, "an appeal is still open"
    assert all(d <= timedelta(days=9) for d in left), "deadlines lie within 9 days of a rejection"
    assert any(d <= timedelta(days=2) for d in open_ones), "one deadline is close (red on the page)"
    assert any(d > timedelta(days=2) for d in open_ones), "and one is not"
    assert any(d <= timedelta(0) for d in left), "one appeal was settled already"
    for thread in appeals:
        assert set(thread["meta"]) == {"pool_id", "project_id", "assignment_id"}
        assert thread["answerable"] is True


def _check_sends_of_each_recipient_kind(as_demo: httpx.Client) -> None:
    sent = _threads(as_demo, folder="OUTBOX")
    kinds = {t["compose_details"]["recipients_select_type"] for t in sent if t["answerable"]}
    links = [m for t in sent for m in t["messages"] for text in m["text"].values() if "/tasks?projectId=" in text]

    assert kinds == {"DIRECT", "FILTER", "ALL"}
    assert all(t["delivery"]["delivered"] > 0 for t in sent)
    assert any("recipients_filter" in t["compose_details"] for t in sent)
    assert links, "some sends link to a project in the allowed form"
    assert any("<li>" in text for t in sent for m in t["messages"] for text in m["text"].values())
    dates = sorted(datetime.fromisoformat(t["created"]) for t in sent)
    assert dates[-1] - dates[0] > timedelta(days=14), "the sends are spread over weeks"


def _check_bonuses_paid_with_messages_reach_the_toloker(as_demo: httpx.Client, server_url: str) -> None:
    bonuses = as_demo.get("/api/v1/user-bonuses", params={"limit": "300"}).json()["items"]
    headers = {"Authorization": f"OAuth {DEMO_TOLOKER_TOKEN}"}
    with httpx.Client(base_url=f"{server_url}/api/toloker/v1", headers=headers, timeout=30) as toloker:
        mine = toloker.get("/bonuses").json()["items"]
        notices = toloker.get("/message-threads", params={"folder": "AUTOMATIC_NOTIFICATION"}).json()["items"]

    assert len(bonuses) >= 10
    assert all(b["public_message"] and b["public_title"] for b in bonuses)
    assert mine
    assert {b["id"] for b in mine} <= {b["id"] for b in bonuses}
    assert any(t["topic"] and "onus" in next(iter(t["topic"].values())) for t in notices), notices


def test_the_demo_fills_every_folder_once(db: Database, settings: Settings, server_url: str) -> None:
    """One load per backend (it is the slow part), then every check through the API, then a
    second load that must change nothing."""
    with db.transaction() as session:
        demo = do_load_demo(session, settings)
    headers = {"Authorization": f"OAuth {DEMO_REQUESTER_TOKEN}"}
    with httpx.Client(base_url=server_url, headers=headers, timeout=30) as as_demo:
        _check_every_folder_has_threads(as_demo)
        _check_toloker_replies_some_unread_and_answered(as_demo)
        _check_open_appeals_inside_their_window(as_demo)
        _check_sends_of_each_recipient_kind(as_demo)
        _check_bonuses_paid_with_messages_reach_the_toloker(as_demo, server_url)

        counts = as_demo.get(f"{THREADS}/counts").json()
        rows = _row_counts(db)
        with db.transaction() as session:
            again = do_load_demo(session, settings)
        after = as_demo.get(f"{THREADS}/counts").json()
    signed_in = do_sign_in_with_password(db, settings, DEMO_EMAIL, DEMO_PASSWORD)

    assert demo.created is True
    assert again.created is False
    assert again.requester_id == demo.requester_id
    assert after == counts
    assert _row_counts(db) == rows
    assert signed_in.ok, signed_in.message
    # Today's send quotas are left free to try: the demo's sends count on the days they were made.
    today = datetime.now(UTC).date()
    with db.transaction(write=False) as session:
        used_today = session.execute(
            select(func.coalesce(func.sum(MessageQuota.used), 0)).where(MessageQuota.day == today)
        ).scalar_one()
    assert used_today == 0
    # A month of sends, each on its own day: the bulk cap (a week of them) left nobody out.
    with db.transaction(write=False) as session:
        outcomes = dict(
            session.execute(select(RecipientOutcome.outcome, func.count()).group_by(RecipientOutcome.outcome)).all()
        )
    assert outcomes.get("DELIVERED", 0) > 0
    assert "LEFT_OUT_CAPPED" not in outcomes, outcomes


def test_the_demo_command_prints_where_and_how_to_sign_in(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "CROWDPOST_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        "CROWDPOST_PUBLIC_URL": "http://127.0.0.1:8123",
        "CROWDPOST_ENVIRONMENT": "development",
        "CROWDPOST_LOG_JSON": "false",
        "COLUMNS": "200",
    }
    result = subprocess.run(
        [sys.executable, "-m", "crowdpost", "demo"], env=env, capture_output=True, text=True, timeout=120, check=False
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Sign in at http://127.0.0.1:8123/sign-in" in result.stdout
    assert f"e-mail: {DEMO_EMAIL}" in result.stdout
    assert f"password: {DEMO_PASSWORD}" in result.stdout
    assert DEMO_REQUESTER_TOKEN in result.stdout
