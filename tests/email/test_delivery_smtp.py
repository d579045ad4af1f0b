"""crowdpost.email.smtp against a real aiosmtpd server on 127.0.0.1: one connection per batch,
per-recipient outcomes, AUTH, a refused connection, a connection dropped mid-batch; and the
plain-text part (crowdpost.email.html_text)."""

from __future__ import annotations

from collections.abc import Iterator
from email import message_from_bytes
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from crowdpost.email.html_text import html_to_text
from crowdpost.email.smtp import Pacer, SmtpConfig, envelope_sender, send_batch
from tests.fixtures.live_server import free_port

REFUSED = "refused@example.org"
BUSY = "busy@example.org"


class Recorder:
    """Takes every e-mail except: 550 on RCPT for REFUSED, 451 for BUSY; drops the connection
    at the `drop_after`-th DATA (counted over the server's life) when set."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []
        self.sessions: set[int] = set()
        self.drop_after: int | None = None

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address == REFUSED:
            return "550 5.1.1 no such mailbox"
        if address == BUSY:
            return "451 4.3.0 try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        self.sessions.add(id(session))
        if self.drop_after is not None and len(self.received) >= self.drop_after:
            server.transport.close()
            return "421 closing"
        content = envelope.original_content or b""
        self.received.append((str(envelope.mail_from), list(envelope.rcpt_tos), content))
        return "250 OK"


def _authenticate(server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"mailer", b"s3cret")
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp_server() -> Iterator[tuple[Recorder, int]]:
    recorder = Recorder()
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield recorder, port
    finally:
        controller.stop()


def _mail(to: str, n: int) -> tuple[EmailMessage, str]:
    message = EmailMessage()
    message["From"] = "Crowdpost <noreply@example.org>"
    message["To"] = to
    message["Subject"] = f"message {n}"
    message["Message-ID"] = f"<m{n}@example.org>"
    message.set_content(f"body {n}")
    return message, to


def test_one_connection_carries_the_batch_and_a_550_fails_only_its_row(smtp_server: tuple[Recorder, int]) -> None:
    recorder, port = smtp_server
    batch = [_mail(f"user{n}@example.org", n) for n in range(5)]
    batch.insert(2, _mail(REFUSED, 99))
    batch.insert(4, _mail(BUSY, 98))
    results = send_batch(SmtpConfig("127.0.0.1", port, timeout=10), "Crowdpost <noreply@example.org>", batch)

    assert [r.ok for r in results] == [True, True, False, True, False, True, True]
    assert results[2].permanent
    assert "550" in (results[2].error or "")
    assert not results[4].permanent
    assert "451" in (results[4].error or "")
    assert [rcpt for _, rcpt, _ in recorder.received] == [[f"user{n}@example.org"] for n in range(5)]
    assert {sender for sender, _, _ in recorder.received} == {"noreply@example.org"}
    assert len(recorder.sessions) == 1  # one SMTP session for the whole batch
    subjects = [message_from_bytes(raw)["Subject"] for _, _, raw in recorder.received]
    assert subjects == [f"message {n}" for n in range(5)]


def test_a_closed_port_means_every_row_retries() -> None:
    port = free_port()  # nothing listens there
    results = send_batch(SmtpConfig("127.0.0.1", port, timeout=5), "a@example.org", [_mail("x@example.org", 1)] * 3)
    assert len(results) == 3
    assert all(not r.ok and not r.permanent for r in results)
    assert "connection" in (results[0].error or "").lower()


def test_a_connection_dropped_mid_batch_retries_the_rest(smtp_server: tuple[Recorder, int]) -> None:
    recorder, port = smtp_server
    recorder.drop_after = 2
    results = send_batch(
        SmtpConfig("127.0.0.1", port, timeout=10), "a@example.org", [_mail(f"u{n}@example.org", n) for n in range(5)]
    )
    assert [r.ok for r in results] == [True, True, False, False, False]
    assert all(not r.permanent for r in results[2:])
    assert len(recorder.received) == 2


# Plain AUTH without TLS is what this local test server offers; crowdpost sends what it is told.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_auth_logs_in_and_a_wrong_password_retries() -> None:
    recorder = Recorder()
    port = free_port()
    controller = Controller(
        recorder,
        hostname="127.0.0.1",
        port=port,
        authenticator=_authenticate,
        auth_require_tls=False,
        auth_required=True,
    )
    controller.start()
    try:
        good = SmtpConfig("127.0.0.1", port, username="mailer", password="s3cret", timeout=10)
        assert [r.ok for r in send_batch(good, "a@example.org", [_mail("u@example.org", 1)])] == [True]
        bad = SmtpConfig("127.0.0.1", port, username="mailer", password="wrong", timeout=10)
        [result] = send_batch(bad, "a@example.org", [_mail("u@example.org", 2)])
        assert not result.ok
        assert not result.permanent
        assert "authentication" in (result.error or "")
        assert len(recorder.received) == 1
    finally:
        controller.stop()


def test_pacer_spaces_sends_by_the_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    clock = iter([100.0, 100.0, 100.0])
    monkeypatch.setattr("crowdpost.email.smtp.time.monotonic", lambda: next(clock))
    monkeypatch.setattr("crowdpost.email.smtp.time.sleep", slept.append)
    pacer = Pacer()
    for _ in range(3):
        pacer.wait(4)  # 4 per second: slots 0, 0.25, 0.5 s after the first
    assert slept == [0.25, 0.5]
    pacer.wait(0)  # unlimited: no wait, no clock read


def test_envelope_sender_is_the_bare_address() -> None:
    assert envelope_sender("Crowdpost <noreply@example.org>") == "noreply@example.org"
    assert envelope_sender("noreply@example.org") == "noreply@example.org"


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>Hello <b>world</b>,\n how are you?</p>", "Hello world, how are you?"),
        ("<ul><li>one</li><li>two &amp; three</li></ul>", "- one\n- two & three"),
        ("a<br>b", "a\nb"),
        (
            '<a href="https://x.org/a">site</a> <a href="https://y.org">https://y.org</a>',
            "site (https://x.org/a) https://y.org",
        ),
        ("<p>a</p><p></p><p></p><p>b</p>", "a\n\nb"),
        ("x<script>alert(1)</script>y", "xy"),
    ],
)
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text


@pytest.mark.parametrize("smtputf8", [True, False])
def test_finished_bytes_are_sent_as_they_are_and_a_non_ascii_address_needs_smtputf8(smtputf8: bool) -> None:
    recorder = Recorder()
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port, enable_SMTPUTF8=smtputf8)
    controller.start()
    try:
        raw = b"From: a@example.org\r\nTo: u@example.org\r\nSubject: raw\r\n\r\nline\r\n.dot line\r\n"
        batch: list[tuple[EmailMessage | bytes, str]] = [(raw, "u@example.org"), (raw, "\u00fc@example.org")]
        results = send_batch(SmtpConfig("127.0.0.1", port, timeout=10), "a@example.org", batch)
    finally:
        controller.stop()
    assert results[0].ok
    assert recorder.received[0] == ("a@example.org", ["u@example.org"], raw)  # byte for byte
    if smtputf8:
        assert results[1].ok
        assert recorder.received[1][1] == ["\u00fc@example.org"]
    else:
        assert (results[1].ok, results[1].permanent) == (False, True)
        assert "SMTPUTF8" in (results[1].error or "")
        assert len(recorder.received) == 1
