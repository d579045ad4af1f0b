"""The "email" outbox channel end to end: rows -> deliver_pending -> a real aiosmtpd on 127.0.0.1.

Rows are written with `crowdpost.outbox.repository.enqueue` (as the e-mail subscribers write
them); both backends.
"""

from __future__ import annotations

from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session
from sqlalchemy import func, insert, select, update

from crowdpost.config import Settings
from crowdpost.db import Database
from crowdpost.email import links
from crowdpost.kit.ids import format_id
from crowdpost.kit.timefmt import utcnow
from crowdpost.models import Message, MessageThread, Requester, RequesterThread, Toloker, TolokerLanguage, TolokerThread
from crowdpost.models.outbox import OutboxItem
from crowdpost.outbox.delivery import deliver_pending
from crowdpost.outbox.repository import enqueue
from tests.fixtures.live_server import free_port

REFUSED = "gone@example.org"


class Inbox:
    def __init__(self) -> None:
        self.mails: list[tuple[list[str], EmailMessage]] = []
        self.raw: list[bytes] = []

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address == REFUSED:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        parsed = message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.mails.append((list(envelope.rcpt_tos), parsed))
        self.raw.append(raw)
        return "250 OK"


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def inbox(smtp_port: int) -> Iterator[Inbox]:
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        yield handler
    finally:
        controller.stop()


def _mail_settings(settings: Settings, port: int) -> Settings:
    return settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_timeout_seconds": 10.0,
            "mail_from": "Crowdpost <noreply@crowdpost.test>",
            "public_url": "https://desk.example.org",
        }
    )


def _world(db: Database, *, topic: dict[str, str] | None = None) -> dict[str, int]:
    """A requester (verified, e-mail on for new messages), a Toloker speaking DE, and a
    conversation in which the Toloker replied."""
    with db.transaction() as s:
        requester = Requester(
            public_name={"EN": "Acme\r\nBcc: victim@example.org"},
            email="owner@example.org",
            email_verified=True,
            email_new_message=True,
        )
        s.add(requester)
        s.add(Toloker(id="t1", email="t1@example.org"))
        s.add(TolokerLanguage(user_id="t1", language="DE"))
        s.flush()
        thread = MessageThread(
            requester_id=requester.id,
            kind="CONVERSATION",
            topic=topic or {"EN": "Your task\r\nBcc: victim@example.org", "DE": "Deine Aufgabe"},
            toloker_id="t1",
            answerable=True,
        )
        s.add(thread)
        s.flush()
        reply = Message(
            thread_id=thread.id,
            requester_id=requester.id,
            sender_role="USER",
            sender_id="t1",
            text={"EN": "<p>I have a <b>question</b> about <a href='https://x.org/q'>this</a></p>"},
        )
        answer = Message(
            thread_id=thread.id,
            requester_id=requester.id,
            sender_role="REQUESTER",
            sender_id=str(requester.id),
            text={"EN": "<p>Answer</p>", "DE": "<p>Antwort</p>"},
        )
        s.add_all([reply, answer])
        s.add(
            RequesterThread(requester_id=requester.id, thread_id=thread.id, toloker_id="t1", interlocutor_role="USER")
        )
        s.add(TolokerThread(user_id="t1", thread_id=thread.id, requester_id=requester.id))
        s.flush()
        return {"requester": requester.id, "thread": thread.id, "reply": reply.id, "answer": answer.id}


def _statuses(db: Database) -> dict[int, tuple[str, str | None]]:
    with db.transaction(write=False) as s:
        return {i: (st, e) for i, st, e in s.execute(select(OutboxItem.id, OutboxItem.status, OutboxItem.last_error))}


def test_a_tolokers_reply_reaches_the_requester_with_headers_parts_and_link(
    db: Database, settings: Settings, inbox: Inbox, smtp_port: int
) -> None:
    ids = _world(db)
    mail_settings = _mail_settings(settings, smtp_port)
    with db.transaction() as s:
        enqueue(s, channel="email", kind="NEW_MESSAGE", requester_id=ids["requester"], ref_id=ids["reply"])
        # the requester's answer to the Toloker, who reads German
        enqueue(
            s, channel="email", kind="NEW_MESSAGE", requester_id=ids["requester"], user_id="t1", ref_id=ids["answer"]
        )
    assert deliver_pending(db, mail_settings) == 2

    by_to = {rcpt[0]: mail for rcpt, mail in inbox.mails}
    assert set(by_to) == {"owner@example.org", "t1@example.org"}
    mail = by_to["owner@example.org"]
    # CR/LF in the topic never makes a header: one line, no Bcc
    assert mail["Subject"] == "Your task Bcc: victim@example.org"
    assert mail["Bcc"] is None
    assert mail["To"] == "owner@example.org"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = str(mail["List-Unsubscribe"]).strip("<>")
    assert unsubscribe.startswith("https://desk.example.org/")
    # on the wire the URL is the header's one word, as mail clients read it (no encoded words)
    [raw] = [r for r in inbox.raw if b"\r\nTo: owner@example.org\r\n" in r]
    assert f"\r\nList-Unsubscribe: <{unsubscribe}>\r\n".encode() in raw
    with db.transaction() as s:
        target = links.check_unsubscribe(links.link_secret(s), dict(parse_qsl(urlsplit(unsubscribe).query)))
    assert (target.audience, target.subject_id, target.event) == ("REQUESTER", str(ids["requester"]), "NEW_MESSAGE")
    with db.transaction(write=False) as s:
        row_ids = sorted(s.execute(select(OutboxItem.id)).scalars())
    assert mail["Message-ID"].startswith(f"<outbox-{row_ids[0]}.")
    assert mail["Message-ID"].endswith("@desk.example.org>")
    assert mail.get_content_type() == "multipart/alternative"
    text = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert text is not None
    assert html is not None
    thread_link = f"https://desk.example.org/messages/{format_id(ids['thread'])}"
    assert "I have a question about this (https://x.org/q)" in text.get_content()
    assert thread_link in text.get_content()
    assert "<b>question</b>" in html.get_content()
    assert f'href="{thread_link}"' in html.get_content()
    assert 'rel="noopener noreferrer nofollow"' in html.get_content()

    toloker_mail = by_to["t1@example.org"]
    assert toloker_mail["Subject"] == "Deine Aufgabe"  # the Toloker's language first
    assert toloker_mail["Content-Language"] == "de"
    assert "Antwort" in toloker_mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert f"/toloker/messages/{format_id(ids['thread'])}" in toloker_mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    # the requester's name (with CR/LF) is in From, on one line
    assert "\n" not in str(toloker_mail["From"])
    assert toloker_mail["Bcc"] is None
    assert {status for status, _ in _statuses(db).values()} == {"DONE"}


def test_unverified_or_switched_off_recipients_get_nothing(
    db: Database, settings: Settings, inbox: Inbox, smtp_port: int
) -> None:
    ids = _world(db)
    with db.transaction() as s:
        s.execute(update(Requester).values(email_verified=False))
        s.execute(update(Toloker).values(email_new_message=False))
        enqueue(s, channel="email", kind="NEW_MESSAGE", requester_id=ids["requester"], ref_id=ids["reply"])
        enqueue(s, channel="email", kind="NEW_MESSAGE", user_id="t1", ref_id=ids["answer"])
        # a row no renderer knows: failed, for an operator to see
        enqueue(s, channel="email", kind="NO_SUCH_KIND", requester_id=ids["requester"])
    assert deliver_pending(db, _mail_settings(settings, smtp_port)) == 3
    assert inbox.mails == []
    # settled: suppressed rows are DONE with the reason kept for an operator
    statuses = [status for _, status in sorted(_statuses(db).items())]
    assert statuses == [
        ("DONE", "suppressed: the e-mail address is not verified"),
        ("DONE", "suppressed: e-mail for NEW_MESSAGE is switched off"),
        ("FAILED", "unknown e-mail kind 'NO_SUCH_KIND'"),
    ]


def test_one_address_answering_550_fails_alone(db: Database, settings: Settings, inbox: Inbox, smtp_port: int) -> None:
    ids = _world(db)
    with db.transaction() as s:
        s.add_all(Toloker(id=f"u{n}", email=REFUSED if n == 2 else f"u{n}@example.org") for n in range(5))
        s.flush()
        s.add_all(
            TolokerThread(user_id=f"u{n}", thread_id=ids["thread"], requester_id=ids["requester"]) for n in range(5)
        )
        s.flush()
        for n in range(5):
            enqueue(s, channel="email", kind="NEW_MESSAGE", user_id=f"u{n}", ref_id=ids["answer"])
    assert deliver_pending(db, _mail_settings(settings, smtp_port)) == 5
    assert sorted(r[0] for r, _ in inbox.mails) == [f"u{n}@example.org" for n in (0, 1, 3, 4)]
    failed = [(st, err) for st, err in _statuses(db).values() if st != "DONE"]
    assert len(failed) == 1
    assert failed[0][0] == "FAILED"
    assert "550" in (failed[0][1] or "")


def test_smtp_down_then_up_delivers_all_1000_once(db: Database, settings: Settings, smtp_port: int) -> None:
    ids = _world(db)
    users = [f"u{n}" for n in range(1000)]
    now = utcnow()
    with db.transaction() as s:  # set-based, as a send writes them
        s.execute(insert(Toloker), [{"id": u, "email": f"{u}@example.org"} for u in users])
        s.execute(
            insert(TolokerThread),
            [{"user_id": u, "thread_id": ids["thread"], "requester_id": ids["requester"]} for u in users],
        )
        s.execute(
            insert(OutboxItem),
            [
                {"channel": "email", "kind": "NEW_MESSAGE", "user_id": u, "ref_id": ids["answer"],
                 "status": "PENDING", "attempts": 0, "next_attempt_at": now, "created": now}
                for u in users
            ],
        )  # fmt: skip
    mail_settings = _mail_settings(settings, smtp_port)
    # nothing listens on the port yet: ten batches of 100 are tried (the first retries come
    # due after 1-2 s, so a slow pass may try some rows twice) and every row waits: none lost,
    # none failed
    assert deliver_pending(db, mail_settings, max_batches=10) == 1000
    with db.transaction(write=False) as s:
        waiting = s.execute(select(func.count()).where(OutboxItem.status == "PENDING")).scalar()
        errors = set(s.execute(select(OutboxItem.last_error).where(OutboxItem.attempts >= 1)).scalars())
    assert waiting == 1000
    assert len(errors) == 1
    assert "connection" in (errors.pop() or "").lower()
    with db.transaction() as s:  # time passes: the retries fall due
        s.execute(update(OutboxItem).values(next_attempt_at=OutboxItem.created))
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        assert deliver_pending(db, mail_settings) == 1000
    finally:
        controller.stop()
    recipients = [r[0] for r, _ in handler.mails]
    assert sorted(recipients) == sorted(f"u{n}@example.org" for n in range(1000))
    assert len({str(m["Message-ID"]) for _, m in handler.mails}) == 1000
    assert {st for st, _ in _statuses(db).values()} == {"DONE"}
