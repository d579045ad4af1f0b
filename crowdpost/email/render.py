"""The e-mail of an outbox row: recipient, headers and the text and HTML parts.

`render_batch` reads what a batch of rows needs in one short read transaction
(`render_reads.load`), then builds each e-mail without the database (`build`, pure). A row
whose recipient must not get mail (no address, an unverified requester address, the event's
switch off, the thread not theirs, the cause gone) is `Skipped`: settled, nothing sent.

What every e-mail carries:
- `Message-ID: <outbox-{row id}.{row created}@{host of CROWDPOST_PUBLIC_URL}>`: the same on
  every redelivery of the row, so a receiver recognises a repeat after a crash.
- `Date` = when the row was written (also the same on every redelivery), `From` = mail_from
  (with the sender's name for messages), `Auto-Submitted: auto-generated` (RFC 3834) and
  `X-Auto-Response-Suppress: All`, so vacation replies stay away.
- Notifications (not the address confirmation): `List-Unsubscribe: <signed one-click URL>` and
  `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058); the URL turns that one
  event's e-mail off for that recipient.
- `multipart/alternative`: plain text first, then HTML. The message HTML was sanitized when
  it was stored; here it passes a stricter sanitizer for mail (no images from other hosts,
  which would tell the sender who opened it; no relative links; links open a new window).

Header injection: every header value built from stored text (topics, names, addresses) is one
line of printable characters before `mime` writes it (which turns any CR/LF left into a space).
The bytes are written by `mime` rather than `EmailMessage` (see there why: speed, and a
List-Unsubscribe URL that stays a URL).
"""

from __future__ import annotations

import functools
import html
import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC
from email.headerregistry import Address
from email.utils import format_datetime, parseaddr
from typing import Any
from urllib.parse import urlsplit

import nh3

from crowdpost.config import Settings
from crowdpost.db import Database
from crowdpost.email import links, mime
from crowdpost.email.html_text import html_to_text
from crowdpost.email.render_reads import Facts, MessageFacts, RequesterFacts, TolokerFacts, Wanted, load
from crowdpost.kit.ids import format_id
from crowdpost.kit.language_choice import pick_language
from crowdpost.messaging import policy
from crowdpost.outbox.channels import OutboxRow

NEW_MESSAGE = "NEW_MESSAGE"
OPERATION_FINISHED = "OPERATION_FINISHED"
VERIFY_EMAIL = "VERIFY_EMAIL"
REQUESTER = "REQUESTER"
TOLOKER = "TOLOKER"
SUBJECT_MAX_CHARS = 200
NAME_MAX_CHARS = 100
SITE_NAME = "crowdpost"

# The stored allow-list (`policy.sanitize_html`) minus `style`, `img src` and relative URLs.
_MAIL_ATTRIBUTES: dict[str, set[str]] = {
    "*": {"title", "align"},
    "a": {"href"},
    "img": {"alt", "width", "height"},
    "font": {"color", "size", "face"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
    "col": {"span"},
    "colgroup": {"span"},
}


@dataclass(frozen=True)
class Mail:
    raw: bytes  # the whole e-mail, CRLF lines, as it goes into DATA
    to: str


@dataclass(frozen=True)
class Skipped:
    """Nothing to send. `failed`: the row itself is wrong (unknown kind, bad payload), an
    operator should look; otherwise the recipient simply gets no mail (settled as suppressed)."""

    reason: str
    failed: bool = False


Rendered = Mail | Skipped


# --- small safe pieces --------------------------------------------------------------------


def one_line(value: str, limit: int) -> str:
    """`value` as one header-safe line: control and line-separator characters become spaces,
    runs of white space one space, at most `limit` characters."""
    printable = "".join(ch if ch.isprintable() else " " for ch in value)
    line = " ".join(printable.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


# A plain ASCII dot-atom address (RFC 5322 3.2.3 / 3.4.1), the usual case: taken without
# `Address`'s parser, which costs more than sending the e-mail; anything else is parsed.
_PLAIN_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+"
)


def mail_address(value: str | None) -> str | None:
    """`value` if it is one plain addr-spec (no name, no CR/LF, no second address), else None."""
    if not value or len(value) > 320 or not value.isprintable() or any(c in value for c in ' ,;<>"()'):
        return None
    if _PLAIN_ADDRESS.fullmatch(value):
        return value
    try:
        address = Address(addr_spec=value)
    except (ValueError, IndexError):
        return None
    return value if address.username and address.domain else None


@functools.lru_cache(maxsize=8)
def message_id_domain(public_url: str) -> str:
    host = urlsplit(public_url).hostname or "localhost"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host
    return f"[IPv6:{ip}]" if ip.version == 6 else str(ip)


def message_id(row: OutboxRow, public_url: str) -> str:
    """Stable for the row: its id and creation time (ids start again in a new database)."""
    created = row.created.replace(tzinfo=None)
    return f"<outbox-{row.id}.{created:%Y%m%d%H%M%S%f}@{message_id_domain(public_url)}>"


@functools.lru_cache(maxsize=64)  # an ALL send mails one text to every recipient of a batch
def mail_html(stored: str) -> str:
    """Stored message HTML as an e-mail shows it: a full sanitizer pass, whatever `stored` holds."""
    return nh3.clean(
        stored,
        tags=set(policy.ALLOWED_TAGS),
        clean_content_tags={"script", "style"},
        attributes=_MAIL_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        url_relative="deny",
        link_rel="noopener noreferrer nofollow",
        set_tag_attribute_values={"a": {"target": "_blank"}},
    )


def _text_in(texts: Mapping[str, Any] | None, languages: Sequence[str]) -> tuple[str | None, str]:
    """(language, text) picked for a reader: their languages first, then EN, then any."""
    clean = {k: v for k, v in (texts or {}).items() if isinstance(v, str)}
    language = pick_language(clean, languages)
    return language, (clean[language] if language is not None else "")


def _site(settings: Settings) -> str:
    return settings.public_url.rstrip("/")


@functools.lru_cache(maxsize=8)
def _mail_from(mail_from: str) -> tuple[str, str]:
    """(site name, address) of CROWDPOST_MAIL_FROM, parsed once per value."""
    name, address = parseaddr(mail_from)
    return one_line(name, NAME_MAX_CHARS) or SITE_NAME, address or mail_from


@functools.lru_cache(maxsize=64)
def _text_of(content_html: str) -> str:
    return html_to_text(content_html)


def _from(settings: Settings, who: str | None) -> str:
    """The From header: "<who> via <site>" (or the site) and the address of CROWDPOST_MAIL_FROM."""
    site, address = _mail_from(settings.mail_from)
    display = f"{one_line(who, NAME_MAX_CHARS)} via {site}" if who else site
    return mime.mailbox_header("From", display, address)


# --- the message ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Parts:
    subject: str
    language: str | None
    intro: str  # one line above the content, e.g. "Toloker 42 wrote:"
    content_html: str  # sanitized
    link: str | None
    link_label: str
    unsubscribe: str | None
    why: str  # why this address gets the e-mail


def _html_document(parts: _Parts) -> str:
    e = html.escape
    lang = f' lang="{e(parts.language.lower())}"' if parts.language else ""
    out = [
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(parts.subject)}</title></head>\n<body>\n",
        f"<p>{e(parts.intro)}</p>\n",
        f"<div{lang}>{parts.content_html}</div>\n",
    ]
    if parts.link:
        out.append(f'<p><a href="{e(parts.link)}">{e(parts.link_label)}</a></p>\n')
    out.append(f"<hr>\n<p><small>{e(parts.why)}")
    if parts.unsubscribe:
        out.append(f' <a href="{e(parts.unsubscribe)}">Turn these e-mails off</a>.')
    out.append("</small></p>\n</body></html>\n")
    return "".join(out)


def _text_document(parts: _Parts) -> str:
    lines = [parts.intro, "", _text_of(parts.content_html), ""]
    if parts.link:
        lines += [f"{parts.link_label}: {parts.link}", ""]
    lines += ["-- ", parts.why]
    if parts.unsubscribe:
        lines.append(f"Turn these e-mails off: {parts.unsubscribe}")
    return "\n".join(lines) + "\n"


def _assemble(settings: Settings, row: OutboxRow, to: str, sender_name: str | None, parts: _Parts) -> Mail:
    """The e-mail's bytes (`mime`: no header parsing, no refolding; the URL stays one word)."""
    headers = [
        _from(settings, sender_name),
        mime.address_header("To", to),
        mime.header("Subject", one_line(parts.subject, SUBJECT_MAX_CHARS) or "(no subject)"),
        mime.header("Date", format_datetime(row.created.replace(tzinfo=UTC), usegmt=True)),
        mime.header("Message-ID", message_id(row, settings.public_url)),
        mime.header("Auto-Submitted", "auto-generated"),
        mime.header("X-Auto-Response-Suppress", "All"),
    ]
    if parts.unsubscribe:
        headers.append(mime.header("List-Unsubscribe", f"<{parts.unsubscribe}>"))
        headers.append(mime.header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
    if parts.language:
        headers.append(mime.header("Content-Language", one_line(parts.language.lower(), 35)))
    return Mail(raw=mime.alternative(headers, _text_document(parts), _html_document(parts)), to=to)


def _unsubscribe(settings: Settings, secret: bytes, audience: str, subject_id: str, event: str) -> str:
    return links.unsubscribe_url(settings, secret, audience=audience, subject_id=subject_id, event=event)


def _sender_name(message: MessageFacts, facts: Facts, *, for_toloker: bool) -> str:
    if message.sender_role == "USER":
        return f"Toloker {message.sender_id}"
    if message.sender_role == "REQUESTER":
        requester = facts.requesters.get(message.thread_requester_id or -1)
        name = _text_in(requester.public_name, ())[1] if requester else ""
        if for_toloker:
            return one_line(name, NAME_MAX_CHARS) or "The requester"
        return "You"
    if message.sender_role == "ADMINISTRATOR":
        return "Administrator"
    return SITE_NAME


def _new_message(settings: Settings, secret: bytes, row: OutboxRow, facts: Facts) -> Rendered:
    if row.ref_id is None:
        return Skipped("NEW_MESSAGE row without a message id", failed=True)
    message = facts.messages.get(row.ref_id)
    if row.user_id is not None:
        reader = _toloker_reader(facts.tolokers.get(row.user_id), message, facts)
    elif row.requester_id is not None:
        reader = _requester_reader(facts.requesters.get(row.requester_id), message, facts)
    else:
        return Skipped("NEW_MESSAGE row without a recipient", failed=True)
    if isinstance(reader, Skipped):
        return reader
    assert message is not None  # the reader checked it is in their threads
    return _new_message_mail(settings, secret, row, message, facts, reader)


@dataclass(frozen=True)
class _Reader:
    """Who a NEW_MESSAGE mail is for: their address, side, id, languages (a requester reads
    every one: none preferred), where their threads are, and why they get it."""

    to: str
    side: str
    id: str
    languages: Sequence[str]
    threads_page: str
    why: str


def _toloker_reader(toloker: TolokerFacts | None, message: MessageFacts | None, facts: Facts) -> _Reader | Skipped:
    if toloker is None:
        return Skipped("the Toloker no longer exists")
    in_threads = message is not None and (toloker.id, message.thread_id) in facts.toloker_threads
    why = "You get this e-mail because new messages are e-mailed to you."
    reader = _Reader("", TOLOKER, toloker.id, toloker.languages, "/toloker/messages", why)
    return _checked(reader, _address(toloker.email), toloker.new_message, in_threads, "this Toloker's")


def _requester_reader(
    requester: RequesterFacts | None, message: MessageFacts | None, facts: Facts
) -> _Reader | Skipped:
    if requester is None:
        return Skipped("the requester no longer exists")
    in_threads = message is not None and (requester.id, message.thread_id) in facts.requester_threads
    why = "You get this e-mail because e-mail for new messages is on in your notification settings."
    reader = _Reader("", REQUESTER, str(requester.id), (), "/messages", why)
    return _checked(reader, _requester_address(requester), requester.new_message, in_threads, "this requester's")


def _checked(reader: _Reader, to: str | Skipped, wanted: bool, in_threads: bool, whose: str) -> _Reader | Skipped:
    """`reader` mailed at `to`, or why not, in this order: no address, NEW_MESSAGE e-mail
    switched off, the message gone or not in `whose` threads."""
    if isinstance(to, Skipped):
        return to
    if not wanted:
        return Skipped("e-mail for NEW_MESSAGE is switched off")
    if not in_threads:
        return Skipped(f"the message is gone or not in {whose} threads")
    return replace(reader, to=to)


def _new_message_mail(
    settings: Settings, secret: bytes, row: OutboxRow, message: MessageFacts, facts: Facts, reader: _Reader
) -> Rendered:
    """The NEW_MESSAGE mail of a message, in the reader's language, linking to the thread."""
    _, topic = _text_in(message.topic, reader.languages)
    language, text = _text_in(message.text, reader.languages)
    sender = _sender_name(message, facts, for_toloker=reader.side == TOLOKER)
    parts = _Parts(
        subject=policy.plain_text(topic),
        language=language,
        intro=f"{sender} wrote:",
        content_html=mail_html(text),
        link=f"{_site(settings)}{reader.threads_page}/{format_id(message.thread_id)}",
        link_label="Open the conversation",
        unsubscribe=_unsubscribe(settings, secret, reader.side, reader.id, NEW_MESSAGE),
        why=reader.why,
    )
    return _assemble(settings, row, reader.to, sender, parts)


def _address(email: str | None) -> str | Skipped:
    """The address to mail, or why there is none."""
    to = mail_address(email)
    if to is None:
        return Skipped("no usable e-mail address on file" if email else "no e-mail address on file")
    return to


def _requester_address(requester: RequesterFacts) -> str | Skipped:
    """A requester's address to mail, or why there is none (a requester's must be verified)."""
    to = _address(requester.email)
    if isinstance(to, Skipped):
        return to
    if not requester.verified:
        return Skipped("the e-mail address is not verified")
    return to


def _operation_finished(settings: Settings, secret: bytes, row: OutboxRow, facts: Facts) -> Rendered:
    operation_id = (row.payload or {}).get("operation_id")
    if row.requester_id is None or not isinstance(operation_id, str | int):
        return Skipped("OPERATION_FINISHED row without requester or operation_id", failed=True)
    requester = facts.requesters.get(row.requester_id)
    if requester is None:
        return Skipped("the requester no longer exists")
    to = _requester_address(requester)
    if isinstance(to, Skipped):
        return to
    if not requester.operation_finished:
        return Skipped("e-mail for OPERATION_FINISHED is switched off")
    operation = facts.operations.get((requester.id, str(operation_id)))
    if operation is None:
        return Skipped("the operation is gone")
    summary = f"Operation {operation.public_id} ({operation.type}) finished with status {operation.status}."
    counts = [
        f"{key.replace('_', ' ')}: {value}"
        for key, value in sorted(operation.details.items())
        if isinstance(value, int) and not isinstance(value, bool)
    ]
    content = f"<p>{html.escape(summary)}</p>"
    if counts:
        content += "<ul>" + "".join(f"<li>{html.escape(c)}</li>" for c in counts) + "</ul>"
    parts = _Parts(
        subject=f"Operation {operation.type} finished: {operation.status}",
        language="EN",
        intro=f"{SITE_NAME} says:",
        content_html=content,
        link=f"{_site(settings)}/messages?folder=notifications",
        link_label="Open your notifications",
        unsubscribe=_unsubscribe(settings, secret, REQUESTER, str(requester.id), OPERATION_FINISHED),
        why="You get this e-mail because e-mail for finished operations is on in your notification settings.",
    )
    return _assemble(settings, row, to, None, parts)


def _verify_email(settings: Settings, row: OutboxRow, facts: Facts) -> Rendered:
    payload = row.payload or {}
    to = mail_address(payload.get("email") if isinstance(payload.get("email"), str) else None)
    url = payload.get("url")
    if to is None or not isinstance(url, str) or not url.startswith(("https://", "http://")):
        return Skipped("VERIFY_EMAIL row without a usable address and link", failed=True)
    if row.requester_id is not None:
        requester = facts.requesters.get(row.requester_id)
        if requester is None:
            return Skipped("the requester no longer exists")
        if (requester.email or "").lower() != to.lower():
            return Skipped("the address changed after this link was asked for")
        if requester.verified:
            return Skipped("the address is verified already")
    url = one_line(url, 2000)
    parts = _Parts(
        subject=f"Confirm your e-mail address for {SITE_NAME}",
        language="EN",
        intro="Hello,",
        content_html=(
            f"<p>Please confirm that {html.escape(to)} is your address: open the link below. "
            "Until then it gets no e-mail from us.</p>"
        ),
        link=url,
        link_label="Confirm this address",
        unsubscribe=None,
        why="You get this e-mail because this address was entered in a requester profile. "
        "If that was not you, ignore it.",
    )
    return _assemble(settings, row, to, None, parts)


def build(settings: Settings, secret: bytes, row: OutboxRow, facts: Facts) -> Rendered:
    """The e-mail of one row from what `render_reads.load` found (no database access)."""
    if row.kind == NEW_MESSAGE:
        return _new_message(settings, secret, row, facts)
    if row.kind == OPERATION_FINISHED:
        return _operation_finished(settings, secret, row, facts)
    if row.kind == VERIFY_EMAIL:
        return _verify_email(settings, row, facts)
    return Skipped(f"unknown e-mail kind {row.kind!r}", failed=True)


def wanted(rows: Sequence[OutboxRow]) -> Wanted:
    need = Wanted()
    for row in rows:
        if row.requester_id is not None:
            need.requester_ids.add(row.requester_id)
        if row.user_id is not None:
            need.user_ids.add(row.user_id)
        if row.kind == NEW_MESSAGE and row.ref_id is not None:
            need.message_ids.add(row.ref_id)
        operation_id = (row.payload or {}).get("operation_id")
        if row.kind == OPERATION_FINISHED and row.requester_id is not None and isinstance(operation_id, str | int):
            need.operations.add((row.requester_id, str(operation_id)))
    return need


def render_batch(db: Database, settings: Settings, secret: bytes, rows: Sequence[OutboxRow]) -> list[Rendered]:
    """One read transaction for the whole batch, then one `build` per row."""
    with db.transaction(write=False) as session:
        facts = load(session, wanted(rows))
    return [build(settings, secret, row, facts) for row in rows]
