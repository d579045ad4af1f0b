"""/email/verify and /email/unsubscribe: the signed URL is the authority; no session, no CSRF."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
from sqlalchemy import update

from crowdpost.config import Settings
from crowdpost.db import Database
from crowdpost.email import links
from crowdpost.models import Requester
from tests.fixtures.factories import RequesterInfo

URL = "/api/v1/requester/notification-settings"


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_verify_and_one_click_unsubscribe(
    server_url: str, db: Database, requester: RequesterInfo, requester_http: httpx.Client
) -> None:
    requester_http.patch(URL, json={"email": "ann@example.org", "events": {"NEW_MESSAGE": {"email": True}}})
    with db.transaction() as session:
        secret = links.link_secret(session)
    settings = Settings(public_url=server_url)
    verify = links.verify_url(settings, secret, requester_id=int(requester.id), email="ann@example.org")
    unsubscribe = links.unsubscribe_url(
        settings, secret, audience="REQUESTER", subject_id=requester.id, event="NEW_MESSAGE"
    )
    with httpx.Client(base_url=server_url, timeout=30) as anonymous:
        forged = anonymous.get(_path(verify).replace("ann%40", "eve%40"))
        assert forged.status_code == 400
        assert "not valid" in forged.text
        assert requester_http.get(URL).json()["email_verified"] is False
        page = anonymous.get(_path(verify))
        assert page.status_code == 200
        assert "Address confirmed" in page.text
        assert requester_http.get(URL).json()["email_verified"] is True
        # The unsubscribe page asks first; GET changes nothing.
        page = anonymous.get(_path(unsubscribe))
        assert page.status_code == 200
        assert "Unsubscribe" in page.text
        assert requester_http.get(URL).json()["events"]["NEW_MESSAGE"] == {"email": True}
        bad = anonymous.post(_path(unsubscribe)[:-2], content=b"List-Unsubscribe=One-Click",
                             headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
        assert bad.status_code == 400
        done = anonymous.post(
            _path(unsubscribe),
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert done.status_code == 200, done.text
    assert requester_http.get(URL).json()["events"]["NEW_MESSAGE"] == {"email": False}

    # An expired link is refused (the same database and server: one per backend for both).
    with db.transaction() as session:
        session.execute(update(Requester).where(Requester.id == int(requester.id)).values(email="a@example.org"))
    old = links.verify_url_until(
        Settings(public_url=server_url), secret, requester_id=int(requester.id), email="a@example.org", expires=1000
    )
    with httpx.Client(base_url=server_url, timeout=30) as anonymous:
        page = anonymous.get(_path(old))
    assert page.status_code == 400
    assert "expired" in page.text
