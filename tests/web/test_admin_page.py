"""The operator's page under /admin (issue 13, "Operator page"), in Chromium and over HTTP.

- [x] the operator signs in with the token, previews news to all requesters (count, text), sends
      it; a signed-in requester sees it under Administrator with the unread count (both backends)
- [x] the operator finds a requester by e-mail, deposits with a description; the page's ledger,
      the requester's header balance and the ledger rows agree exactly; a re-post of the same
      form credits nothing more (both backends)
- [x] wrong token (one message), lock-out after 10 failures (the right token refused too), the
      published default token refused outside development, CSRF refusal changes nothing, a
      requester cookie on /admin goes to the operator sign-in and the operator cookie opens no
      requester page, sign-out ends it, rotating the token ends the session (SQLite)
- [x] an XSS corpus in news subject and text is inert on the requester's pages and in the sent list
- [x] axe at 1280 and 375 on sign-in, news (with preview), requester (SQLite)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import httpx
import pytest
from playwright.sync_api import Page, expect

from crowdpost.accounts.web_sessions import PUBLISHED_TOKEN_REFUSED, do_operator_sign_in
from crowdpost.config import DEFAULT_ADMIN_TOKEN, Settings
from crowdpost.db import Database
from crowdpost.web.admin.operator_session import COOKIE, authenticate
from tests.fixtures.factories import ADMIN_TOKEN, Admin
from tests.web.browser import (
    WebRequester,
    assert_accessible,
    create_web_requester,
    hidden_value,
    page_client,
    post_sign_in,
    sign_in,
)
from tests.web.test_xss_pages import CORPUS, assert_inert


def operator_sign_in(page: Page, server_url: str, token: str = ADMIN_TOKEN) -> None:
    page.goto(f"{server_url}/admin/sign-in")
    page.get_by_label("Operator token").fill(token)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()


@contextmanager
def operator_client(server_url: str) -> Iterator[httpx.Client]:
    """A page client signed in through /admin/sign-in."""
    with page_client(server_url) as client:
        response = post_sign_in(client, {"token": ADMIN_TOKEN}, path="/admin/sign-in")
        assert response.status_code == 303, response.text
        assert response.headers["location"] == "/admin/news"
        yield client


def header_balance(page: Page) -> str:
    return page.locator(".account__balance").inner_text().replace("Balance", "").strip()


def test_news_reaches_requesters_and_a_deposit_lands_exactly(
    page: Page, server_url: str, admin: Admin, web_requester: WebRequester, db: Database
) -> None:
    other = create_web_requester(admin)
    operator_sign_in(page, server_url)
    expect(page).to_have_url(f"{server_url}/admin/news")
    expect(page.locator(".operator-badge")).to_have_text("Operator")

    page.get_by_label("Subject").fill("Maintenance on Sunday")
    page.get_by_label("Message text").fill("The API is <b>read-only</b> from 02:00 to 03:00 UTC.")
    page.get_by_role("button", name="Preview").click()
    preview = page.locator(".admin-preview")
    expect(preview).to_contain_text("2 requesters will get this message.")
    expect(preview.locator("b")).to_have_text("read-only")
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".flash")).to_contain_text("Sent")
    row = page.locator("table tbody tr").first
    expect(row).to_contain_text("Maintenance on Sunday")
    expect(row.locator("td.num")).to_have_text("2")

    # To one requester by ID: only they get it.
    page.get_by_label("Requesters by ID").check()
    page.get_by_label("Requester IDs").fill(other.id)
    page.get_by_label("Subject").fill("Just for you")
    page.get_by_label("Message text").fill("Hello")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("table tbody tr").first).to_contain_text("Just for you")
    expect(page.locator("table tbody tr").first.locator("td.num")).to_have_text("1")

    # The requester, in another browser context, sees the news under Administrator, unread.
    requester_page = page.context.browser.new_page()  # type: ignore[union-attr]
    try:
        sign_in(requester_page, server_url, web_requester.email, web_requester.password)
        expect(requester_page.locator("#unread-administrator")).to_contain_text("1")
        requester_page.goto(f"{server_url}/messages?folder=administrator")
        expect(requester_page.get_by_text("Maintenance on Sunday")).to_be_visible()
        expect(requester_page.get_by_text("Just for you")).to_have_count(0)
        before = header_balance(requester_page)
        assert before == "$100.00"

        # Deposit: find by e-mail, an exact amount with a description.
        page.goto(f"{server_url}/admin/requesters")
        page.get_by_label("Requester ID or e-mail").fill(web_requester.email.upper())
        page.get_by_role("button", name="Find").click()
        expect(page).to_have_url(f"{server_url}/admin/requesters/{web_requester.id}")
        expect(page.locator("#requester-balance")).to_have_text("$100.00")
        page.get_by_label("Amount (USD)").fill("12.345678")
        page.get_by_label("Description").fill("Goodwill credit")
        page.get_by_role("button", name="Deposit").click()
        expect(page.locator(".flash")).to_contain_text("Deposited $12.345678")
        expect(page.locator("#requester-balance")).to_have_text("$112.345678")
        first = page.locator("table tbody tr").first
        expect(first).to_contain_text("Goodwill credit")
        expect(first).to_contain_text("+$12.345678")

        requester_page.reload()
        assert header_balance(requester_page) == "$112.345678"
    finally:
        requester_page.close()
    response = admin.http.get(f"/api/admin/v1/requesters/{web_requester.id}")
    assert Decimal(str(response.json()["balance"])) == Decimal("112.345678")


def test_a_double_submitted_deposit_credits_once_and_the_description_is_required(
    server_url: str, web_requester: WebRequester
) -> None:
    with operator_client(server_url) as client:
        form = client.get(f"/admin/requesters/{web_requester.id}")
        data = {
            "csrf_token": hidden_value(form.text),
            "operation_id": hidden_value(form.text, "operation_id"),
            "amount": "5",
            "description": "",
        }
        refused = client.post(f"/admin/requesters/{web_requester.id}/deposits", data=data)
        assert refused.status_code == 400
        assert "Enter a description" in refused.text
        data["description"] = "Top-up"
        for _ in range(2):
            sent = client.post(f"/admin/requesters/{web_requester.id}/deposits", data=data)
            assert sent.status_code == 303, sent.text
        page = client.get(f"/admin/requesters/{web_requester.id}")
        assert '<dd class="num" id="requester-balance">$105.00</dd>' in page.text
        assert page.text.count("Top-up") == 1
        bad = client.post(f"/admin/requesters/{web_requester.id}/deposits", data={**data, "amount": "1e400"})
        assert bad.status_code == 400


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_sign_in_refusals_lock_out_csrf_and_cookie_scopes(
    server_url: str, admin: Admin, web_requester: WebRequester, db: Database
) -> None:
    with page_client(server_url) as client:
        assert client.get("/admin/news").headers["location"] == "/admin/sign-in"
        wrong = post_sign_in(client, {"token": "not-the-token"}, path="/admin/sign-in")
        assert wrong.status_code == 400
        assert "That is not the operator token." in wrong.text
        # No pre-session CSRF token: refused before anything is counted.
        assert client.post("/admin/sign-in", data={"token": ADMIN_TOKEN}).status_code == 403
        for _ in range(9):
            post_sign_in(client, {"token": "guess"}, path="/admin/sign-in")
        locked = post_sign_in(client, {"token": ADMIN_TOKEN}, path="/admin/sign-in")
        assert locked.status_code == 429
        assert "Too many failed sign-ins" in locked.text
        assert COOKIE not in client.cookies

    # A requester's session opens no /admin page.
    with page_client(server_url) as client:
        post_sign_in(client, {"email": web_requester.email, "password": web_requester.password})
        assert client.get("/messages").status_code == 200
        for path in ("/admin/news", f"/admin/requesters/{web_requester.id}"):
            answer = client.get(path)
            assert answer.status_code == 303
            assert answer.headers["location"] == "/admin/sign-in"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_operator_cookie_scope_csrf_sign_out_and_rotation(
    server_url: str, settings: Settings, db: Database, web_requester: WebRequester
) -> None:
    with operator_client(server_url) as client:
        cookie = client.cookies[COOKIE]
        assert authenticate(settings, cookie) is not None
        # The operator cookie opens nothing else.
        assert client.get("/messages").headers["location"].startswith("/sign-in")
        assert client.get("/api/admin/v1/requesters/" + web_requester.id).status_code == 401
        # CSRF: a send or a deposit without (or with a forged) token changes nothing.
        news = {"audience": "all", "subject": "x", "text": "y", "action": "send"}
        deposit = {"amount": "5", "description": "d", "operation_id": "op-1"}
        for token in ("", "forged"):
            assert client.post("/admin/news", data={**news, "csrf_token": token}).status_code == 403
            refused = client.post(
                f"/admin/requesters/{web_requester.id}/deposits", data={**deposit, "csrf_token": token}
            )
            assert refused.status_code == 403
        page = client.get("/admin/news")
        assert "Nothing sent yet" in page.text
        assert "$100.00" in client.get(f"/admin/requesters/{web_requester.id}").text
        # Rotating the token ends the session; a forged signature is refused.
        rotated = settings.model_copy(update={"admin_token": "another-operator-token"})
        assert authenticate(rotated, cookie) is None
        assert authenticate(settings, cookie[:-2] + ("11" if cookie.endswith("00") else "00")) is None
        # Sign-out clears the cookie.
        out = client.post("/admin/sign-out", data={"csrf_token": hidden_value(page.text)})
        assert out.status_code == 303
        assert COOKIE not in client.cookies


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_published_default_token_is_refused_outside_development(settings: Settings, db: Database) -> None:
    """The page honours what the API honours: the default token only in development."""
    published = settings.model_copy(update={"admin_token": DEFAULT_ADMIN_TOKEN})
    assert published.environment != "development"
    result = do_operator_sign_in(db, published, DEFAULT_ADMIN_TOKEN)
    assert not result.ok
    assert result.message == PUBLISHED_TOKEN_REFUSED
    development = published.model_copy(update={"environment": "development"})
    assert do_operator_sign_in(db, development, DEFAULT_ADMIN_TOKEN).ok


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_xss_in_news_is_inert_and_pages_are_accessible(
    page: Page, phone_page: Page, server_url: str, web_requester: WebRequester
) -> None:
    operator_sign_in(page, server_url)
    assert_accessible(page)
    page.get_by_label("Subject").fill("Welcome")
    page.get_by_label("Message text").fill("<p>New: <a href='https://toloka.ai/'>docs</a></p><ul><li>one</li></ul>")
    page.get_by_role("button", name="Preview").click()
    assert_accessible(page)
    # The corpus (an <img> without alt may survive the allow-list: text, not a page control).
    page.get_by_label("Subject").fill("N " + CORPUS[0] + CORPUS[1])
    page.get_by_label("Message text").fill(" ".join(CORPUS))
    page.get_by_role("button", name="Preview").click()
    assert_inert(page)
    page.get_by_role("button", name="Send").click()
    assert_inert(page)
    page.goto(f"{server_url}/admin/requesters/{web_requester.id}")
    assert_accessible(page)

    operator_sign_in(phone_page, server_url)
    for path in ("/admin/news", f"/admin/requesters/{web_requester.id}", "/admin/requesters?q=nobody@x.y"):
        phone_page.goto(server_url + path)
        assert_accessible(phone_page)
        width = phone_page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, (path, width)

    requester_page = page.context.browser.new_page()  # type: ignore[union-attr]
    try:
        sign_in(requester_page, server_url, web_requester.email, web_requester.password)
        requester_page.goto(f"{server_url}/messages?folder=administrator")
        assert_inert(requester_page)
        requester_page.locator(".list-row__title a, a.list-row__title").first.click()
        requester_page.wait_for_load_state("load")
        assert_inert(requester_page)
    finally:
        requester_page.close()
