"""Read-only POSTs (a compose dry run, a recipient count) never wait for the write lock.

Tried: a payment (or anything else) holds the database's write lock — on SQLite the one
writer lock, on PostgreSQL the requester's row — and meanwhile the requester previews a send.
Before, the preview's transaction began with BEGIN IMMEDIATE and queued behind the writer
for up to the 30 s busy timeout; it must answer at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from sqlalchemy import text

from crowdpost.db import Database
from tests.fixtures.factories import Admin, RequesterInfo
from tests.messaging.helpers import compose_body, crew

# Far below SQLite's 30 s busy timeout: an answer within it proves nobody waited for the lock.
PATIENCE_SECONDS = 5


@contextmanager
def write_lock_held(db: Database, requester_id: str) -> Iterator[None]:
    """On SQLite `write_engine` begins with BEGIN IMMEDIATE: the one writer lock, held until rollback."""
    with db.write_engine.connect() as conn:
        transaction = conn.begin()
        conn.execute(
            text("SELECT id FROM requesters WHERE id = :id" + ("" if db.is_sqlite else " FOR UPDATE")),
            {"id": int(requester_id)},
        )
        try:
            yield
        finally:
            transaction.rollback()


def test_previews_answer_while_another_transaction_holds_the_write_lock(
    server_url: str, admin: Admin, db: Database, requester: RequesterInfo
) -> None:
    _, _, (worker,) = crew(db, admin, requester.id, [{}])
    auth = {"Authorization": f"OAuth {requester.token}"}
    with httpx.Client(base_url=server_url, headers=auth, timeout=PATIENCE_SECONDS) as client:
        client.get("/api/v1/requester").raise_for_status()  # connections warm before the lock
        with write_lock_held(db, requester.id):
            dry = client.post("/api/v1/message-threads/compose", params={"dry_run": "true"}, json=compose_body("ALL"))
            counted = client.post(
                "/api/v1/recipients/count", json={"recipients_select_type": "DIRECT", "recipients_ids": [worker]}
            )

    assert dry.status_code == 200, dry.text
    assert dry.json()["recipients_count"] == 1
    assert counted.status_code == 200, counted.text
    assert counted.json()["count"] == 1
