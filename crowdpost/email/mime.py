"""An e-mail as bytes, written directly: header lines and a multipart/alternative body.

Why not `email.message.EmailMessage`: its default policy parses every header it is given and
refolds every one on output, about 10 ms per e-mail here (more than the SMTP round trips of
sending it), and it folds a long header without spaces, the List-Unsubscribe URL, into RFC 2047
encoded words, which mail clients do not read as a URL. What crowdpost sends is simple enough
to write out:

- header values arrive as one line (the renderer makes stored text one printable line first;
  any CR or LF left is turned into a space here anyway, so no value can start a header);
- ASCII values are written as they are, folded at spaces past 78 characters (a word, such as a
  URL or a Message-ID, is never split; RFC 5322 allows 998 per line and values are capped well
  below that); non-ASCII text (a Subject in German, Russian...), or text holding "=?" (which
  a reader would decode), becomes RFC 2047 encoded words (`email.header.Header`, which folds
  them itself);
- a mailbox (From) gets its display name quoted, or as one encoded word when it is not ASCII;
  a bare address (To) is written as it is: one with non-ASCII characters stays UTF-8, which
  only a server offering SMTPUTF8 takes (`smtp.send_batch` checks);
- both parts are UTF-8 and quoted-printable (`binascii.b2a_qp`: readable for ASCII text), lines
  end in CRLF, each part's text ends with a line break (the CRLF before a boundary belongs to
  the boundary), and the boundary starts with "=_", which quoted-printable never produces.
"""

from __future__ import annotations

import binascii
import secrets
from collections.abc import Sequence
from email.header import Header
from email.utils import formataddr

CRLF = "\r\n"
FOLD_AT = 78


def _one_line(value: str) -> str:
    return value.replace("\r", " ").replace("\n", " ")


def _fold(name: str, value: str) -> str:
    """`Name: value` folded at the value's spaces so lines stay near FOLD_AT characters where
    words allow; the value's first word stays on the name's line."""
    first, *rest = value.split(" ")
    current = f"{name}: {first}"
    if len(current) + len(value) - len(first) <= FOLD_AT:
        return f"{name}: {value}"
    out: list[str] = []
    for word in rest:
        if len(current) + 1 + len(word) > FOLD_AT:
            out.append(current)
            current = " " + word  # the folding white space, which unfolding keeps as the space
        else:
            current = f"{current} {word}"
    out.append(current)
    return CRLF.join(out)


def header(name: str, value: str) -> str:
    """One header, CRLF-terminated: ASCII as is (folded at spaces), other text as encoded words."""
    value = _one_line(value)
    if value.isascii() and "=?" not in value:  # "=?" would read back as an encoded word
        return _fold(name, value) + CRLF
    encoded = Header(value, "utf-8", header_name=name).encode(linesep=CRLF)
    return f"{name}: {encoded}{CRLF}"


def mailbox_header(name: str, display: str, address: str) -> str:
    """`Name: display <address>` as `formataddr` writes it: an ASCII display name quoted as
    needed, any other as one encoded word. One word, not several: readers differ on the space
    between encoded words in a name (Python's parser inserts one, RFC 2047 drops it), so a
    split name would not read back the same everywhere. The caller caps the name's length."""
    value = _one_line(formataddr((_one_line(display), address)))
    return f"{name}: {value}{CRLF}"


def address_header(name: str, formatted: str) -> str:
    """A header of addresses already formatted (`formataddr`): written whole, never folded."""
    return f"{name}: {_one_line(formatted)}{CRLF}"


def _part(subtype: str, text: str) -> str:
    body = CRLF.join(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    if not body.endswith(CRLF):
        body += CRLF
    encoded = binascii.b2a_qp(body.encode("utf-8"), istext=True).decode("ascii")
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"{CRLF}'
        f"Content-Transfer-Encoding: quoted-printable{CRLF}{CRLF}{encoded}"
    )


def alternative(headers: Sequence[str], text: str, html: str, *, boundary: str | None = None) -> bytes:
    """The whole e-mail: `headers` (lines from `header`/`address_header`), MIME-Version, and a
    multipart/alternative of the plain `text` then the `html`."""
    boundary = boundary or f"=_{secrets.token_hex(16)}"
    out = [
        *headers,
        f"MIME-Version: 1.0{CRLF}",
        f'Content-Type: multipart/alternative; boundary="{boundary}"{CRLF}',
        CRLF,
        f"--{boundary}{CRLF}",
        _part("plain", text),
        f"{CRLF}--{boundary}{CRLF}",
        _part("html", html),
        f"{CRLF}--{boundary}--{CRLF}",
    ]
    return "".join(out).encode("utf-8")
