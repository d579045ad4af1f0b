"""The notification-settings API (extension): shapes, validation, verification of a new address."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
from sqlalchemy import select

from crowdpost.db import Database
from crowdpost.email import links, service
from crowdpost.email.addresses import normalize_address
from crowdpost.models import OutboxItem
from tests.fixtures.factories import Admin, RequesterInfo
from tests.messaging.helpers import toloker_client

URL = "/api/v1/requester/notification-settings"


def _verify_rows(db: Database, requester_id: str) -> list[Any]:
    with db.transaction(write=False) as session:
        return list(
            session.execute(
                select(OutboxItem.channel, OutboxItem.kind, OutboxItem.payload, OutboxItem.status).where(
                    OutboxItem.requester_id == int(requester_id), OutboxItem.kind == "VERIFY_EMAIL"
                )
            ).all()
        )


def test_address_syntax_without_regex() -> None:
    assert normalize_address(" Ann.Lee+x@Mail.Example.ORG ") == "Ann.Lee+x@mail.example.org"
    bad = ["", "a", "a@b", "@b.org", "a@", "a@@b.org", "a..b@c.org", ".a@c.org", "a@-c.org", "a@c-.org",
           "a@c..org", "a b@c.org", "a@1.2.3.4", '"a"@c.org', "a@c.org\nBcc: x@y.org", "x" * 65 + "@c.org",
           "a@" + "c" * 64 + ".org", "a@" + ("c" * 60 + ".") * 5 + "org", "a" * 10**6 + "@c.org"]  # fmt: skip
    assert [b for b in bad if normalize_address(b) is not None] == []


def test_settings_shape_defaults_and_patch(
    requester_http: httpx.Client, db: Database, requester: RequesterInfo
) -> None:
    body = requester_http.get(URL).json()
    assert body == {
        "email_verified": False,
        "events": {"NEW_MESSAGE": {"email": False}, "OPERATION_FINISHED": {"email": False}},
    }
    done = requester_http.patch(URL, json={"events": {"NEW_MESSAGE": {"email": True}}})
    assert done.status_code == 200, done.text
    assert done.json()["events"] == {"NEW_MESSAGE": {"email": True}, "OPERATION_FINISHED": {"email": False}}
    # A new address: unverified, and a VERIFY_EMAIL row carries it.
    done = requester_http.patch(URL, json={"email": "ann@Example.org"})
    assert done.json()["email"] == "ann@example.org"
    assert done.json()["email_verified"] is False
    assert _verify_rows(db, requester.id) == [("email", "VERIFY_EMAIL", {"email": "ann@example.org"}, "PENDING")]
    # The same address again mails nothing; the link confirms it.
    requester_http.patch(URL, json={"email": "ann@example.org", "email_verified": True})
    assert requester_http.get(URL).json()["email_verified"] is False
    assert len(_verify_rows(db, requester.id)) == 1
    with db.transaction() as session:
        secret = links.link_secret(session)
    url = links.verify_url(db_settings(requester_http), secret, requester_id=int(requester.id), email="ann@example.org")
    with db.transaction() as session:
        assert service.do_verify_address(session, links.check_verify(secret, dict(parse_qsl(urlsplit(url).query))))
    assert requester_http.get(URL).json()["email_verified"] is True
    # A link to an old address confirms nothing once the address changed.
    requester_http.patch(URL, json={"email": "bob@example.org"})
    with db.transaction() as session:
        assert not service.do_verify_address(session, links.check_verify(secret, dict(parse_qsl(urlsplit(url).query))))
    assert requester_http.get(URL).json()["email_verified"] is False


def db_settings(_: httpx.Client) -> Any:
    from crowdpost.config import Settings

    return Settings(public_url="http://127.0.0.1:8000")


def test_validation_errors_are_toloka_400s(
    requester_http: httpx.Client, db: Database, requester: RequesterInfo
) -> None:
    for body, field in (
        ({"events": {"POOL_CLOSED": {"email": True}}}, "events.POOL_CLOSED"),
        ({"events": {"NEW_MESSAGE": {"email": "yes"}}}, "events.NEW_MESSAGE.email"),
        ({"events": {"NEW_MESSAGE": {"sms": True}}}, "events.NEW_MESSAGE.sms"),
        ({"email": "not an address"}, "email"),
        ({"email": "a@" + "b" * 300 + ".org"}, "email"),
        ({"colour": "red"}, "colour"),
    ):
        answer = requester_http.patch(URL, json=body)
        assert answer.status_code == 400, (body, answer.text)
        assert answer.json()["code"] == "VALIDATION_ERROR"
        assert field in answer.json()["payload"], (body, answer.json())
    assert requester_http.get(URL).json()["events"]["NEW_MESSAGE"] == {"email": False}
    assert _verify_rows(db, requester.id) == []


def test_operator_set_address_is_verified_and_the_toloker_switch(
    admin: Admin, server_url: str, requester_http: httpx.Client
) -> None:
    # (one test: one database and server per backend for both)
    data = admin._post("/requesters", {"public_name": "Ops", "email": "ops@example.org"})
    with httpx.Client(base_url=server_url, headers={"Authorization": f"OAuth {data['token']}"}) as client:
        assert client.get(URL).json()["email_verified"] is True
        assert client.get(URL).json()["email"] == "ops@example.org"

    toloker = admin.create_toloker(email="t@example.org")
    with toloker_client(server_url, admin, toloker) as client:
        assert client.get("/notification-settings").json() == {
            "email": "t@example.org",
            "events": {"NEW_MESSAGE": {"email": True}},
        }
        done = client.patch("/notification-settings", json={"events": {"NEW_MESSAGE": {"email": False}}})
        assert done.json()["events"]["NEW_MESSAGE"] == {"email": False}
        # The address is the operator's: not changeable here.
        assert client.patch("/notification-settings", json={"email": "x@example.org"}).status_code == 400
    # Each side has only its own endpoint.
    assert requester_http.get("/api/toloker/v1/notification-settings").status_code in (401, 403)
