"""The guide, walked end to end in one browser session on each backend (issue 11, "Done when").

Each page's own module tests its details; this walk checks that the steps hold together as a
requester meets them: sign in; Contact -> Individual Tolokers (To), Subject, Message text,
Allows replies, Submit; the Sent folder shows the send; a Toloker replies through the Toloker
API; the reply appears in Inbox and Users with the unread count updated; clicking left of the
subject marks it read; the label under the date marks it important and it is found under
Important; a search by the Toloker's ID finds both threads; the requester replies from the
thread; a Toloker's appeal is accepted from its thread; sign out.
"""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from crowdpost.db import Database
from tests.fixtures.factories import Admin
from tests.web.browser import (
    WebRequester,
    open_appeal,
    preview_settled,
    rejected_assignment,
    sign_in,
    toloker_reply,
    tolokers_who_worked,
)


def unread_badge(page: Page, folder: str) -> str:
    badge = page.locator(f"#unread-{folder}")
    return badge.inner_text().split()[0] if badge.count() else "0"


def test_the_guide_end_to_end(
    page: Page, server_url: str, admin: Admin, db: Database, web_requester: WebRequester
) -> None:
    crew = tolokers_who_worked(db, admin, web_requester.id, 2)
    toloker = crew.toloker_ids[0]
    sign_in(page, server_url, web_requester.email, web_requester.password)
    expect(page.get_by_role("heading", name="Inbox", exact=True)).to_be_visible()

    # Contact -> Individual Tolokers -> To, Subject, Message text, Allows replies, Submit.
    page.get_by_role("link", name="Contact").first.click()
    page.get_by_label("Individual Tolokers").check()
    page.get_by_label("To", exact=True).fill(toloker)
    page.get_by_label("Subject", exact=True).fill("Instructions changed")
    page.get_by_label("Message text", exact=True).fill("We edited the instructions: please re-read them.")
    preview_settled(page)  # the preview's notes would move the checkbox and Submit mid-click
    page.get_by_label("Allows replies").check()
    preview_settled(page)
    with page.expect_navigation():
        page.get_by_role("button", name="Submit", exact=True).click()
    sent_thread = page.url.rsplit("/", 1)[-1]
    page.goto(f"{server_url}/messages?folder=sent")
    expect(page.get_by_role("link", name="Instructions changed")).to_be_visible()

    # A Toloker replies through the Toloker API: Inbox and Users show it, unread counts go up.
    page.goto(f"{server_url}/messages")
    inbox_before, users_before = int(unread_badge(page, "inbox")), int(unread_badge(page, "users"))
    reply_thread = toloker_reply(server_url, admin, toloker, sent_thread, "Done, thanks! One question though.")
    page.reload()
    assert int(unread_badge(page, "inbox")) == inbox_before + 1
    assert int(unread_badge(page, "users")) == users_before + 1
    page.get_by_role("link", name="Users", exact=True).click()
    row = page.locator(".thread-row", has_text="Done, thanks!")
    expect(row).to_be_visible()

    # Click left of the subject: read; the label under the date: important, found under Important.
    row.get_by_role("button", name="Mark as read").click()
    expect(page.locator("#unread-users")).to_have_count(0 if users_before == 0 else 1)
    row.get_by_role("button", name="Important").click()
    expect(row.get_by_role("button", name="Important")).to_have_attribute("aria-pressed", "true")
    page.get_by_role("link", name="Important", exact=True).click()
    expect(page.locator(".thread-row", has_text="Done, thanks!")).to_be_visible()

    # Search by the Toloker's ID: the send and the reply's thread.
    page.get_by_role("searchbox").fill(toloker)
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator(".thread-row")).to_have_count(len({sent_thread, reply_thread}))

    # Reply from the thread.
    page.goto(f"{server_url}/messages/{reply_thread}")
    page.get_by_label("Message text", exact=True).fill("Good question: see section 3 of the instructions.")
    page.get_by_role("button", name="Reply", exact=True).last.click()
    expect(page.get_by_text("Good question: see section 3")).to_be_visible()

    # An appeal is accepted from its thread.
    assignment = rejected_assignment(admin, crew.pool_id, crew.toloker_ids[1], days_ago=2)
    appeal = open_appeal(server_url, admin, crew.toloker_ids[1], assignment, "Please look again.")
    page.goto(f"{server_url}/messages/{appeal}")
    page.get_by_role("button", name="Accept responses").click()
    with httpx.Client(base_url=server_url, headers={"Authorization": f"OAuth {web_requester.token}"}) as api:
        assert api.get(f"/api/v1/assignments/{assignment}").json()["status"] == "ACCEPTED"

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{server_url}/sign-in")
