"""The webhook channel's connections: the POSTs of one batch to one receiver share a
keep-alive connection, and an answer's body is read only a bounded way (a large one is left
unread, its connection dropped, the delivery still counted by its status). Both backends."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import insert, select

from crowdpost.config import Settings
from crowdpost.db import Database
from crowdpost.kit.timefmt import utcnow
from crowdpost.models import OutboxItem, Requester, WebhookSubscription
from crowdpost.outbox.delivery import deliver_pending
from crowdpost.webhooks.channel import DRAIN_BYTES


@dataclass
class KeepAlive:
    """An HTTP/1.1 receiver: records the client port of every POST; answers `answer_bytes`."""

    answer_bytes: int = 0
    ports: list[int] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def receiver() -> Iterator[KeepAlive]:
    state = KeepAlive()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.ports.append(self.client_address[1])
            self.send_response(200)
            self.send_header("Content-Length", str(state.answer_bytes))
            self.end_headers()
            with contextlib.suppress(OSError):  # the client may hang up on a long answer
                self.wfile.write(b"x" * state.answer_bytes)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def _events(db: Database, url: str, subscriptions: int) -> None:
    """One event on each of `subscriptions` new subscriptions to `url`."""
    now = utcnow()
    with db.transaction() as s:
        requester = Requester(public_name={"EN": "Acme"})
        s.add(requester)
        s.flush()
        subs = [
            WebhookSubscription(requester_id=requester.id, webhook_url=url, event_type="POOL_CLOSED", pool_id=n)
            for n in range(subscriptions)
        ]
        s.add_all(subs)
        s.flush()
        s.execute(
            insert(OutboxItem),
            [
                {
                    "channel": "webhook",
                    "kind": "POOL_CLOSED",
                    "requester_id": requester.id,
                    "ref_id": sub.id,
                    "ordering_key": f"webhook:{sub.id}",
                    "payload": {"pool_id": str(sub.pool_id)},
                    "status": "PENDING",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created": now,
                }
                for sub in subs
            ],
        )


def _statuses(db: Database) -> list[str]:
    with db.transaction(write=False) as s:
        return list(s.execute(select(OutboxItem.status)).scalars())


def test_one_batch_to_one_receiver_shares_a_connection_unless_answers_are_long(
    db: Database, settings: Settings, receiver: KeepAlive
) -> None:
    for answer_bytes, connections in [(0, 1), (200, 1), (DRAIN_BYTES * 4, 5)]:
        receiver.answer_bytes = answer_bytes
        receiver.ports.clear()
        _events(db, receiver.url, 5)
        assert deliver_pending(db, settings) == 5
        assert len(receiver.ports) == 5
        assert len(set(receiver.ports)) == connections, answer_bytes
    assert _statuses(db) == ["DONE"] * 15
