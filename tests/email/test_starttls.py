"""STARTTLS against a real aiosmtpd on 127.0.0.1 with a self-signed certificate made here.

With `CROWDPOST_SMTP_STARTTLS=true` and `CROWDPOST_SMTP_CA_FILE` naming that certificate the
e-mail goes out inside TLS; a server that offers no STARTTLS, or one whose certificate the CA
file does not vouch for, gets nothing at all (never a plaintext send) and the rows wait as a
temporary failure with the reason on them.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session
from sqlalchemy import select

from crowdpost.config import Settings
from crowdpost.db import Database
from crowdpost.email.smtp import SmtpConfig, send_batch
from crowdpost.models.outbox import OutboxItem
from crowdpost.outbox.delivery import deliver_pending
from crowdpost.outbox.repository import enqueue
from tests.email.test_delivery_outbox import _mail_settings, _world
from tests.email.test_delivery_smtp import _mail
from tests.fixtures.backends import missing_component
from tests.fixtures.live_server import free_port


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for 127.0.0.1 (it is its own CA), made with the openssl tool."""
    openssl = shutil.which("openssl")
    if openssl is None:
        missing_component("the openssl command is needed to make a test certificate")
    assert openssl is not None
    root = tmp_path_factory.mktemp("tls")
    made = Certificate(cert=root / "cert.pem", key=root / "key.pem")
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
            str(made.key),
            "-out",
            str(made.cert),
        ],
        check=True,
        capture_output=True,
    )
    return made


class Inbox:
    """Records each e-mail with whether its session was inside TLS."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], bool]] = []

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        self.received.append((list(envelope.rcpt_tos), session.ssl is not None))
        return "250 OK"


@dataclass
class Server:
    inbox: Inbox
    port: int


def _serve(tls: ssl.SSLContext | None) -> Iterator[Server]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=tls, require_starttls=tls is not None)
    controller.start()
    try:
        yield Server(inbox, port)
    finally:
        controller.stop()


@pytest.fixture
def tls_server(certificate: Certificate) -> Iterator[Server]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate.cert, certificate.key)
    yield from _serve(context)


@pytest.fixture
def plain_server() -> Iterator[Server]:
    yield from _serve(None)


def _tls_config(port: int, ca_file: Path | None) -> SmtpConfig:
    return SmtpConfig("127.0.0.1", port, starttls=True, timeout=10, ca_file=str(ca_file or ""))


def test_starttls_with_the_ca_file_delivers_inside_tls(tls_server: Server, certificate: Certificate) -> None:
    results = send_batch(_tls_config(tls_server.port, certificate.cert), "a@example.org", [_mail("u@example.org", 1)])
    assert [r.ok for r in results] == [True]
    assert tls_server.inbox.received == [(["u@example.org"], True)]


def test_a_certificate_the_ca_file_does_not_vouch_for_sends_nothing(tls_server: Server) -> None:
    # no CA file: the system's CAs, which never signed this self-signed certificate
    [result] = send_batch(_tls_config(tls_server.port, None), "a@example.org", [_mail("u@example.org", 1)])
    assert not result.ok
    assert not result.permanent
    assert "certificate" in (result.error or "").lower()
    assert tls_server.inbox.received == []


def test_a_server_without_starttls_gets_no_plaintext_mail(plain_server: Server, certificate: Certificate) -> None:
    results = send_batch(
        _tls_config(plain_server.port, certificate.cert),
        "a@example.org",
        [_mail(f"u{n}@example.org", n) for n in range(3)],
    )
    assert [(r.ok, r.permanent) for r in results] == [(False, False)] * 3
    assert "STARTTLS" in (results[0].error or "")
    assert plain_server.inbox.received == []
    # the same server takes the e-mail when STARTTLS is not asked for: the refusal above was ours
    plain = SmtpConfig("127.0.0.1", plain_server.port, timeout=10)
    assert [r.ok for r in send_batch(plain, "a@example.org", [_mail("u@example.org", 1)])] == [True]
    assert plain_server.inbox.received == [(["u@example.org"], False)]


def _starttls_settings(settings: Settings, port: int, certificate: Certificate) -> Settings:
    return _mail_settings(settings, port).model_copy(
        update={"smtp_starttls": True, "smtp_ca_file": str(certificate.cert)}
    )


def test_the_email_channel_uses_starttls_and_waits_when_the_server_lacks_it(
    db: Database, settings: Settings, tls_server: Server, plain_server: Server, certificate: Certificate
) -> None:
    ids = _world(db)

    def enqueue_reply() -> None:
        with db.transaction() as s:
            enqueue(s, channel="email", kind="NEW_MESSAGE", requester_id=ids["requester"], ref_id=ids["reply"])

    enqueue_reply()
    assert deliver_pending(db, _starttls_settings(settings, tls_server.port, certificate)) == 1
    assert tls_server.inbox.received == [(["owner@example.org"], True)]

    enqueue_reply()
    assert deliver_pending(db, _starttls_settings(settings, plain_server.port, certificate), max_batches=1) == 1
    assert plain_server.inbox.received == []
    with db.transaction(write=False) as s:
        rows = s.execute(
            select(OutboxItem.status, OutboxItem.attempts, OutboxItem.last_error).order_by(OutboxItem.id)
        ).all()
    assert [(status, attempts) for status, attempts, _ in rows] == [("DONE", 1), ("PENDING", 1)]
    assert "STARTTLS" in (rows[1].last_error or "")
