"""Sends a batch of e-mails over one SMTP connection and says what became of each.

One connection per batch (EHLO, STARTTLS and AUTH once, then MAIL/RCPT/DATA per e-mail): a
batch of 100 costs one TCP and TLS handshake instead of 100. Each e-mail has exactly one
recipient, so a refusal concerns one outbox row only.

What an answer means for a row (`Result`):
- delivered: the server took the DATA (250).
- permanent: a 5xx for that e-mail's recipient or content: sending it again cannot help.
- retry: a 4xx, a refused or timed-out connection, a failed STARTTLS/AUTH (the relay's
  configuration, not the e-mail), a sender refused (ours for every e-mail; fixed by the
  operator, not by giving up on recipients). When the connection drops in the middle of a
  batch, the e-mail in flight and every one after it are retried; the one in flight may have
  arrived anyway, which its stable Message-ID lets the receiver recognise.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import parseaddr

from crowdpost.config import Settings

# An error text stored on the outbox row is for an operator's eyes; servers may say a lot.
MAX_ERROR_CHARS = 500


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    username: str = ""
    password: str = ""
    starttls: bool = False
    timeout: float = 30.0
    rate_per_second: float = 0.0
    ca_file: str = ""

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpConfig:
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
            timeout=settings.smtp_timeout_seconds,
            rate_per_second=settings.smtp_rate_per_second,
            ca_file=settings.smtp_ca_file,
        )


@dataclass(frozen=True)
class Result:
    ok: bool
    permanent: bool = False
    error: str | None = None


DELIVERED = Result(ok=True)


def _retry(error: str) -> Result:
    return Result(ok=False, error=error[:MAX_ERROR_CHARS])


def _permanent(error: str) -> Result:
    return Result(ok=False, permanent=True, error=error[:MAX_ERROR_CHARS])


def _reply_text(code: int, reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return f"{code} {' '.join(text.split())}"


def _by_code(what: str, code: int, reply: bytes | str) -> Result:
    """5xx: this e-mail will never be taken; anything else (4xx, odd codes) may pass later."""
    error = f"{what}: {_reply_text(code, reply)}"
    return _permanent(error) if 500 <= code < 600 else _retry(error)


class Pacer:
    """At most `rate` sends per second over every thread of the process that shares it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next = 0.0

    def wait(self, rate: float) -> None:
        if rate <= 0:
            return
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + 1.0 / rate
        if slot > now:
            time.sleep(slot - now)


PACER = Pacer()


def envelope_sender(mail_from: str) -> str:
    """The bare address of a From such as `Crowdpost <noreply@example.org>`."""
    return parseaddr(mail_from)[1] or mail_from


def _connect(config: SmtpConfig) -> smtplib.SMTP:
    smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
    try:
        smtp.ehlo()
        if config.starttls:
            context = ssl.create_default_context(cafile=config.ca_file or None)
            smtp.starttls(context=context)
            smtp.ehlo()
        if config.username:
            smtp.login(config.username, config.password)
    except BaseException:
        smtp.close()
        raise
    return smtp


def _send_raw(smtp: smtplib.SMTP, sender: str, raw: bytes, recipient: str) -> None:
    """DATA as given (CRLF lines, written by `mime`): no parsing, no refolding. Non-ASCII
    addresses or headers need the server's SMTPUTF8, as `SMTP.send_message` would ask for."""
    options: list[str] = []
    if not (sender.isascii() and recipient.isascii() and raw.isascii()):
        if not smtp.has_extn("smtputf8"):
            raise smtplib.SMTPNotSupportedError("an address needs SMTPUTF8, which the server does not offer")
        options = ["SMTPUTF8", "BODY=8BITMIME"]
    smtp.sendmail(sender, [recipient], raw, mail_options=options)


def _send_one(smtp: smtplib.SMTP, sender: str, message: EmailMessage | bytes, recipient: str) -> Result:
    """One e-mail on an open connection. Raises what ends the connection (disconnects, timeouts)."""
    try:
        if isinstance(message, bytes):
            _send_raw(smtp, sender, message, recipient)
        else:
            smtp.send_message(message, from_addr=sender, to_addrs=[recipient])
    except smtplib.SMTPRecipientsRefused as exc:
        code, reply = exc.recipients.get(recipient, (450, b"recipient refused"))
        return _by_code("recipient refused", code, reply)
    except smtplib.SMTPSenderRefused as exc:
        # Our own address refused concerns every e-mail of the relay: retried, not failed.
        return _retry(f"sender refused: {_reply_text(exc.smtp_code, exc.smtp_error)}")
    except smtplib.SMTPDataError as exc:
        return _by_code("message refused", exc.smtp_code, exc.smtp_error)
    except smtplib.SMTPNotSupportedError as exc:  # e.g. an SMTPUTF8 address to a server without it
        return _permanent(f"not supported by the server: {exc}")
    except UnicodeEncodeError as exc:  # a non-ASCII address and no SMTPUTF8 in smtplib's eyes
        return _permanent(f"address cannot be sent: {exc.reason}")
    return DELIVERED


def _connection_error(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return _reply_text(exc.smtp_code, exc.smtp_error)
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out"
    return f"{type(exc).__name__}: {exc}"


def send_batch(
    config: SmtpConfig,
    mail_from: str,
    messages: Sequence[tuple[EmailMessage | bytes, str]],
    *,
    pacer: Pacer = PACER,
) -> list[Result]:
    """Sends each (message, recipient address) over one connection; one Result each, same order.
    A message is an `EmailMessage` or the finished bytes of one (`render` writes bytes)."""
    if not messages:
        return []
    sender = envelope_sender(mail_from)
    try:
        smtp = _connect(config)
    except smtplib.SMTPAuthenticationError as exc:
        return [_retry(f"SMTP authentication failed: {_connection_error(exc)}")] * len(messages)
    except (OSError, smtplib.SMTPException, ssl.SSLError) as exc:
        return [_retry(f"SMTP connection to {config.host}:{config.port} failed: {_connection_error(exc)}")] * len(
            messages
        )
    results: list[Result] = []
    try:
        for message, recipient in messages:
            pacer.wait(config.rate_per_second)
            try:
                results.append(_send_one(smtp, sender, message, recipient))
            except (OSError, smtplib.SMTPException) as exc:
                # The connection is gone (dropped, timed out, 421): this e-mail and the rest wait.
                error = _retry(f"SMTP connection lost: {_connection_error(exc)}")
                results.extend([error] * (len(messages) - len(results)))
                break
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()
    return results
