"""One-click unsubscribe end to end (RFC 8058), both backends.

A Toloker's reply, through the APIs, becomes an e-mail to the requester (address set by the
operator, so verified; New message switched on); the e-mail that reaches a real aiosmtpd
carries `List-Unsubscribe: <signed URL>` and `List-Unsubscribe-Post: List-Unsubscribe=One-Click`.
A GET of that URL shows a confirm page and changes nothing; a POST of
`List-Unsubscribe=One-Click` to it, as a mail client sends it (no cookie, no CSRF token),
turns the switch off: the requester's API shows it, and the Toloker's next reply writes no
e-mail row.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from crowdpost.config import Settings
from crowdpost.db import Database
from crowdpost.models.outbox import OutboxItem
from crowdpost.outbox.delivery import deliver_pending
from tests.email.test_delivery_outbox import Inbox
from tests.fixtures.factories import Admin
from tests.fixtures.live_server import free_port
from tests.messaging.helpers import compose_body, crew, toloker_client

SETTINGS = "/api/v1/requester/notification-settings"


def _one_click(client: httpx.Client, url: str) -> httpx.Response:
    """What a mail client sends (RFC 8058): a form body, no cookie, no CSRF token."""
    return client.post(
        url, content=b"List-Unsubscribe=One-Click", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def _email_rows(db: Database) -> int:
    with db.transaction(write=False) as s:
        return int(s.execute(select(func.count()).where(OutboxItem.channel == "email")).scalar_one())


def test_one_click_unsubscribe_from_a_delivered_email(
    db: Database, settings: Settings, server_url: str, admin: Admin, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    created = admin.http.post("/api/admin/v1/requesters", json={"public_name": "Acme", "email": "owner@example.org"})
    assert created.status_code == 201, created.text
    requester = created.json()
    with httpx.Client(
        base_url=server_url, headers={"Authorization": f"OAuth {requester['token']}"}, timeout=30
    ) as requester_http:
        switched = requester_http.patch(SETTINGS, json={"events": {"NEW_MESSAGE": {"email": True}}})
        assert switched.json()["email_verified"] is True  # set by the operator
        _, _, (worker,) = crew(db, admin, requester["id"], [{}])
        sent = requester_http.post("/api/v1/message-threads/compose", json=compose_body(recipients_ids=[worker])).json()
        with toloker_client(server_url, admin, worker) as toloker:
            reply = toloker.post(f"/message-threads/{sent['id']}/reply", json={"text": {"EN": "A question"}})
            assert reply.status_code == 201, reply.text
            assert _email_rows(db) == 1

            mail_settings = settings.model_copy(
                update={"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_timeout_seconds": 10.0,
                        "public_url": server_url}
            )  # fmt: skip
            assert deliver_pending(db, mail_settings) == 1
            [(rcpt, mail)] = inbox.mails
            assert rcpt == ["owner@example.org"]
            assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
            match = re.fullmatch(r"<(https?://[^>\s]+)>", str(mail["List-Unsubscribe"]))
            assert match is not None, mail["List-Unsubscribe"]
            url = match.group(1)
            assert url.startswith(f"{server_url}/")

            with httpx.Client(timeout=30) as mail_client:  # no session cookie, no CSRF token
                page = mail_client.get(url)
                assert page.status_code == 200
                assert f'<form method="post" action="{html.escape(url.removeprefix(server_url))}">' in page.text
                assert requester_http.get(SETTINGS).json()["events"]["NEW_MESSAGE"] == {"email": True}
                assert _one_click(mail_client, url[:-3]).status_code == 400  # a broken signature
                assert requester_http.get(SETTINGS).json()["events"]["NEW_MESSAGE"] == {"email": True}
                done = _one_click(mail_client, url)
                assert done.status_code == 200, done.text
                assert not mail_client.cookies

            assert requester_http.get(SETTINGS).json()["events"]["NEW_MESSAGE"] == {"email": False}
            again = toloker.post(f"/message-threads/{sent['id']}/reply", json={"text": {"EN": "Another one"}})
            assert again.status_code == 201, again.text
    assert _email_rows(db) == 1  # the second reply wrote no e-mail row
    assert deliver_pending(db, mail_settings) == 0
    assert len(inbox.mails) == 1
