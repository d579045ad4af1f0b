"""The Toloker's pages under /toloker (issue 13) in Chromium and over HTTP.

One thorough flow on both backends (token sign-in, Inbox count, read, reply, appeal, the
requester accepts the appeal on their page; password sign-in; bonuses in the Toloker's
language with the month total); the refusals (lock-out, CSRF, cross-role, another
Toloker's thread) over HTTP; axe at 1280/375, keyboard and XSS on SQLite.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import simplejson
from playwright.sync_api import Page, expect

from crowdpost.db import Database
from tests.fixtures.factories import Admin
from tests.web.browser import (
    WebRequester,
    assert_accessible,
    hidden_value,
    page_client,
    post_sign_in,
    rejected_assignment,
    send_to_tolokers,
    sign_in,
    tab_to,
    tolokers_who_worked,
)

SHOTS = Path("/tmp/shots")
PASSWORD = "toloker password 1"


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"toloker-{name}.png"), full_page=True)


def toloker_sign_in(page: Page, server_url: str, token: str) -> None:
    page.goto(f"{server_url}/toloker/sign-in")
    page.get_by_label("Your API token").fill(token)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in", exact=True).click()


@contextmanager
def toloker_http(server_url: str, token: str) -> Iterator[httpx.Client]:
    """A page client signed in to the Toloker pages by token."""
    with page_client(server_url) as client:
        response = post_sign_in(client, {"method": "token", "token": token}, path="/toloker/sign-in")
        assert response.status_code == 303, response.text
        yield client


def one_toloker(db: Database, admin: Admin, requester: WebRequester, languages: list[str]) -> tuple[str, str]:
    """(pool id, user id) of a Toloker who worked for the requester."""
    crew = tolokers_who_worked(db, admin, requester.id, [{"languages": languages}], started=1)
    return crew.pool_id, crew.toloker_ids[0]


def test_toloker_reads_replies_and_appeals_and_the_requester_accepts(
    page: Page, db: Database, admin: Admin, server_url: str, web_requester: WebRequester
) -> None:
    pool_id, toloker = one_toloker(db, admin, web_requester, ["EN"])
    send_to_tolokers(server_url, web_requester.token, [toloker], subject="Hello crowd", text="Please check task 7.")
    toloker_sign_in(page, server_url, admin.toloker_token(toloker))
    assert page.url == f"{server_url}/toloker/messages"
    expect(page.locator("#count-inbox")).to_contain_text("1")
    expect(page.locator(".site-header")).to_contain_text(toloker)
    # The sender is the requester's public name, not a number.
    expect(page.locator(".list-row").first).to_contain_text(web_requester.name)
    page.get_by_role("link", name="Unread: Hello crowd").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello crowd")
    expect(page.locator(".toloker-message")).to_contain_text("Please check task 7.")
    expect(page.locator(".toloker-message")).to_contain_text(web_requester.name)
    page.get_by_label("Your reply").fill("Checked it, <b>all fine</b>.")
    with page.expect_navigation():
        page.get_by_role("button", name="Send reply").click()
    expect(page.locator(".toloker-message--mine")).to_contain_text("Checked it, <b>all fine</b>.")
    # Marked important from the thread, found under Important.
    page.get_by_role("button", name="Important").click()
    expect(page.get_by_role("button", name="Important")).to_have_attribute("aria-pressed", "true")
    page.goto(f"{server_url}/toloker/messages?folder=important")
    expect(page.locator(".list-row")).to_have_count(1)

    assignment_id = rejected_assignment(admin, pool_id, toloker, days_ago=2)
    page.goto(f"{server_url}/toloker/messages")
    page.get_by_role("link", name="Appeal a rejection").click()
    expect(page.locator("main")).to_contain_text("within 7 days")
    expect(page.locator("main")).to_contain_text("9 days after the rejection")
    page.get_by_label("Assignment ID").fill(assignment_id)
    page.get_by_label("Why should it be accepted?").fill("Every answer was right.")
    with page.expect_navigation():
        page.get_by_role("button", name="Send appeal").click()
    expect(page.locator(".notice--warning")).to_contain_text("This is an appeal")
    appeal_thread = page.url.rsplit("/", 1)[1]
    shot(page, "appeal-thread")
    # A second appeal of the same assignment is refused on the form, not with a stack trace.
    page.goto(f"{server_url}/toloker/appeal?assignment={assignment_id}")
    page.get_by_label("Why should it be accepted?").fill("Again.")
    page.get_by_role("button", name="Send appeal").click()
    expect(page.locator(".error-summary")).to_contain_text("appealed already")

    # The requester accepts it from the appeal thread on their page.
    requester_page = page.context.browser.new_page()  # type: ignore[union-attr]
    try:
        sign_in(requester_page, server_url, web_requester.email, web_requester.password)
        requester_page.goto(f"{server_url}/messages/{appeal_thread}")
        with requester_page.expect_navigation():
            requester_page.get_by_role("button", name="Accept responses").click()
    finally:
        requester_page.close()
    with httpx.Client(base_url=server_url, headers={"Authorization": f"OAuth {web_requester.token}"}) as api:
        assert api.get(f"/api/v1/assignments/{assignment_id}").json()["status"] == "ACCEPTED"
    page.goto(f"{server_url}/toloker/messages/{appeal_thread}")
    expect(page.locator(".toloker-message")).to_have_count(2)  # the note Toloka sends the Toloker


def test_password_sign_in_and_bonuses_in_the_tolokers_language(
    page: Page, db: Database, admin: Admin, server_url: str, web_requester: WebRequester
) -> None:
    _, toloker = one_toloker(db, admin, web_requester, ["DE"])
    response = admin.http.post(f"/api/admin/v1/tolokers/{toloker}/password", json={"password": PASSWORD})
    assert response.status_code == 204, response.text
    email = f"{toloker}@example.test"
    with db.transaction() as session:
        from crowdpost.models import Toloker

        row = session.get(Toloker, toloker)
        assert row is not None
        row.email = email
    paid = ["1.10", "2.25", "0.005"]
    with httpx.Client(base_url=server_url, headers={"Authorization": f"OAuth {web_requester.token}"}) as api:
        for n, amount in enumerate(paid):
            body: dict[str, Any] = {
                "user_id": toloker,
                "amount": Decimal(amount),
                "public_title": {"EN": f"Thanks {n}", "DE": f"Danke {n}"},
                "public_message": {"EN": "Great work", "DE": "<b>Gute</b> Arbeit<script>alert(1)</script>"},
            }
            created = api.post(
                "/api/v1/user-bonuses",
                content=simplejson.dumps(body, use_decimal=True),
                headers={"Content-Type": "application/json"},
            )
            assert created.status_code == 201, created.text
    page.goto(f"{server_url}/toloker/sign-in")
    page.get_by_text("Sign in with e-mail and password").click()
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in with password").click()
    page.get_by_role("link", name="Bonuses").click()
    table = page.locator("#bonuses tbody tr")
    expect(table).to_have_count(3)
    expect(table.first).to_contain_text("Danke 2")
    expect(table.first).to_contain_text("Gute Arbeit")
    expect(page.locator("#bonuses")).not_to_contain_text("Thanks")
    expect(page.locator("#bonuses script")).to_have_count(0)
    total = sum((Decimal(a) for a in paid), Decimal(0))
    expect(page.locator("#month-totals tbody tr")).to_have_count(1)
    expect(page.locator("#month-totals tbody")).to_contain_text(f"${total:,}")
    shot(page, "bonuses")


def test_refusals_lock_out_csrf_cross_role_and_cross_toloker(
    db: Database, admin: Admin, server_url: str, web_requester: WebRequester
) -> None:
    _, toloker = one_toloker(db, admin, web_requester, ["EN"])
    _, other = one_toloker(db, admin, web_requester, ["EN"])
    thread_id = send_to_tolokers(server_url, web_requester.token, [toloker], subject="Only for one")
    token = admin.toloker_token(toloker)
    with toloker_http(server_url, token) as client:
        listing = client.get("/toloker/messages")
        assert listing.status_code == 200
        (mine,) = [part.split('"')[0] for part in listing.text.split('href="/toloker/messages/')[1:]]
        # CSRF: a form without this session's token changes nothing.
        refused = client.post(f"/toloker/messages/{mine}/reply", data={"text": "no token"})
        assert refused.status_code == 403
        assert "no token" not in client.get(f"/toloker/messages/{mine}").text
        # A Toloker cookie does not open requester pages, and sign-out needs the token too.
        to_requester = client.get("/messages")
        assert to_requester.status_code == 303
        assert to_requester.headers["location"].startswith("/sign-in")
        assert client.post("/toloker/sign-out").status_code == 403
    del thread_id
    # Another Toloker gets a 404 for that thread.
    with toloker_http(server_url, admin.toloker_token(other)) as client:
        assert client.get(f"/toloker/messages/{mine}").status_code == 404
        csrf = hidden_value(client.get("/toloker/messages").text)
        assert client.post(f"/toloker/messages/{mine}/reply", data={"text": "x", "csrf_token": csrf}).status_code == 404
    # A requester's cookie does not open the Toloker pages.
    with page_client(server_url) as client:
        data = {"email": web_requester.email, "password": web_requester.password}
        assert post_sign_in(client, data).status_code == 303
        to_toloker = client.get("/toloker/messages")
        assert to_toloker.status_code == 303
        assert to_toloker.headers["location"] == "/toloker/sign-in?next=/toloker/messages"
    # Lock-out: ten wrong tokens lock that token's key; the page says when.
    with page_client(server_url) as client:
        answers = [
            post_sign_in(client, {"method": "token", "token": "wrong"}, path="/toloker/sign-in") for _ in range(10)
        ]
        assert [a.status_code for a in answers] == [400] * 9 + [429]
        assert "Too many failed sign-ins" in answers[-1].text
        # ...while the real token still works (its own key).
        ok = post_sign_in(
            client, {"method": "token", "token": token, "next": "//evil.example/"}, path="/toloker/sign-in"
        )
        assert ok.status_code == 303
        assert ok.headers["location"] == "/toloker/messages"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_pages_are_accessible_keyboard_usable_and_inert_to_xss(
    page: Page, phone_page: Page, db: Database, admin: Admin, server_url: str, web_requester: WebRequester
) -> None:
    _, toloker = one_toloker(db, admin, web_requester, ["EN"])
    corpus = '<img src=x onerror=alert(1)><script>alert(2)</script><a href="javascript:alert(3)">x</a>'
    send_to_tolokers(server_url, web_requester.token, [toloker], subject=f"Hi {corpus}", text=f"Text {corpus}")
    token = admin.toloker_token(toloker)
    # Keyboard only: sign in with the token, reach the thread, reply.
    page.goto(f"{server_url}/toloker/sign-in")
    tab_to(page, page.get_by_label("Your API token"))
    page.keyboard.type(token)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert_accessible(page)
    shot(page, "inbox")
    tab_to(page, page.locator(".list-row__title").first)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    tab_to(page, page.get_by_label("Your reply"))
    page.keyboard.type(f"Reply {corpus}")
    tab_to(page, page.get_by_role("button", name="Send reply"))
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.locator(".toloker-message--mine")).to_contain_text("Reply <img src=x")
    for hostile in ("main script", "main img", "main [onerror]", 'main a[href^="javascript"]'):
        expect(page.locator(hostile)).to_have_count(0)
    assert_accessible(page)
    shot(page, "thread")
    for path in ("/toloker/bonuses", "/toloker/appeal"):
        page.goto(f"{server_url}{path}")
        assert_accessible(page)
    phone_page.goto(f"{server_url}/toloker/sign-in")
    assert_accessible(phone_page)
    toloker_sign_in(phone_page, server_url, token)
    assert_accessible(phone_page)
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 375
    shot(phone_page, "inbox-phone")
