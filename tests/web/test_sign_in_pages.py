"""Sign-in, sessions and CSRF of the pages (issue 11), on both backends, through Chromium
where a browser is what is being tested and plain httpx where it adds nothing.

Checklist (issue 11, "Sign-in and sessions"):
- /sign-in by e-mail + password lands on /messages (also keyboard only, also without JavaScript)
- /sign-in by one of the requester's API tokens
- wrong credentials: one message that does not say which part was wrong (unknown e-mail too)
- 10 failures lock the account (the page says so); the right password is then refused;
  failures on an unknown e-mail are counted the same way
- sign-out goes back to /sign-in and the old cookie opens nothing
- a signed-out visit to a page goes to /sign-in?next=... and back there after signing in;
  a `next` to another host is not followed
- cookie crowdpost_session: HttpOnly, SameSite=Lax, Secure exactly when public_url is https
- CSRF: a state-changing form (sign-out, mark all read, change password) or htmx request
  without the session's token, or with a wrong one, gets 403 and changes nothing
- the sign-in page passes axe-core signed out, also with an error shown and at phone width
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import Page, expect

from crowdpost.accounts.web_sessions import WRONG_PASSWORD
from crowdpost.app import create_app
from crowdpost.db import Database
from tests.fixtures.factories import Admin, settings_for
from tests.fixtures.live_server import serve_in_thread
from tests.web.browser import (
    SESSION_COOKIE,
    WebRequester,
    assert_accessible,
    create_web_requester,
    fill_sign_in,
    hidden_value,
    page_client,
    post_sign_in,
    send_to_tolokers,
    session_cookie,
    sign_in,
    sign_in_http,
    tab_to,
    toloker_reply,
    tolokers_who_worked,
)

LOCKED = re.compile(r"Too many failed sign-ins")
TOKEN_BUTTON = re.compile(r"sign in with .*token", re.IGNORECASE)
MAX_FAILURES = 10  # Settings.sign_in_max_failures, the number


def _error_text(page: Page) -> str:
    """The one message the sign-in page shows after a refusal."""
    summary = page.locator(".error-summary")
    expect(summary).to_be_visible()
    return summary.inner_text()


@contextmanager
def _signed_in_client(server_url: str, who: WebRequester) -> Iterator[httpx.Client]:
    with page_client(server_url) as client:
        answer = sign_in_http(client, who.email, who.password)
        assert answer.status_code == 303, answer.text
        yield client


def _opens_messages(server_url: str, cookie_value: str) -> bool:
    with page_client(server_url) as client:
        client.cookies.set(SESSION_COOKIE, cookie_value)
        answer = client.get("/messages")
    if answer.status_code == 303:
        assert answer.headers["location"].startswith("/sign-in"), answer.headers["location"]
        return False
    assert answer.status_code == 200, answer.text
    return True


# --- signing in ------------------------------------------------------------------------------


def test_password_sign_in_lands_on_messages_with_a_safe_cookie(
    page: Page, server_url: str, web_requester: WebRequester
) -> None:
    sign_in(page, server_url, web_requester.email, web_requester.password)

    assert page.url == f"{server_url}/messages"
    expect(page.get_by_text(web_requester.name).first).to_be_visible()
    cookie = session_cookie(page)
    assert cookie is not None
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert cookie["secure"] is False  # public_url is http here
    # Signed in, the sign-in page sends you on.
    page.goto(f"{server_url}/sign-in")
    assert page.url == f"{server_url}/messages"


def test_keyboard_only_sign_in(page: Page, server_url: str, web_requester: WebRequester) -> None:
    page.goto(f"{server_url}/sign-in")

    tab_to(page, page.get_by_label("E-mail"))
    page.keyboard.type(web_requester.email)
    tab_to(page, page.get_by_label("Password", exact=True))
    page.keyboard.type(web_requester.password)
    with page.expect_navigation():
        page.keyboard.press("Enter")

    assert page.url == f"{server_url}/messages"


def test_sign_in_and_out_without_javascript(
    js_disabled_page: Page, server_url: str, web_requester: WebRequester
) -> None:
    page = js_disabled_page
    sign_in(page, server_url, web_requester.email, web_requester.password)
    assert page.url == f"{server_url}/messages"

    with page.expect_navigation():
        page.get_by_role("button", name=re.compile("sign out", re.IGNORECASE)).click()
    assert page.url.startswith(f"{server_url}/sign-in")
    assert session_cookie(page) is None


def test_sign_in_with_an_api_token(page: Page, server_url: str, web_requester: WebRequester) -> None:
    page.goto(f"{server_url}/sign-in")
    page.get_by_text("Sign in with an API token").click()  # the <details> that holds the token form
    page.get_by_label("API token").fill(web_requester.token)
    with page.expect_navigation():
        page.get_by_role(
            "button", name=re.compile("sign in with (the|a|an|your)? ?(api )?token", re.IGNORECASE)
        ).click()
    assert page.url == f"{server_url}/messages"
    expect(page.get_by_text(web_requester.name).first).to_be_visible()


def test_token_sign_in_refuses_other_tokens(server_url: str, admin: Admin, web_requester: WebRequester) -> None:
    toloker = admin.create_toloker()
    with page_client(server_url) as client:
        answers = {
            "toloker": post_sign_in(client, {"method": "token", "token": admin.toloker_token(toloker)}),
            "operator": post_sign_in(client, {"method": "token", "token": admin.http.headers["Authorization"]}),
            "made up": post_sign_in(client, {"method": "token", "token": "cpr_not_a_token"}),
        }
        good = post_sign_in(client, {"method": "token", "token": f"OAuth {web_requester.token}"})

    for kind, answer in answers.items():
        assert answer.status_code == 400, (kind, answer.status_code)
        assert SESSION_COOKIE not in answer.cookies, kind
    assert good.status_code == 303
    assert good.headers["location"] == "/messages"
    assert good.cookies.get(SESSION_COOKIE)


# --- wrong credentials and the lock ------------------------------------------------------------


def test_a_wrong_password_and_an_unknown_e_mail_get_the_same_one_message(
    page: Page, server_url: str, web_requester: WebRequester
) -> None:
    sign_in(page, server_url, web_requester.email, "not the password at all")
    wrong_password = _error_text(page)
    # The e-mail typed stays; the password is never sent back.
    expect(page.get_by_label("E-mail")).to_have_value(web_requester.email)
    expect(page.get_by_label("Password", exact=True)).to_have_value("")
    assert session_cookie(page) is None

    sign_in(page, server_url, "nobody-here@example.com", web_requester.password)
    unknown_email = _error_text(page)

    assert WRONG_PASSWORD in wrong_password
    assert wrong_password == unknown_email
    assert page.url.startswith(f"{server_url}/sign-in")
    assert session_cookie(page) is None
    assert_accessible(page)  # the page with its error box


def test_ten_failures_lock_the_account_and_the_page_says_so(
    page: Page, server_url: str, web_requester: WebRequester
) -> None:
    with page_client(server_url) as client:
        for _ in range(MAX_FAILURES - 1):
            answer = sign_in_http(client, web_requester.email, "a wrong guess")
            assert answer.status_code == 400
            assert not LOCKED.search(answer.text)

    sign_in(page, server_url, web_requester.email, "the last wrong guess")  # the tenth
    expect(page.locator(".error-summary")).to_contain_text(LOCKED)
    sign_in(page, server_url, web_requester.email, web_requester.password)
    expect(page.locator(".error-summary")).to_contain_text(LOCKED)
    assert page.url.startswith(f"{server_url}/sign-in")
    assert session_cookie(page) is None
    with page_client(server_url) as client:
        locked = sign_in_http(client, web_requester.email, web_requester.password)
        assert locked.status_code == 429
        assert SESSION_COOKIE not in locked.cookies
        # A token still signs in: the lock is on guesses at this e-mail's password.
        by_token = post_sign_in(client, {"method": "token", "token": web_requester.token})
        assert by_token.status_code == 303


def test_failures_on_an_unknown_e_mail_lock_it_too(server_url: str) -> None:
    with page_client(server_url) as client:
        answers = [sign_in_http(client, "Nobody@Example.com", f"guess {i}") for i in range(MAX_FAILURES + 1)]
    assert [a.status_code for a in answers[: MAX_FAILURES - 1]] == [400] * (MAX_FAILURES - 1)
    assert LOCKED.search(answers[MAX_FAILURES].text)
    assert answers[MAX_FAILURES].status_code == 429


@pytest.mark.parametrize("path", ["/sign-in", "/toloker/sign-in", "/admin/sign-in"])
def test_a_sign_in_post_from_another_site_is_refused_before_credentials(
    server_url: str, web_requester: WebRequester, path: str
) -> None:
    """Login CSRF: a cross-site POST carries no form-token cookie (SameSite=Strict), or a token
    that is not this browser's. It is refused with 403, signs nobody in and counts no failure."""
    credentials = {"email": web_requester.email, "password": web_requester.password, "token": web_requester.token}
    with page_client(server_url) as client:
        mine = hidden_value(client.get(path).text)
        with page_client(server_url) as other_browser:
            theirs = hidden_value(other_browser.get(path).text)
        assert theirs != mine
        client.cookies.clear()
        forged = [
            client.post(path, data=credentials),  # no cookie, no field
            client.post(path, data={**credentials, "csrf_token": mine}),  # the field without its cookie
        ]
        client.get(path)  # the cookie again, now with another browser's token in the field
        forged.append(client.post(path, data={**credentials, "csrf_token": theirs}))
        for answer in forged:
            assert answer.status_code == 403, answer.text
            assert "text/html" in answer.headers["content-type"]
            assert SESSION_COOKIE not in answer.cookies
    # None of the forged attempts counted as a failure: the account signs in at once.
    if path == "/sign-in":
        with page_client(server_url) as client:
            for _ in range(MAX_FAILURES):
                assert client.post(path, data={"email": web_requester.email, "password": "x"}).status_code == 403
            assert sign_in_http(client, web_requester.email, web_requester.password).status_code == 303


# --- signing out and signed-out visits ---------------------------------------------------------


def test_sign_out_returns_to_sign_in_and_the_old_cookie_opens_nothing(signed_in_page: Page, server_url: str) -> None:
    page = signed_in_page
    cookie = session_cookie(page)
    assert cookie is not None
    assert _opens_messages(server_url, cookie["value"])

    with page.expect_navigation():
        page.get_by_role("button", name=re.compile("sign out", re.IGNORECASE)).click()

    assert page.url == f"{server_url}/sign-in"
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert not _opens_messages(server_url, cookie["value"])
    page.goto(f"{server_url}/messages")
    assert page.url.startswith(f"{server_url}/sign-in")


def test_a_signed_out_visit_goes_to_sign_in_and_back(page: Page, server_url: str, web_requester: WebRequester) -> None:
    target = "/messages?folder=IMPORTANT"
    with page_client(server_url) as client:
        answer = client.get(target)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/sign-in?next=" + quote(target, safe="/")

    page.goto(f"{server_url}{target}")
    assert page.url == f"{server_url}/sign-in?next=" + quote(target, safe="/")
    fill_sign_in(page, web_requester.email, web_requester.password)
    assert page.url == f"{server_url}{target}"


@pytest.mark.parametrize("elsewhere", ["//evil.example/x", "https://evil.example/", "/\\evil.example"])
def test_next_never_leaves_the_site(server_url: str, web_requester: WebRequester, elsewhere: str) -> None:
    with page_client(server_url) as client:
        answer = post_sign_in(
            client, {"email": web_requester.email, "password": web_requester.password, "next": elsewhere}
        )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/messages"


# --- cookies -------------------------------------------------------------------------------


def _set_cookie_attributes(answer: httpx.Response) -> set[str]:
    (header,) = [h for h in answer.headers.get_list("set-cookie") if h.startswith(f"{SESSION_COOKIE}=")]
    return {part.strip().lower() for part in header.split(";")[1:]}


@pytest.fixture
def https_server_url(db_url: str, tmp_path: Path, db: Database) -> Iterator[str]:
    """The same database served by an app whose public URL is https (behind a TLS proxy)."""
    settings = settings_for(db_url, tmp_path, public_url="https://crowdpost.example")
    database = Database.from_settings(settings)
    try:
        with serve_in_thread(create_app(settings, database)) as url:
            yield url
    finally:
        database.dispose()


def test_the_cookie_is_secure_exactly_when_the_public_url_is_https(
    server_url: str, https_server_url: str, admin: Admin
) -> None:
    who = create_web_requester(admin)
    with page_client(server_url) as plain, page_client(https_server_url) as behind_tls:
        over_http = _set_cookie_attributes(sign_in_http(plain, who.email, who.password))
        over_https = _set_cookie_attributes(sign_in_http(behind_tls, who.email, who.password))

    for attributes in (over_http, over_https):
        assert "httponly" in attributes
        assert "samesite=lax" in attributes
        assert "path=/" in attributes
    assert "secure" not in over_http
    assert "secure" in over_https


# --- CSRF ----------------------------------------------------------------------------------


def _csrf_token(client: httpx.Client) -> str:
    answer = client.get("/messages")
    assert answer.status_code == 200, answer.text
    return hidden_value(answer.text, "csrf_token")


def test_sign_out_without_the_csrf_token_is_refused(server_url: str, web_requester: WebRequester) -> None:
    with _signed_in_client(server_url, web_requester) as client:
        token = _csrf_token(client)
        cookie = client.cookies[SESSION_COOKIE]
        refused = [
            client.post("/sign-out"),
            client.post("/sign-out", data={"csrf_token": ""}),
            client.post("/sign-out", data={"csrf_token": token[:-1] + ("A" if token[-1] != "A" else "B")}),
            client.post("/sign-out", headers={"HX-Request": "true", "X-CSRF-Token": "wrong"}),
        ]
        for answer in refused:
            assert answer.status_code == 403, answer.text
            assert "text/html" in answer.headers["content-type"]
        assert _opens_messages(server_url, cookie)  # still signed in

        accepted = client.post("/sign-out", data={"csrf_token": token})
    assert accepted.status_code == 303
    assert accepted.headers["location"] == "/sign-in"
    assert not _opens_messages(server_url, cookie)


def test_another_sessions_csrf_token_is_refused(server_url: str, web_requester: WebRequester) -> None:
    with _signed_in_client(server_url, web_requester) as mine, _signed_in_client(server_url, web_requester) as other:
        other_token = _csrf_token(other)
        assert other_token != _csrf_token(mine)
        answer = mine.post("/sign-out", data={"csrf_token": other_token})
        assert answer.status_code == 403
        assert _opens_messages(server_url, mine.cookies[SESSION_COOKIE])


def test_mark_all_read_without_the_csrf_token_changes_nothing(
    server_url: str, db: Database, admin: Admin, web_requester: WebRequester
) -> None:
    crew = tolokers_who_worked(db, admin, web_requester.id, 1)
    sent = send_to_tolokers(server_url, web_requester.token, crew.toloker_ids)
    toloker_reply(server_url, admin, crew.toloker_ids[0], sent, "A question about the task")
    api = httpx.Client(base_url=server_url, headers={"Authorization": f"OAuth {web_requester.token}"}, timeout=30)

    def unread() -> int:
        return int(api.get("/api/v1/message-threads/counts").json()["unread"])

    with api, _signed_in_client(server_url, web_requester) as client:
        token = _csrf_token(client)
        assert unread() == 1
        no_token = client.post("/messages/mark-all-read", data={"folder": "INBOX"})
        wrong_header = client.post(
            "/messages/mark-all-read", data={"folder": "INBOX"}, headers={"HX-Request": "true", "X-CSRF-Token": "x"}
        )
        assert (no_token.status_code, wrong_header.status_code) == (403, 403)
        assert unread() == 1

        done = client.post("/messages/mark-all-read", data={"folder": "INBOX", "csrf_token": token})
        assert done.status_code == 303
        assert unread() == 0


def test_a_password_change_without_the_csrf_token_changes_nothing(server_url: str, web_requester: WebRequester) -> None:
    new = "a brand new password, long enough"
    form = {"current_password": web_requester.password, "new_password": new, "confirm_password": new}
    with _signed_in_client(server_url, web_requester) as client:
        token = _csrf_token(client)
        refused = client.post("/profile/password", data={**form, "csrf_token": "forged"})
        assert refused.status_code == 403
        with page_client(server_url) as fresh:
            assert sign_in_http(fresh, web_requester.email, web_requester.password).status_code == 303
        with page_client(server_url) as fresh:
            assert sign_in_http(fresh, web_requester.email, new).status_code == 400

        changed = client.post("/profile/password", data={**form, "csrf_token": token})
        assert changed.status_code == 303
    with page_client(server_url) as fresh:
        assert sign_in_http(fresh, web_requester.email, new).status_code == 303


# --- accessibility -------------------------------------------------------------------------


def test_the_sign_in_page_is_accessible_signed_out(page: Page, phone_page: Page, server_url: str) -> None:
    for each in (page, phone_page):
        each.goto(f"{server_url}/sign-in")
        expect(each.get_by_role("button", name="Sign in")).to_be_visible()
        assert_accessible(each)
