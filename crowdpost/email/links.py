"""Signed links in e-mails: one-click unsubscribe (RFC 8058) and address verification.

The signed URL is the only authority these links need (no session, no CSRF token): an
HMAC-SHA256 over exactly what the link does, keyed by a random secret of this installation
(`link_secret`, created once and stored in the database, never a constant). Checks compare
in constant time and bound every parameter before looking at it.

    unsubscribe   /email/unsubscribe?a=REQUESTER&id=42&e=NEW_MESSAGE&sig=...   (no expiry:
                  a List-Unsubscribe URL must keep working for as long as mail may arrive)
    verify        /email/verify?r=42&email=a%40b.example&exp=1765000000&sig=... (expires)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from crowdpost.config import Settings
from crowdpost.email import repository
from crowdpost.kit.timefmt import utcnow

LINK_SECRET_NAME = "email_links"  # noqa: S105  (the row's name; its value is random)
SECRET_BYTES = 32

AUDIENCES = ("REQUESTER", "TOLOKER")
# The events an audience can turn off by link (what it can receive by e-mail).
EVENTS_BY_AUDIENCE: Mapping[str, tuple[str, ...]] = {
    "REQUESTER": ("NEW_MESSAGE", "OPERATION_FINISHED"),
    "TOLOKER": ("NEW_MESSAGE",),
}
VERIFY_LINK_LIFETIME = timedelta(days=3)

UNSUBSCRIBE_PATH = "/email/unsubscribe"
VERIFY_PATH = "/email/verify"

# Longest value any parameter may have; anything longer is refused before it is looked at.
_MAX_PARAM = 400
_SIG_CHARS = 43  # base64url of 32 bytes, unpadded


class BadLink(Exception):
    """A link that cannot be honoured; `reason` is "invalid" or "expired" (the page says which)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class UnsubscribeLink:
    audience: str  # REQUESTER | TOLOKER
    subject_id: str  # the requester's id (decimal) or the Toloker's id
    event: str  # NEW_MESSAGE | OPERATION_FINISHED


@dataclass(frozen=True)
class VerifyLink:
    requester_id: int
    email: str
    expires: int  # Unix seconds


def link_secret(session: Session) -> bytes:
    """This installation's link key: read it, or create it the first time (a concurrent
    first creation keeps whichever row landed first; both callers then read that one)."""
    found = repository.server_secret(session, LINK_SECRET_NAME)
    if found is not None:
        return found
    return repository.create_server_secret(session, LINK_SECRET_NAME, secrets.token_bytes(SECRET_BYTES), utcnow())


def _sign(secret: bytes, *parts: str) -> str:
    # JSON of a list: unambiguous whatever the parts contain (ids are opaque strings).
    message = json.dumps(list(parts), ensure_ascii=True, separators=(",", ":")).encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _matches(secret: bytes, sig: str, *parts: str) -> bool:
    return hmac.compare_digest(_sign(secret, *parts).encode(), sig.encode())


def _base(settings: Settings) -> str:
    return settings.public_url.rstrip("/")


def unsubscribe_url(settings: Settings, secret: bytes, *, audience: str, subject_id: str, event: str) -> str:
    """The one-click URL that turns `event`'s e-mail off for one requester or Toloker."""
    if event not in EVENTS_BY_AUDIENCE.get(audience, ()):
        raise ValueError(f"no e-mail switch {event!r} for {audience!r}")
    sig = _sign(secret, "unsubscribe", audience, subject_id, event)
    query = urlencode({"a": audience, "id": subject_id, "e": event, "sig": sig})
    return f"{_base(settings)}{UNSUBSCRIBE_PATH}?{query}"


def verify_url(settings: Settings, secret: bytes, *, requester_id: int, email: str, now: datetime | None = None) -> str:
    """The link that confirms `email` for the requester, valid for VERIFY_LINK_LIFETIME
    and only while it is still the requester's address."""
    expires = _unix((now or utcnow()) + VERIFY_LINK_LIFETIME)
    return verify_url_until(settings, secret, requester_id=requester_id, email=email, expires=expires)


def verify_url_until(settings: Settings, secret: bytes, *, requester_id: int, email: str, expires: int) -> str:
    sig = _sign(secret, "verify", str(requester_id), email, str(expires))
    query = urlencode({"r": str(requester_id), "email": email, "exp": str(expires), "sig": sig})
    return f"{_base(settings)}{VERIFY_PATH}?{query}"


def _unix(moment: datetime) -> int:
    # Stored datetimes are naive UTC (kit.timefmt); never let the machine's zone in.
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def _param(params: Mapping[str, str], name: str) -> str:
    value = params.get(name)
    if not isinstance(value, str) or not value or len(value) > _MAX_PARAM:
        raise BadLink("invalid")
    return value


def _sig(params: Mapping[str, str]) -> str:
    sig = _param(params, "sig")
    if len(sig) != _SIG_CHARS or not sig.isascii():
        raise BadLink("invalid")
    return sig


def check_unsubscribe(secret: bytes, params: Mapping[str, str]) -> UnsubscribeLink:
    """The link's target if its signature holds; BadLink("invalid") otherwise."""
    audience, subject_id, event = _param(params, "a"), _param(params, "id"), _param(params, "e")
    sig = _sig(params)
    if event not in EVENTS_BY_AUDIENCE.get(audience, ()):
        raise BadLink("invalid")
    if not _matches(secret, sig, "unsubscribe", audience, subject_id, event):
        raise BadLink("invalid")
    return UnsubscribeLink(audience=audience, subject_id=subject_id, event=event)


def check_verify(secret: bytes, params: Mapping[str, str], *, now: datetime | None = None) -> VerifyLink:
    """The link's requester and address if its signature holds and it has not expired.
    Whether the address is still the requester's is the caller's question."""
    raw_id, email, raw_expires = _param(params, "r"), _param(params, "email"), _param(params, "exp")
    sig = _sig(params)
    if not (raw_id.isascii() and raw_id.isdigit() and len(raw_id) <= 19):
        raise BadLink("invalid")
    if not (raw_expires.isascii() and raw_expires.isdigit() and len(raw_expires) <= 12):
        raise BadLink("invalid")
    # The signature first: "expired" is only said of a link we issued.
    if not _matches(secret, sig, "verify", raw_id, email, raw_expires):
        raise BadLink("invalid")
    expires = int(raw_expires)
    if expires <= _unix(now or utcnow()):
        raise BadLink("expired")
    return VerifyLink(requester_id=int(raw_id), email=email, expires=expires)
