"""Signed e-mail links (crowdpost.email.links): what they sign, what they refuse."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest
from sqlalchemy import func, select

from crowdpost.config import Settings
from crowdpost.db import Database
from crowdpost.email import links
from crowdpost.email.links import BadLink
from crowdpost.models import ServerSecret

SECRET = bytes(range(32))
NOW = datetime(2026, 12, 5, 12, 0, 0)


def _params(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


def _settings() -> Settings:
    return Settings(public_url="https://mail.example.org/")


def test_unsubscribe_round_trip_and_tampering() -> None:
    url = links.unsubscribe_url(_settings(), SECRET, audience="TOLOKER", subject_id="ab&c=1", event="NEW_MESSAGE")
    assert url.startswith("https://mail.example.org/email/unsubscribe?")
    params = _params(url)
    assert links.check_unsubscribe(SECRET, params) == links.UnsubscribeLink("TOLOKER", "ab&c=1", "NEW_MESSAGE")
    # Each signed part changed, another key, a cut or missing signature: refused.
    for name, value in (("a", "REQUESTER"), ("id", "ab&c=2"), ("e", "OPERATION_FINISHED")):
        with pytest.raises(BadLink):
            links.check_unsubscribe(SECRET, {**params, name: value})
    with pytest.raises(BadLink):
        links.check_unsubscribe(bytes(32), params)
    for sig in ("", params["sig"][:-1], params["sig"] + "A", "é" * 43, "x" * 5000):
        with pytest.raises(BadLink, match="invalid"):
            links.check_unsubscribe(SECRET, {**params, "sig": sig})
    with pytest.raises(BadLink):
        links.check_unsubscribe(SECRET, {k: v for k, v in params.items() if k != "sig"})
    # A Toloker has no OPERATION_FINISHED switch: no link is made for it.
    with pytest.raises(ValueError, match="no e-mail switch"):
        links.unsubscribe_url(_settings(), SECRET, audience="TOLOKER", subject_id="x", event="OPERATION_FINISHED")


def test_parts_cannot_be_shifted_between_fields() -> None:
    """A subject id that contains what looks like a separator signs something else."""
    a = links.unsubscribe_url(_settings(), SECRET, audience="REQUESTER", subject_id="1", event="NEW_MESSAGE")
    b = _params(a)
    assert (
        b["sig"]
        != _params(
            links.unsubscribe_url(_settings(), SECRET, audience="REQUESTER", subject_id="1,NEW", event="NEW_MESSAGE")
        )["sig"]
    )


def test_verify_link_expires_and_binds_the_address() -> None:
    url = links.verify_url(_settings(), SECRET, requester_id=42, email="Ann@Example.org", now=NOW)
    params = _params(url)
    assert urlsplit(url).path == "/email/verify"
    checked = links.check_verify(SECRET, params, now=NOW + timedelta(days=2))
    assert (checked.requester_id, checked.email) == (42, "Ann@Example.org")
    with pytest.raises(BadLink, match="expired"):
        links.check_verify(SECRET, params, now=NOW + links.VERIFY_LINK_LIFETIME)
    # A later expiry or another address or requester breaks the signature (never "expired").
    for name, value in (("exp", str(int(params["exp"]) + 10**6)), ("email", "eve@example.org"), ("r", "43")):
        with pytest.raises(BadLink, match="invalid"):
            links.check_verify(SECRET, {**params, name: value}, now=NOW)
    for name, value in (("r", "-1"), ("r", "4" * 30), ("exp", "1e9"), ("r", "٤٢")):
        with pytest.raises(BadLink, match="invalid"):
            links.check_verify(SECRET, {**params, name: value}, now=NOW)


def test_link_secret_is_random_and_created_once(db: Database) -> None:
    with db.transaction() as session:
        first = links.link_secret(session)
    with db.transaction() as session:
        assert links.link_secret(session) == first
        assert session.execute(select(func.count()).select_from(ServerSecret)).scalar_one() == 1
    assert len(first) == 32
    assert first not in (bytes(32), SECRET)
