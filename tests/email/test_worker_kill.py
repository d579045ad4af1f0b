"""kill -9 of `crowdpost worker` in the middle of an e-mail run, then a second worker.

A real `crowdpost worker` process (both backends) delivers KILL_MAILS outbox e-mails to a real
aiosmtpd on 127.0.0.1 and is SIGKILLed once about a third of them arrived; a second worker then
takes over, picking up the dead worker's batch when its lease (LEASE_SECONDS) runs out. Both
processes import while the rows are written and start when told, so the test does not wait for
imports. Every e-mail must have arrived at least once, any repeat (the batch in flight at the
kill) with the Message-ID of its first copy, at most one batch repeated, and every outbox row DONE.

Size: the issue's 10,000 e-mails per backend, about 30-40 s each on a quiet 2-core machine.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session
from sqlalchemy import func, insert, select

from crowdpost.config import Settings
from crowdpost.db import Database
from crowdpost.email.channel import BATCH_SIZE
from crowdpost.kit.timefmt import utcnow
from crowdpost.models import Message, MessageThread, Requester, Toloker, TolokerThread
from crowdpost.models.outbox import DONE, OutboxItem
from tests.fixtures.live_server import free_port

KILL_MAILS = 10_000
LEASE_SECONDS = 2

# `crowdpost worker`, started only when a line arrives on stdin (as tests/rewards/test_reliability.py).
_WARM_WORKER = "import sys; from crowdpost.cli import app; sys.stdin.readline(); app(['worker'])"


class Inbox:
    """Every e-mail taken: (recipient, Message-ID), in arrival order, from any thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received: list[tuple[str, str]] = []
        self._headers = BytesHeaderParser()

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        headers = self._headers.parsebytes(envelope.original_content or b"")
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.received.append((rcpt, str(headers["Message-ID"])))
        return "250 OK"

    def count(self) -> int:
        with self.lock:
            return len(self.received)


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler = Inbox()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def _seed(db: Database, n: int) -> dict[str, int]:
    """A requester's message to n Tolokers with addresses on file: n e-mail rows, user -> row id."""
    now = utcnow()
    with db.transaction() as s:
        requester = Requester(public_name={"EN": "Acme"})
        s.add(requester)
        s.flush()
        thread = MessageThread(requester_id=requester.id, kind="CONVERSATION", topic={"EN": "News"}, answerable=False)
        s.add(thread)
        s.flush()
        message = Message(
            thread_id=thread.id,
            requester_id=requester.id,
            sender_role="REQUESTER",
            sender_id=str(requester.id),
            text={"EN": "<p>A new pool is open.</p>"},
        )
        s.add(message)
        s.flush()
        users = [f"k{i}" for i in range(n)]
        s.execute(insert(Toloker), [{"id": u, "email": f"{u}@example.org"} for u in users])
        s.execute(
            insert(TolokerThread),
            [{"user_id": u, "thread_id": thread.id, "requester_id": requester.id} for u in users],
        )
        s.execute(
            insert(OutboxItem),
            [
                {
                    "channel": "email",
                    "kind": "NEW_MESSAGE",
                    "requester_id": requester.id,
                    "user_id": u,
                    "ref_id": message.id,
                    "status": "PENDING",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created": now,
                }
                for u in users
            ],
        )
    with db.transaction(write=False) as s:
        return {str(u): int(i) for u, i in s.execute(select(OutboxItem.user_id, OutboxItem.id))}


def _start_worker(settings: Settings, smtp_port: int, log: Path) -> subprocess.Popen[bytes]:
    """`crowdpost worker`, imported and waiting for `_go`."""
    env = {
        **os.environ,
        "CROWDPOST_DATABASE_URL": settings.database_url,
        "CROWDPOST_VAR_DIR": str(settings.var_dir),
        "CROWDPOST_LOG_JSON": "false",
        "CROWDPOST_WORKER_POLL_INTERVAL": "0.05",
        # A short lease, so the dead worker's batch is reclaimed by the rules, not by the test.
        "CROWDPOST_OUTBOX_LEASE_SECONDS": str(LEASE_SECONDS),
        "CROWDPOST_SMTP_HOST": "127.0.0.1",
        "CROWDPOST_SMTP_PORT": str(smtp_port),
        "CROWDPOST_SMTP_TIMEOUT_SECONDS": "10",
        "CROWDPOST_MAIL_FROM": "Crowdpost <noreply@crowdpost.test>",
        "CROWDPOST_PUBLIC_URL": "https://desk.example.org",
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-c", _WARM_WORKER], env=env, stdout=out, stderr=out, stdin=subprocess.PIPE
        )


def _go(worker: subprocess.Popen[bytes]) -> None:
    assert worker.stdin is not None
    worker.stdin.write(b"go\n")
    worker.stdin.flush()


def _wait(predicate: Callable[[], bool], timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{log.read_text()[-3000:]}")
        time.sleep(0.02)


def _stop(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        worker.terminate()
        try:
            worker.wait(15)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(10)


def _done(db: Database) -> int:
    with db.transaction(write=False) as s:
        return int(s.execute(select(func.count()).where(OutboxItem.status == DONE)).scalar_one())


def test_worker_killed_mid_run_then_restarted_delivers_every_email(
    db: Database, settings: Settings, inbox: tuple[Inbox, int], tmp_path: Path
) -> None:
    handler, port = inbox
    log = tmp_path / "worker.log"
    # Both import while the rows are written; each starts when told.
    worker = _start_worker(settings, port, log)
    restarted = _start_worker(settings, port, log)
    rows = _seed(db, KILL_MAILS)
    try:
        _go(worker)
        _wait(
            lambda: handler.count() >= KILL_MAILS // 3 or worker.poll() is not None,
            60,
            "the first worker to send a third of the e-mails",
            log,
        )
        worker.send_signal(signal.SIGKILL)
        assert worker.wait(10) == -signal.SIGKILL
        arrived_at_kill = handler.count()
        done_at_kill = _done(db)
        # mid-way: some sent and settled, not all
        assert 0 < done_at_kill < KILL_MAILS
        assert done_at_kill <= arrived_at_kill < KILL_MAILS

        _go(restarted)
        _wait(lambda: _done(db) == KILL_MAILS, 60, "every outbox row to be DONE", log)
    finally:
        _stop(worker)
        _stop(restarted)

    with db.transaction(write=False) as s:
        statuses = dict(s.execute(select(OutboxItem.status, func.count()).group_by(OutboxItem.status)).all())
    assert statuses == {DONE: KILL_MAILS}

    copies: dict[str, list[str]] = defaultdict(list)
    for rcpt, message_id in handler.received:
        copies[rcpt].append(message_id)
    # none lost
    assert set(copies) == {f"{user}@example.org" for user in rows}
    # every repeat carries the Message-ID of its first copy, which is its row's
    for user, row_id in rows.items():
        ids = copies[f"{user}@example.org"]
        assert set(ids) == {ids[0]}, (user, ids)
        assert ids[0].startswith(f"<outbox-{row_id}."), (user, ids[0])
    assert len({ids[0] for ids in copies.values()}) == KILL_MAILS
    # only what the dead worker had in flight may come twice: at most one batch
    repeats = len(handler.received) - KILL_MAILS
    assert 0 <= repeats <= BATCH_SIZE, repeats
