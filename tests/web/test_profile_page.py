"""/profile in Chromium, on both backends.

What the page covers (issue 11 and the guide):
- [x] the header's Profile link leads here; the page shows the requester's name, e-mail,
      requester ID and balance: the same data as GET /api/v1/requester (plus the e-mail)
- [x] "Change password" with "Current password", "New password", "Confirm new password"
      (issue 11: "by the requester on their profile page (current password required)")
- [x] a wrong current password: a message next to the field, the page at 400, nothing changed
- [x] two different new passwords: a message next to "Confirm new password", nothing changed
- [x] success: back on /profile with "Password changed. Other sessions were signed out.",
      shown once; every other session is signed out, this one stays; the new password signs
      in, the old one does not ("changing the password ends every other session")
- [x] a POST without this session's CSRF token (or with another one) is a 403, nothing changed
- [x] works without JavaScript (the wrong-password path runs with JavaScript disabled)
- [x] the guide's "Profile -> Notifications -> Email for the New message event" (issue 12):
      stated as not set up on this server, with no switch that would pretend otherwise
- [x] axe-core: no serious or critical violation at 1280 and 375 px, with and without errors
"""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Page, expect

from tests.web.browser import (
    WebRequester,
    assert_accessible,
    hidden_value,
    page_client,
    sign_in,
    sign_in_http,
)
from tests.web.conftest import NewPage

NEW_PASSWORD = "a brand new passphrase"
CHANGED = "Password changed. Other sessions were signed out."


def signs_in(server_url: str, email: str, password: str) -> bool:
    """Whether the sign-in form accepts this e-mail and password (a fresh client each time)."""
    with page_client(server_url) as client:
        answer = sign_in_http(client, email, password)
        return answer.status_code == 303 and "crowdpost_session" in client.cookies


def fill_password_form(page: Page, current: str, new: str, confirm: str) -> None:
    page.get_by_label("Current password").fill(current)
    page.get_by_label("New password", exact=True).fill(new)
    page.get_by_label("Confirm new password").fill(confirm)
    with page.expect_navigation():
        page.get_by_role("button", name="Change password").click()


def test_profile_shows_the_requester(signed_in_page: Page, server_url: str, web_requester: WebRequester) -> None:
    page = signed_in_page
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Profile").click()
    expect(page).to_have_url(f"{server_url}/profile")
    expect(page.get_by_role("heading", name="Profile", level=1)).to_be_visible()

    with httpx.Client(base_url=server_url, headers={"Authorization": f"OAuth {web_requester.token}"}) as api:
        me = api.get("/api/v1/requester").json()
    account = page.get_by_role("region", name="Account")
    rows = dict(
        zip(
            [t.strip() for t in account.locator("dt").all_inner_texts()],
            [t.strip() for t in account.locator("dd").all_inner_texts()],
            strict=True,
        )
    )
    assert rows["Name"] == web_requester.name
    assert rows["E-mail"] == web_requester.email
    assert rows["Requester ID"] == me["id"] == web_requester.id
    assert me["balance"] == 100
    assert rows["Balance"] == "$100.00"

    notifications = page.get_by_role("region", name="Notifications")
    expect(notifications).to_contain_text("E-mail for the New message event")
    expect(notifications).to_contain_text("not set up on this server yet")
    # No switch that would look like it does something.
    expect(notifications.locator("input, select, button, textarea")).to_have_count(0)


def test_wrong_current_password_changes_nothing(
    js_disabled_page: Page, server_url: str, web_requester: WebRequester
) -> None:
    page = js_disabled_page
    sign_in(page, server_url, web_requester.email, web_requester.password)
    page.goto(f"{server_url}/profile")

    with page.expect_response(f"{server_url}/profile/password") as answer:
        fill_password_form(page, "not my password at all", NEW_PASSWORD, NEW_PASSWORD)
    assert answer.value.status == 400
    field = page.get_by_label("Current password")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#current_password-error")).to_contain_text("That is not your current password.")
    expect(page.get_by_role("alert")).to_contain_text("That is not your current password.")
    # Passwords are never echoed back.
    for label in ("Current password", "Confirm new password"):
        expect(page.get_by_label(label)).to_have_value("")
    expect(page.get_by_label("New password", exact=True)).to_have_value("")

    with page.expect_response(f"{server_url}/profile/password") as answer:
        fill_password_form(page, web_requester.password, NEW_PASSWORD, NEW_PASSWORD + "!")
    assert answer.value.status == 400
    expect(page.locator("#confirm_password-error")).to_contain_text("not the same")

    with page.expect_response(f"{server_url}/profile/password") as answer:
        fill_password_form(page, web_requester.password, "short", "short")
    assert answer.value.status == 400
    expect(page.locator("#new_password-error")).to_be_visible()

    assert signs_in(server_url, web_requester.email, web_requester.password)
    assert not signs_in(server_url, web_requester.email, NEW_PASSWORD)
    assert not signs_in(server_url, web_requester.email, "short")
    page.goto(f"{server_url}/messages")  # still signed in
    expect(page).to_have_url(f"{server_url}/messages")


def test_change_password_signs_out_every_other_session(
    signed_in_page: Page, new_page: NewPage, server_url: str, web_requester: WebRequester
) -> None:
    other = new_page()
    sign_in(other, server_url, web_requester.email, web_requester.password)
    expect(other).to_have_url(re.compile(re.escape(f"{server_url}/messages")))

    page = signed_in_page
    page.goto(f"{server_url}/profile")
    fill_password_form(page, web_requester.password, NEW_PASSWORD, NEW_PASSWORD)
    expect(page).to_have_url(f"{server_url}/profile")
    expect(page.get_by_role("status")).to_have_text(CHANGED)
    page.reload()  # the notice is shown once
    expect(page.get_by_text(CHANGED)).to_have_count(0)

    # This browser stays signed in; the other one is signed out.
    page.goto(f"{server_url}/messages")
    expect(page).to_have_url(f"{server_url}/messages")
    other.goto(f"{server_url}/messages")
    expect(other).to_have_url(re.compile(re.escape(f"{server_url}/sign-in")))

    assert signs_in(server_url, web_requester.email, NEW_PASSWORD)
    assert not signs_in(server_url, web_requester.email, web_requester.password)


def test_change_password_without_csrf_token_is_refused(server_url: str, web_requester: WebRequester) -> None:
    with page_client(server_url) as client, page_client(server_url) as stranger:
        assert sign_in_http(client, web_requester.email, web_requester.password).status_code == 303
        assert sign_in_http(stranger, web_requester.email, web_requester.password).status_code == 303
        form = {"current_password": web_requester.password, "new_password": NEW_PASSWORD}
        form["confirm_password"] = NEW_PASSWORD
        assert client.post("/profile/password", data=form).status_code == 403
        # Another session's token is no better than none.
        other_token = hidden_value(stranger.get("/profile").text)
        assert client.post("/profile/password", data={**form, "csrf_token": other_token}).status_code == 403
        assert client.post("/profile/password", data={**form, "csrf_token": ""}).status_code == 403
        assert signs_in(server_url, web_requester.email, web_requester.password)
        # The same form with the page's own token works: the refusals above were the token's.
        token = hidden_value(client.get("/profile").text)
        answer = client.post("/profile/password", data={**form, "csrf_token": token})
        assert answer.status_code == 303, answer.text
        assert answer.headers["location"] == "/profile"
        assert stranger.get("/profile").status_code == 303  # signed out: sent to /sign-in
    assert signs_in(server_url, web_requester.email, NEW_PASSWORD)


def test_profile_is_accessible_at_desktop_and_phone_width(
    signed_in_page: Page, signed_in_phone_page: Page, server_url: str
) -> None:
    for page in (signed_in_page, signed_in_phone_page):
        page.goto(f"{server_url}/profile")
        assert_accessible(page)
        fill_password_form(page, "wrong password here", NEW_PASSWORD, "something else entirely")
        expect(page.get_by_role("alert")).to_be_visible()
        assert_accessible(page)
