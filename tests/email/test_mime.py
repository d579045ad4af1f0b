"""crowdpost.email.mime: the bytes it writes read back, through the standard parser, as what
was meant: headers (folded, encoded words, no injected header), both parts, any text."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from crowdpost.email import mime

URL = "https://desk.example.org/email/unsubscribe?a=REQUESTER&id=1&sig=" + "x" * 80


def _parse(raw: bytes) -> EmailMessage:
    parsed = message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    assert not parsed.defects
    return parsed


def _mail(subject: str, text: str = "Hello", html: str = "<p>Hello</p>") -> bytes:
    headers = [
        mime.address_header("From", "Acme via crowdpost <noreply@example.org>"),
        mime.address_header("To", "ann@example.org"),
        mime.header("Subject", subject),
        mime.header("List-Unsubscribe", f"<{URL}>"),
    ]
    return mime.alternative(headers, text, html)


@pytest.mark.parametrize(
    "subject",
    [
        "News",
        "Deine Aufgabe für heute",
        "\u041d\u043e\u0432\u043e\u0435 \u0437\u0430\u0434\u0430\u043d\u0438\u0435 " * 12,
        " ".join(f"word{i}" for i in range(40)),  # ASCII past 78 characters: folded at spaces
        "a" * 300,  # one long word: never split
        "x =?utf-8?q?not_encoded?= y",
    ],
)
def test_subject_reads_back(subject: str) -> None:
    raw = _mail(subject)
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    assert _parse(raw)["Subject"] == subject


def test_no_value_starts_a_header() -> None:
    raw = _mail("Hi\r\nBcc: victim@example.org\nX-Evil: 1")
    parsed = _parse(raw)
    assert parsed["Bcc"] is None
    assert parsed["X-Evil"] is None
    assert parsed["Subject"] == "Hi  Bcc: victim@example.org X-Evil: 1"


def test_a_long_url_stays_one_word_on_the_wire() -> None:
    raw = _mail("News")
    assert f"\r\nList-Unsubscribe: <{URL}>\r\n".encode() in raw
    assert _parse(raw)["List-Unsubscribe"] == f"<{URL}>"


def test_parts_read_back_whatever_the_text() -> None:
    privet = "\u041f\u0440\u0438\u0432\u0435\u0442"
    text = "Grüße\n\n.a line starting with a dot\nend with spaces   \n" + "long " * 60 + f"\r\n{privet} =3D"
    html = '<p lang="de">Grüße &amp; <a href="https://x.org/?a=1&amp;b=2">link</a></p>\n' + "<b>x</b>" * 50
    parsed = _parse(_mail("News", text, html))
    assert parsed.get_content_type() == "multipart/alternative"
    assert parsed["MIME-Version"] == "1.0"
    plain = parsed.get_body(("plain",))
    rich = parsed.get_body(("html",))
    assert plain is not None
    assert rich is not None
    assert plain.get_content_charset() == "utf-8"
    # (the parser leaves the wire's CRLF in the text)
    assert plain.get_content().replace("\r\n", "\n") == text.replace("\r\n", "\n") + "\n"
    assert rich.get_content().replace("\r\n", "\n") == html + "\n"
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]


@pytest.mark.parametrize(
    "display",
    [
        "Acme via crowdpost",
        'Acme, Inc. "quoted" via crowdpost',
        "\u0417\u0430\u043a\u0430\u0437\u0447\u0438\u043a " * 12 + "via crowdpost",  # Cyrillic, long
        "M\u00fcller =?x?= via crowdpost",
    ],
)
def test_a_mailbox_reads_back_with_its_display_name(display: str) -> None:
    raw = mime.alternative([mime.mailbox_header("From", display, "noreply@example.org")], "x", "<p>x</p>")
    [mailbox] = _parse(raw)["From"].addresses
    assert (mailbox.display_name, mailbox.addr_spec) == (display, "noreply@example.org")
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
