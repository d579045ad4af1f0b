"""Operators' view of the outbox through a live server: list, retry, /metrics, /readyz, CLI."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update

from crowdpost.config import Settings
from crowdpost.db import Database
from crowdpost.kit.timefmt import utcnow
from crowdpost.models import OutboxItem
from crowdpost.outbox import channels, delivery, repository
from crowdpost.outbox.channels import Outcome
from tests.fixtures.factories import Admin, RequesterInfo
from tests.test_cli import run_cli


def _add(db: Database, channel: str, kind: str, n: int) -> None:
    with db.transaction() as session:
        for i in range(n):
            repository.enqueue(session, channel=channel, kind=kind, ref_id=i)


def _set(db: Database, ids: list[int] | None = None, **values: object) -> None:
    with db.transaction() as session:
        stmt = update(OutboxItem).values(**values)
        if ids is not None:
            stmt = stmt.where(OutboxItem.id.in_(ids))
        session.execute(stmt)


def test_list_filters_pages_and_retry(db: Database, admin: Admin, requester: RequesterInfo, server_url: str) -> None:
    _add(db, "email", "NEW_MESSAGE", 3)
    _add(db, "webhook", "POOL_CLOSED", 2)
    listing = admin.http.get("/api/admin/v1/outbox", params={"limit": 300}).json()
    ids = [int(item["id"]) for item in listing["items"]]
    assert len(ids) == 5
    assert listing["has_more"] is False
    _set(db, ids[:2], status="FAILED", last_error="550 no such user")
    _set(db, ids[3:4], status="FAILED", last_error="410 Gone")

    failed = admin.http.get("/api/admin/v1/outbox", params={"status": "failed", "limit": 1}).json()
    assert [item["id"] for item in failed["items"]] == [str(ids[0])]
    assert failed["has_more"] is True
    assert failed["items"][0]["last_error"] == "550 no such user"
    rest = admin.http.get("/api/admin/v1/outbox", params={"status": "FAILED", "id_gt": ids[0]}).json()
    assert [item["id"] for item in rest["items"]] == [str(ids[1]), str(ids[3])]
    webhooks = admin.http.get("/api/admin/v1/outbox", params={"status": "failed", "channel": "webhook"}).json()
    assert [(i["id"], i["kind"]) for i in webhooks["items"]] == [(str(ids[3]), "POOL_CLOSED")]

    retried = admin.http.post(f"/api/admin/v1/outbox/{ids[0]}/retry")
    assert retried.status_code == 200, retried.text
    assert (retried.json()["status"], retried.json()["attempts"]) == ("PENDING", 0)
    again = admin.http.post(f"/api/admin/v1/outbox/{ids[0]}/retry")
    assert (again.status_code, again.json()["code"]) == (409, "CONFLICT_STATE")
    assert admin.http.post(f"/api/admin/v1/outbox/{ids[2]}/retry").status_code == 409  # PENDING
    missing = admin.http.post("/api/admin/v1/outbox/999999999/retry")
    assert (missing.status_code, missing.json()["code"]) == (404, "DOES_NOT_EXIST")
    assert admin.http.post(f"/api/admin/v1/outbox/{2**70}/retry").status_code == 400
    assert admin.http.get("/api/admin/v1/outbox", params={"status": "LOST"}).status_code == 400
    assert admin.http.get("/api/admin/v1/outbox", params={"limit": 100000}).status_code == 400

    # Only the operator: no token, or a requester's token, changes and shows nothing.
    with httpx.Client(base_url=server_url) as anonymous:
        assert anonymous.get("/api/admin/v1/outbox").status_code == 401
        assert anonymous.post(f"/api/admin/v1/outbox/{ids[1]}/retry").status_code == 401
    with httpx.Client(base_url=server_url, headers={"Authorization": f"OAuth {requester.token}"}) as other:
        assert other.get("/api/admin/v1/outbox").status_code in (401, 403)
        assert other.post(f"/api/admin/v1/outbox/{ids[1]}/retry").status_code in (401, 403)
    still = admin.http.get("/api/admin/v1/outbox", params={"status": "failed"}).json()
    assert [item["id"] for item in still["items"]] == [str(ids[1]), str(ids[3])]


def _metric(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    match = re.search(rf"^{name}\{{{re.escape(wanted)}\}} (\S+)$", text, re.MULTILINE)
    assert match, f"{name}{{{wanted}}} not in /metrics"
    return float(match.group(1))


def test_metrics_and_readyz(db: Database, settings: Settings, http: httpx.Client) -> None:
    _add(db, "email", "NEW_MESSAGE", 4)
    _add(db, "webhook", "POOL_CLOSED", 1)
    with db.transaction(write=False) as session:
        oldest_id = min(item.id for item in session.query(OutboxItem).where(OutboxItem.channel == "email"))
    _set(db, [oldest_id], created=utcnow() - timedelta(minutes=10))
    text = http.get("/metrics").text
    assert _metric(text, "crowdpost_outbox_pending", channel="email") == 4
    assert _metric(text, "crowdpost_outbox_pending", channel="webhook") == 1
    assert 600 <= _metric(text, "crowdpost_outbox_oldest_pending_age_seconds", channel="email") < 3600

    # SMTP is not configured in tests: ready (the API serves), and it says why e-mail waits.
    ready = http.get("/readyz")
    assert ready.status_code == 200
    assert "SMTP" in ready.json()["outbox"]["email"]

    # The delivery counter moves with deliveries (a test channel of its own: the counter is
    # process-wide and this test runs once per backend).
    name = f"metrics-{uuid.uuid4().hex[:8]}"
    channels.register_channel(name, lambda db, s, rows: [Outcome.delivered() for _ in rows])
    try:
        _add(db, name, "K", 3)
        assert delivery.deliver_pending(db, settings) >= 3
        text = http.get("/metrics").text
    finally:
        channels.unregister_channel(name)
    assert _metric(text, "crowdpost_outbox_deliveries_total", channel=name, outcome="delivered") == 3
    assert _metric(text, "crowdpost_outbox_pending", channel=name) == 0


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_cli_counts_by_status_and_channel(db: Database, settings: Settings) -> None:
    _add(db, "email", "NEW_MESSAGE", 3)
    _add(db, "webhook", "POOL_CLOSED", 2)
    with db.transaction(write=False) as session:
        first = min(item.id for item in session.query(OutboxItem))
    _set(db, [first], status="FAILED")
    _set(db, None, created=utcnow() - timedelta(seconds=125))
    out = run_cli(settings.effective_database_url, "admin", "outbox").stdout
    lines = [line.split() for line in out.splitlines()]
    assert ["FAILED", "email", "1"] in lines
    assert ["PENDING", "email", "2"] in lines
    assert ["PENDING", "webhook", "2"] in lines
    age = re.search(r"oldest pending: (\d+) s", out)
    assert age, out
    assert 125 <= int(age.group(1)) < 600


def test_a_settled_rows_note_is_listed_and_a_plain_delivery_clears_the_last_error(
    db: Database, settings: Settings, admin: Admin
) -> None:
    name = f"notes-{uuid.uuid4().hex[:8]}"
    notes = {0: Outcome.settled("suppressed: e-mail for NEW_MESSAGE is switched off"), 1: Outcome.delivered()}
    channels.register_channel(name, lambda db, s, rows: [notes[r.ref_id or 0] for r in rows])
    try:
        _add(db, name, "K", 2)
        with db.transaction(write=False) as session:
            ids = sorted(item.id for item in session.query(OutboxItem).where(OutboxItem.channel == name))
        _set(db, ids, last_error="451 try later")  # an earlier attempt's error
        assert delivery.deliver_pending(db, settings) == 2
    finally:
        channels.unregister_channel(name)
    listing = admin.http.get("/api/admin/v1/outbox", params={"status": "done", "channel": name}).json()
    assert [(item["id"], item["status"], item["last_error"]) for item in listing["items"]] == [
        (str(ids[0]), "DONE", "suppressed: e-mail for NEW_MESSAGE is switched off"),
        (str(ids[1]), "DONE", None),
    ]
