"""Profile -> Notifications in Chromium: the guide's "Notifications" tab, "Email" for "New message".

- [x] the page shows the operator-set address as verified and both switches off (Toloka's default)
- [x] ticking "New message" and Save stores it (303, then the page shows it ticked)
- [x] a changed address shows "Verification pending" and a resend button
- [x] an invalid address: a 400 page naming the field, nothing stored
- [x] axe-core: no serious or critical violation
"""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from tests.web.browser import WebRequester, assert_accessible

API = "/api/v1/requester/notification-settings"


def _api(server_url: str, who: WebRequester) -> dict[str, object]:
    with httpx.Client(base_url=server_url, headers={"Authorization": f"OAuth {who.token}"}) as client:
        body: dict[str, object] = client.get(API).json()
        return body


def test_notifications_page(signed_in_page: Page, server_url: str, web_requester: WebRequester) -> None:
    page = signed_in_page
    page.goto(f"{server_url}/profile/notifications")
    expect(page.get_by_role("heading", name="Notifications", level=1)).to_be_visible()
    expect(page.get_by_label("E-mail address")).to_have_value(web_requester.email)
    expect(page.get_by_text("Verification pending")).to_have_count(0)
    expect(page.get_by_label("New message")).not_to_be_checked()
    assert_accessible(page)

    page.get_by_label("New message").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    expect(page.get_by_label("New message")).to_be_checked()
    expect(page.get_by_label("Operation finished")).not_to_be_checked()
    assert _api(server_url, web_requester)["events"] == {
        "NEW_MESSAGE": {"email": True},
        "OPERATION_FINISHED": {"email": False},
    }

    page.get_by_label("E-mail address").fill("not an address")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Enter an e-mail address like name@example.org").first).to_be_visible()
    assert _api(server_url, web_requester)["email"] == web_requester.email

    page.get_by_label("E-mail address").fill("new@example.org")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Verification pending")).to_be_visible()
    page.get_by_role("button", name="Resend confirmation e-mail").click()
    expect(page.get_by_role("status")).to_have_text("A new confirmation e-mail is on its way.")
    assert _api(server_url, web_requester)["email_verified"] is False
    assert_accessible(page)
