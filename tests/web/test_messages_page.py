"""The Messages page (/messages) in Chromium, against a live server, on SQLite and PostgreSQL.

The guide's sentences about this page, and the test that holds each (issue 11):

- "To search, view, and send messages, go to the Messages page."
    -> test_every_folder_shows_its_threads_and_unread_count (the list, a "Contact" link to compose)
- "To switch between them, select one of the following options in the upper-left part of the
  page: Inbox, Sent, Users, Administrator, Notifications, Important" (+ Unread, each with its
  unread count; the current folder marked and in the URL, so reload and back keep it)
    -> test_every_folder_shows_its_threads_and_unread_count, test_folder_survives_reload_and_back
- "Inbox: Messages you received." / "Users: Messages from Tolokers." / "Administrator: Messages
  from the platform." / "Notifications: System notifications about pool or aggregation
  completion and other events" -> test_every_folder_shows_its_threads_and_unread_count
  (the other party: the Toloker's id, "Administrator", "Toloka")
- "Sent: Messages you sent. Recipients can be: any Toloker who started at least two of your
  tasks / a group of Tolokers (+ Add filter) / individual Tolokers (the To field)"
    -> test_sent_names_each_kind_of_audience
- "Important: Messages that you marked as important (using the label)." / "You can specify which
  messages you consider important. To do this, click under the message date."
    -> test_mark_important_under_the_date_and_find_it_under_important
- "To find all the messages received from a certain Toloker, enter their ID in the search box in
  the upper-right corner and click Search. To find messages by keyword, enter a keyword or
  phrase in the search box." -> test_search_by_toloker_id_keyword_and_phrase (says which search
  ran, offers "Clear search"), test_bad_search_input_is_a_message
- "To mark a message as read, click to the left of its subject."
    -> test_mark_read_left_of_the_subject_and_unread_again (htmx: the row and the counts change
       in place), test_without_javascript_every_mark_is_a_form
- "To mark multiple messages at once, click Mark all as read above the message list."
    -> test_mark_all_read_marks_the_folder_shown
- Paging by id_lt (newer/older), 50 a page -> test_paging_through_120_threads
- An empty folder says what goes there and how to start (a Contact button)
    -> test_empty_folders_say_what_goes_there, test_accessibility_full_and_empty
- A requester sees only their own threads and counts; another id is a 404 page
    -> test_another_requesters_threads_never_show
- axe-core finds no serious or critical violation, at 1280 and 375 px
    -> test_accessibility_full_and_empty
- The page's unread numbers are the API's (`GET /counts`) below the counting window, read at a
  bounded cost above it -> test_unread_counts_match_the_api_and_stay_bounded (no browser)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from crowdpost.db import Database
from crowdpost.kit.ids import format_id
from crowdpost.messaging import folders, platform
from crowdpost.messaging.schemas import Folder, InterlocutorRole, PlatformMessageForm
from crowdpost.messaging.service import Participant
from tests.fixtures.factories import Admin
from tests.web.browser import (
    PHONE,
    Crew,
    WebRequester,
    assert_accessible,
    create_web_requester,
    hidden_value,
    page_client,
    send_to_tolokers,
    sign_in,
    sign_in_http,
    toloker_reply,
    tolokers_who_worked,
)

SHOTS = Path("/tmp/shots")
GB = {"category": "profile", "key": "country", "operator": "EQ", "value": "GB"}
FOLDER_WORDS = ("Inbox", "Sent", "Users", "Administrator", "Notifications", "Important", "Unread")


# --- test data, made through the APIs ---------------------------------------------------------


@dataclass(frozen=True)
class Mailbox:
    """A requester's threads: a send to three Tolokers, two replies, news, a notification."""

    requester: WebRequester
    crew: Crew
    sent_id: str
    replies: dict[str, str]  # Toloker id -> the thread their reply landed in
    news_id: str
    pool_subject: str


def api(server_url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=f"{server_url}/api/v1", headers={"Authorization": f"OAuth {token}"}, timeout=30)


def admin_news(admin: Admin, requester_id: str, subject: str, text: str) -> str:
    body = {"topic": {"EN": subject}, "text": {"EN": text}, "requester_ids": [requester_id]}
    response = admin.http.post("/api/admin/v1/messages", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def fill_mailbox(server_url: str, admin: Admin, db: Database, who: WebRequester) -> Mailbox:
    crew = tolokers_who_worked(db, admin, who.id, 3)
    sent_id = send_to_tolokers(
        server_url,
        who.token,
        crew.toloker_ids,
        subject="New instructions for the pool",
        text="<p>Please re-read the <b>instructions</b> before you continue.</p><p>Second paragraph.</p>",
    )
    first, second, _ = crew.toloker_ids
    replies = {
        first: toloker_reply(server_url, admin, first, sent_id, "Is a zebrafish a fish or a label?"),
        second: toloker_reply(server_url, admin, second, sent_id, "Thanks, the new rules are clear."),
    }
    news_id = admin_news(admin, who.id, "Platform news", "We updated the rules for bonuses.")
    with api(server_url, who.token) as client:
        closed = client.post(f"/pools/{crew.pool_id}/close")
        assert closed.status_code == 204, closed.text
    return Mailbox(who, crew, sent_id, replies, news_id, f"Pool {crew.pool_id} closed")


@pytest.fixture
def mailbox(server_url: str, admin: Admin, db: Database, web_requester: WebRequester) -> Mailbox:
    return fill_mailbox(server_url, admin, db, web_requester)


@pytest.fixture
def inbox_page(page: Page, server_url: str, mailbox: Mailbox) -> Page:
    sign_in(page, server_url, mailbox.requester.email, mailbox.requester.password)
    expect(page.get_by_role("heading", level=1, name="Inbox")).to_be_visible()
    return page


# --- reading the page -------------------------------------------------------------------------


def folder_link(page: Page, word: str) -> Locator:
    return page.get_by_role("navigation", name="Folders").get_by_role("link", name=word, exact=True)


def expect_unread(page: Page, word: str, count: int) -> None:
    """The folder link's unread count (its accessible description; no badge for zero)."""
    link = folder_link(page, word)
    if count:
        expect(link).to_have_accessible_description(f"{count} unread")
    else:
        expect(link).to_have_accessible_description("")


def rows(page: Page) -> Locator:
    return page.locator("#thread-list li.thread-row")


def subjects(page: Page) -> list[str]:
    return [s.strip() for s in page.locator("#thread-list .thread-row__subject-text").all_inner_texts()]


def row_of(page: Page, subject: str, party: str | None = None) -> Locator:
    found = rows(page).filter(has=page.get_by_role("link", name=subject))
    return found.filter(has_text=party) if party else found


def open_folder(page: Page, word: str) -> None:
    folder_link(page, word).click()
    expect(page.get_by_role("heading", level=1, name=word)).to_be_visible()
    expect(folder_link(page, word)).to_have_attribute("aria-current", "page")


def screenshot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def api_unread(server_url: str, token: str) -> dict[str, int]:
    with api(server_url, token) as client:
        counts = client.get("/message-threads/counts").json()
    return {name: value["unread"] for name, value in counts["folders"].items()}


# --- folders ----------------------------------------------------------------------------------


def test_every_folder_shows_its_threads_and_unread_count(inbox_page: Page, server_url: str, mailbox: Mailbox) -> None:
    page = inbox_page
    first, second, third = mailbox.crew.toloker_ids
    reply = "New instructions for the pool"

    # Upper left: the folder switcher, left of the list; Contact beside it.
    nav = page.get_by_role("navigation", name="Folders")
    list_box = page.locator("#thread-list").bounding_box()
    nav_box = nav.bounding_box()
    assert nav_box is not None
    assert list_box is not None
    assert nav_box["x"] + nav_box["width"] <= list_box["x"]
    expect(page.get_by_role("link", name="Contact", exact=True)).to_have_attribute("href", "/messages/compose")
    assert next(w.strip() for w in nav.get_by_role("link").all_inner_texts()).startswith("Inbox")

    # Inbox: what was received (replies, news); the notification and the send are elsewhere.
    expect(folder_link(page, "Inbox")).to_have_attribute("aria-current", "page")
    assert sorted(subjects(page)) == sorted([reply, reply, "Platform news"])
    expect(row_of(page, reply, first)).to_have_count(1)
    expect(row_of(page, reply, first).locator(".list-row__excerpt")).to_have_text("Is a zebrafish a fish or a label?")
    expect(row_of(page, "Platform news").locator(".list-row__meta")).to_have_text("Administrator")
    expect(row_of(page, "Platform news").locator("time")).to_have_attribute("datetime", re.compile(r"^\d{4}-\d\d-\d\d"))
    unread = api_unread(server_url, mailbox.requester.token)
    expected = {
        "Inbox": unread["INBOX"],
        "Sent": unread["OUTBOX"],
        "Users": 2,
        "Administrator": 1,
        "Notifications": unread["AUTOMATIC_NOTIFICATION"],
        "Important": unread["IMPORTANT"],
        "Unread": unread["UNREAD"],
    }
    assert expected == {
        "Inbox": 3,
        "Sent": 0,
        "Users": 2,
        "Administrator": 1,
        "Notifications": 1,
        "Important": 0,
        "Unread": 4,
    }
    for word, count in expected.items():
        expect_unread(page, word, count)
    screenshot(page, "messages-inbox-1280")

    open_folder(page, "Sent")
    assert subjects(page) == [reply]
    expect(rows(page).locator(".list-row__meta")).to_have_text("To 3 Tolokers")
    expect(rows(page).locator(".list-row__excerpt")).to_have_text(
        "Please re-read the instructions before you continue."
    )
    assert page.url.endswith("/messages?folder=sent")

    open_folder(page, "Users")
    assert subjects(page) == [reply, reply]
    assert sorted(rows(page).locator(".list-row__meta").all_inner_texts()) == sorted([first, second])
    assert third not in page.locator("#thread-list").inner_text()

    open_folder(page, "Administrator")
    assert subjects(page) == ["Platform news"]
    expect(rows(page).locator(".list-row__excerpt")).to_have_text("We updated the rules for bonuses.")

    open_folder(page, "Notifications")
    assert subjects(page) == [mailbox.pool_subject]
    expect(rows(page).locator(".list-row__meta")).to_have_text("Toloka")

    open_folder(page, "Unread")
    assert sorted(subjects(page)) == sorted([reply, reply, "Platform news", mailbox.pool_subject])

    open_folder(page, "Important")
    expect(page.get_by_role("heading", name="Nothing marked important")).to_be_visible()

    open_folder(page, "Inbox")
    assert page.url.endswith("/messages?folder=inbox") or page.url.endswith("/messages")


def test_folder_survives_reload_and_back(inbox_page: Page, mailbox: Mailbox) -> None:
    page = inbox_page
    open_folder(page, "Notifications")
    open_folder(page, "Sent")
    page.reload()
    expect(folder_link(page, "Sent")).to_have_attribute("aria-current", "page")
    page.go_back()
    expect(page).to_have_url(re.compile(r"folder=notifications$"))
    expect(folder_link(page, "Notifications")).to_have_attribute("aria-current", "page")
    assert subjects(page) == [mailbox.pool_subject]
    # The API's folder names work too, and an unknown folder is a 404 page.
    page.goto(page.url.split("?")[0] + "?folder=OUTBOX")
    expect(folder_link(page, "Sent")).to_have_attribute("aria-current", "page")
    response = page.goto(page.url.split("?")[0] + "?folder=spam")
    assert response is not None
    assert response.status == 404


def test_sent_names_each_kind_of_audience(
    page: Page, server_url: str, admin: Admin, db: Database, web_requester: WebRequester
) -> None:
    crew = tolokers_who_worked(db, admin, web_requester.id, 2)
    send_to_tolokers(server_url, web_requester.token, crew.toloker_ids[:1], subject="To one Toloker")
    with api(server_url, web_requester.token) as client:
        for kind, subject, extra in (
            ("ALL", "To everyone", {}),
            (
                "FILTER",
                "To a group",
                {
                    "recipients_filter": {
                        "and": [{"category": "profile", "key": "country", "operator": "EQ", "value": "GB"}]
                    }
                },
            ),
        ):
            body = {"recipients_select_type": kind, "topic": {"EN": subject}, "text": {"EN": "Hello"}, **extra}
            response = client.post("/message-threads/compose", json=body)
            assert response.status_code == 201, response.text
    sign_in(page, server_url, web_requester.email, web_requester.password)
    open_folder(page, "Sent")
    expect(row_of(page, "To one Toloker").locator(".list-row__meta")).to_have_text(f"To {crew.toloker_ids[0]}")
    expect(row_of(page, "To everyone").locator(".list-row__meta")).to_have_text("To All your Tolokers (2)")
    expect(row_of(page, "To a group").locator(".list-row__meta")).to_have_text("To Group of Tolokers (2)")
    assert subjects(page) == ["To a group", "To everyone", "To one Toloker"]  # newest first


def test_empty_folders_say_what_goes_there(signed_in_page: Page) -> None:
    page = signed_in_page
    for word in FOLDER_WORDS:
        open_folder(page, word)
        expect(rows(page)).to_have_count(0)
        empty = page.locator("#thread-list .empty-state")
        expect(empty).to_be_visible()
        expect(empty.get_by_role("link", name="Contact")).to_have_attribute("href", "/messages/compose")
        expect_unread(page, word, 0)
    open_folder(page, "Inbox")
    expect(page.get_by_role("heading", name="Your inbox is empty")).to_be_visible()


# --- marks --------------------------------------------------------------------------------------


def test_mark_read_left_of_the_subject_and_unread_again(inbox_page: Page, mailbox: Mailbox) -> None:
    page = inbox_page
    first = mailbox.crew.toloker_ids[0]
    row = row_of(page, "New instructions for the pool", first)
    expect(row).to_have_class(re.compile(r"\blist-row--unread\b"))
    toggle = row.get_by_role("button", name="Mark as read")
    subject = row.get_by_role("link")
    toggle_box, subject_box = toggle.bounding_box(), subject.bounding_box()
    assert toggle_box is not None
    assert subject_box is not None
    assert toggle_box["x"] + toggle_box["width"] <= subject_box["x"]  # left of the subject
    url = page.url

    # htmx: the POST swaps the row and the folder counts; the page does not navigate.
    with page.expect_response(lambda r: r.url.endswith("/read") and r.request.method == "POST") as answer:
        toggle.click()
    assert answer.value.status == 200
    expect(row).not_to_have_class(re.compile(r"\blist-row--unread\b"))
    expect(row.get_by_role("button", name="Mark as unread")).to_be_focused()
    expect_unread(page, "Inbox", 2)
    expect_unread(page, "Users", 1)
    expect_unread(page, "Unread", 3)
    assert page.url == url

    row.get_by_role("button", name="Mark as unread").click()
    expect(row).to_have_class(re.compile(r"\blist-row--unread\b"))
    expect_unread(page, "Inbox", 3)
    expect_unread(page, "Users", 2)

    # Marked read, it stays read after a reload (the server changed, not only the page).
    row.get_by_role("button", name="Mark as read").click()
    expect_unread(page, "Inbox", 2)
    page.reload()
    expect(row_of(page, "New instructions for the pool", first)).not_to_have_class(re.compile(r"list-row--unread"))
    expect_unread(page, "Inbox", 2)


def test_mark_all_read_marks_the_folder_shown(inbox_page: Page, mailbox: Mailbox) -> None:
    page = inbox_page
    open_folder(page, "Users")
    toolbar_box = page.get_by_role("button", name="Mark all as read").bounding_box()
    list_box = page.locator("#thread-list ul").bounding_box()
    assert toolbar_box is not None
    assert list_box is not None
    assert toolbar_box["y"] + toolbar_box["height"] <= list_box["y"]  # above the list
    page.get_by_role("button", name="Mark all as read").click()
    expect(page.locator("#thread-list .list-row--unread")).to_have_count(0)
    expect_unread(page, "Users", 0)
    # Only the folder shown: the administrator's news and the notification stay unread.
    expect_unread(page, "Administrator", 1)
    expect_unread(page, "Inbox", 1)
    expect_unread(page, "Notifications", 1)
    expect_unread(page, "Unread", 2)

    open_folder(page, "Unread")
    page.get_by_role("button", name="Mark all as read").click()
    expect(page.locator("#thread-list .list-row--unread")).to_have_count(0)
    for word in FOLDER_WORDS:
        expect_unread(page, word, 0)


def test_mark_important_under_the_date_and_find_it_under_important(inbox_page: Page, mailbox: Mailbox) -> None:
    page = inbox_page
    row = row_of(page, "Platform news")
    label = row.get_by_role("button", name="Important")
    date_box, label_box = row.locator("time").bounding_box(), label.bounding_box()
    assert date_box is not None
    assert label_box is not None
    assert label_box["y"] >= date_box["y"] + date_box["height"] - 1  # under the date
    expect(label).to_have_attribute("aria-pressed", "false")
    label.click()
    expect(label).to_have_attribute("aria-pressed", "true")
    expect_unread(page, "Important", 1)  # it is unread, and now important too
    screenshot(page, "messages-important-marked-1280")

    open_folder(page, "Important")
    assert subjects(page) == ["Platform news"]
    row_of(page, "Platform news").get_by_role("button", name="Important").click()
    expect(row_of(page, "Platform news").get_by_role("button", name="Important")).to_have_attribute(
        "aria-pressed", "false"
    )
    page.reload()
    expect(page.get_by_role("heading", name="Nothing marked important")).to_be_visible()


def test_without_javascript_every_mark_is_a_form(js_disabled_page: Page, server_url: str, mailbox: Mailbox) -> None:
    page = js_disabled_page
    sign_in(page, server_url, mailbox.requester.email, mailbox.requester.password)
    open_folder(page, "Users")
    first = mailbox.crew.toloker_ids[0]
    row = row_of(page, "New instructions for the pool", first)
    with page.expect_navigation():
        row.get_by_role("button", name="Mark as read").click()
    expect(page).to_have_url(re.compile(r"/messages\?folder=users#thread-"))
    expect(row_of(page, "New instructions for the pool", first)).not_to_have_class(re.compile(r"list-row--unread"))
    expect_unread(page, "Users", 1)

    with page.expect_navigation():
        row_of(page, "New instructions for the pool", first).get_by_role("button", name="Important").click()
    expect(
        row_of(page, "New instructions for the pool", first).get_by_role("button", name="Important")
    ).to_have_attribute("aria-pressed", "true")

    with page.expect_navigation():
        page.get_by_role("button", name="Mark all as read").click()
    expect(page).to_have_url(re.compile(r"/messages\?folder=users$"))
    expect_unread(page, "Users", 0)
    expect_unread(page, "Administrator", 1)

    page.get_by_role("searchbox").fill("zebrafish")
    with page.expect_navigation():
        page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_text("Messages containing “zebrafish”")).to_be_visible()


# --- search -------------------------------------------------------------------------------------


def search_for(page: Page, text: str) -> None:
    box = page.get_by_role("search").get_by_role("searchbox")
    box.fill(text)
    page.get_by_role("search").get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Search results")).to_be_visible()


def test_search_by_toloker_id_keyword_and_phrase(inbox_page: Page, mailbox: Mailbox) -> None:
    page = inbox_page
    first, second, third = mailbox.crew.toloker_ids
    # Upper right: the search box is right of the folder list and at the top of the page.
    form_box = page.get_by_role("search").bounding_box()
    list_box = page.locator("#thread-list").bounding_box()
    assert form_box is not None
    assert list_box is not None
    assert form_box["x"] + form_box["width"] > list_box["x"] + list_box["width"] * 0.6
    assert form_box["y"] < list_box["y"]

    search_for(page, first)
    expect(page.get_by_text(f"Threads with Toloker {first}")).to_be_visible()
    # Their reply thread, and the send they received.
    assert sorted(subjects(page)) == ["New instructions for the pool", "New instructions for the pool"]
    expect(folder_link(page, "Inbox")).not_to_have_attribute("aria-current", "page")
    screenshot(page, "messages-search-toloker-1280")

    search_for(page, third)  # received the send, never replied
    expect(page.get_by_text(f"Threads with Toloker {third}")).to_be_visible()
    assert subjects(page) == ["New instructions for the pool"]

    search_for(page, "zebrafish")
    expect(page.get_by_text("Messages containing “zebrafish”")).to_be_visible()
    assert subjects(page) == ["New instructions for the pool"]
    expect(rows(page).locator(".list-row__meta")).to_have_text(first)

    search_for(page, '"new rules are clear"')
    expect(page.get_by_text('Messages containing “"new rules are clear"”')).to_be_visible()
    expect(rows(page).locator(".list-row__meta")).to_have_text(second)
    search_for(page, '"clear rules"')  # the words, not that phrase
    expect(page.get_by_role("heading", name=re.compile("No messages contain"))).to_be_visible()

    search_for(page, "no-such-toloker-id")
    expect(page.get_by_text("Messages containing “no-such-toloker-id”")).to_be_visible()

    page.get_by_role("link", name="Clear search").click()
    expect(page.get_by_role("heading", level=1, name="Inbox")).to_be_visible()
    expect(page.get_by_role("searchbox")).to_have_value("")


def test_bad_search_input_is_a_message(inbox_page: Page, server_url: str) -> None:
    page = inbox_page
    too_many = " ".join(f"word{i}" for i in range(25))
    response = page.goto(f"{server_url}/messages?q={too_many.replace(' ', '+')}")
    assert response is not None
    assert response.status == 400
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("at most 20")
    expect(page.get_by_role("searchbox")).to_have_attribute("aria-invalid", "true")
    response = page.goto(f"{server_url}/messages?q=%21%21%21")
    assert response is not None
    assert response.status == 400
    expect(page.get_by_role("alert")).to_contain_text("Enter a word")
    response = page.goto(f"{server_url}/messages?q=" + "x" * 300)
    assert response is not None
    assert response.status == 400
    expect(page.get_by_role("alert")).to_contain_text("at most 200")


# --- paging and isolation -----------------------------------------------------------------------


def platform_messages(db: Database, requester_id: str, count: int) -> None:
    """`count` administrator messages, oldest first, in one transaction (as the admin API writes them)."""
    with db.transaction() as session:
        for i in range(count):
            form = PlatformMessageForm(
                topic={"EN": f"Message {i:03d}"}, text={"EN": f"Text {i:03d}"}, requester_ids=[requester_id]
            )
            platform.do_platform_message(session, form)


def test_paging_through_120_threads(signed_in_page: Page, db: Database, web_requester: WebRequester) -> None:
    page = signed_in_page
    platform_messages(db, web_requester.id, 120)
    open_folder(page, "Administrator")
    seen: list[str] = []
    pages = []
    while True:
        names = subjects(page)
        pages.append(len(names))
        seen.extend(names)
        older = page.get_by_role("navigation", name="Pages").get_by_role("link", name="Older")
        if older.count() == 0:
            break
        older.click()
        expect(page).to_have_url(re.compile(r"folder=administrator&id_lt="))
    assert pages == [50, 50, 20]
    assert seen == [f"Message {i:03d}" for i in range(119, -1, -1)]  # newest first, none twice
    expect(page.get_by_role("navigation", name="Pages").get_by_role("link", name="Older")).to_have_count(0)

    page.get_by_role("link", name="Newer").click()
    assert subjects(page) == [f"Message {i:03d}" for i in range(69, 19, -1)]
    page.get_by_role("link", name="Newer").click()
    assert subjects(page) == [f"Message {i:03d}" for i in range(119, 69, -1)]
    expect(page.get_by_role("navigation", name="Pages").get_by_role("link", name="Newer")).to_have_count(0)


def test_another_requesters_threads_never_show(
    inbox_page: Page, server_url: str, admin: Admin, db: Database, mailbox: Mailbox
) -> None:
    page = inbox_page
    other = create_web_requester(admin)
    theirs = fill_mailbox(server_url, admin, db, other)
    their_toloker = theirs.crew.toloker_ids[0]
    page.reload()
    assert theirs.news_id not in page.content()
    assert sorted(subjects(page)).count("New instructions for the pool") == 2
    expect_unread(page, "Inbox", 3)

    search_for(page, their_toloker)
    expect(page.get_by_text(f"Messages containing “{their_toloker}”")).to_be_visible()  # not one of ours
    expect(rows(page)).to_have_count(0)

    # Their thread id in our forms: a 404 page, nothing changed.
    with page_client(server_url) as client:
        assert sign_in_http(client, mailbox.requester.email, mailbox.requester.password).status_code == 303
        token = hidden_value(client.get("/messages").text)
        for path, data in (
            (f"/messages/{theirs.news_id}/read", {"read": "true"}),
            (f"/messages/{theirs.news_id}/important", {"important": "true"}),
        ):
            answer = client.post(path, data={**data, "csrf_token": token, "next": "/messages"})
            assert answer.status_code == 404, answer.text
            assert "<html" in answer.text.lower()
    assert api_unread(server_url, other.token)["INBOX"] == 3


def test_forms_refuse_a_missing_csrf_token(server_url: str, mailbox: Mailbox) -> None:
    with page_client(server_url) as client:
        assert sign_in_http(client, mailbox.requester.email, mailbox.requester.password).status_code == 303
        answer = client.post(f"/messages/{mailbox.news_id}/read", data={"read": "true", "next": "/messages"})
        assert answer.status_code == 403
        answer = client.post("/messages/mark-all-read", data={"folder": "inbox", "csrf_token": "forged"})
        assert answer.status_code == 403
    assert api_unread(server_url, mailbox.requester.token)["INBOX"] == 3


# --- accessibility and looks --------------------------------------------------------------------


def test_accessibility_full_and_empty(
    inbox_page: Page, phone_page: Page, server_url: str, admin: Admin, mailbox: Mailbox
) -> None:
    page = inbox_page
    assert_accessible(page)
    open_folder(page, "Important")
    assert_accessible(page)
    screenshot(page, "messages-empty-1280")

    sign_in(phone_page, server_url, mailbox.requester.email, mailbox.requester.password)
    assert_accessible(phone_page)
    width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways at 375 px ({width} px wide)"
    screenshot(phone_page, "messages-inbox-375")
    folder_link(phone_page, "Important").click()
    expect(phone_page.get_by_role("heading", level=1, name="Important")).to_be_visible()
    assert_accessible(phone_page)
    screenshot(phone_page, "messages-empty-375")


# --- the counts service (no browser) ----------------------------------------------------------


def test_unread_counts_match_the_api_and_stay_bounded(
    server_url: str, admin: Admin, db: Database, web_requester: WebRequester
) -> None:
    mailbox = fill_mailbox(server_url, admin, db, web_requester)
    requester_id = int(mailbox.requester.id)
    who = Participant.requester(requester_id)
    with db.transaction(write=False) as session:
        counts = folders.requester_unread_counts(session, requester_id)
        api_counts = folders.folder_counts(session, who)
    assert counts.complete
    assert counts.folders == {name: value["unread"] for name, value in api_counts["folders"].items()}
    assert counts.inbox_roles == {"USER": 2, "ADMINISTRATOR": 1, "SYSTEM": 0}

    # Past the window the numbers are lower bounds of the newest unread threads.
    with db.transaction(write=False) as session:
        capped = folders.requester_unread_counts(session, requester_id, window=2)
    assert not capped.complete
    assert capped.folders["UNREAD"] == 2
    assert all(value <= 2 for value in (*capped.folders.values(), *capped.inbox_roles.values()))

    # Mark all read with an interlocutor role marks exactly those threads.
    with db.transaction() as session:
        marked = folders.do_mark_all_read(session, who, Folder.INBOX, interlocutor_role=InterlocutorRole.USER)
    assert marked == {"marked_read": 2}
    with db.transaction(write=False) as session:
        after = folders.requester_unread_counts(session, requester_id)
    assert after.inbox_roles["USER"] == 0
    assert after.inbox_roles["ADMINISTRATOR"] == 1
    assert after.folders["AUTOMATIC_NOTIFICATION"] == 1
    assert format_id(requester_id) == mailbox.requester.id
