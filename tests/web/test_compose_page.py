"""Contact (compose) at /messages/compose, in Chromium, on both backends.

The guide's sentences this page covers, each checked below:
- [x] "Sent: Messages you sent. Recipients can be: Any Toloker who started at least two of your
      tasks" -> "Tolokers who started at least two of your tasks" (test_everyone_who_started_two_tasks)
- [x] "A group of Tolokers that you can select using filters. To do this, click + Add filter."
      (test_filtered_group_with_skill_language_and_country, test_whole_form_without_javascript)
- [x] "Individual Tolokers. In the To field, specify the Toloker ID or several comma-separated
      IDs." (test_individual_tolokers_named_in_the_preview_then_sent)
- [x] "send notifications to Tolokers with the skill ... Contact -> Group of Tolokers -> + Add
      filter" with a hidden skill (test_filtered_group_with_skill_language_and_country)
- [x] "Specify the subject of your message in the Subject field." / "Fill in the Message text
      field." / "Select Allows replies." / "Click Submit." (every send here; the keyboard-only one)
- [x] "Only write to Tolokers who are not banned": banned ones are named and left out
- [x] Recommendations as policy warnings beside the field: contact details, ads, off-platform
      work, project links not in the /tasks?projectId=<ID> form, unsupported HTML
      (test_policy_warnings_beside_the_message_text)
- [x] "If there are more than 1000 recipients ... an error may occur": ours sends through the
      API's service, one INSERT ... SELECT (the dry run and the send are the API's calls)
- [x] "Insert a file link into the message using a visual editor": the toolbar wraps the
      selection in the allowed tags (test_editor_toolbar_writes_the_html_subset)
- [x] the live dry run "N Tolokers will receive this; M banned and K unknown left out"
      (test_live_dry_run_updates_while_typing), "Check recipients" without JavaScript
- [x] quota: one ALL send per day, said plainly (test_everyone_who_started_two_tasks)
- [x] errors: summary at the top, messages beside the fields, values kept (400)
- [x] keyboard only (test_whole_compose_with_the_keyboard_only); axe at 1280 and 375 px
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import select, text

from crowdpost.db import Database
from crowdpost.kit.ids import format_id
from crowdpost.models import MessageThread
from crowdpost.web.session import COOKIE
from tests.fixtures.factories import Admin
from tests.web.browser import (
    WebRequester,
    assert_accessible,
    hidden_value,
    page_client,
    preview_settled,
    settle,
    sign_in_http,
    tab_to,
    tolokers_who_worked,
)

SHOTS = Path("/tmp/shots")
SUMMARY = "[data-preview-summary]"


@dataclass(frozen=True)
class Team:
    """The requester's Tolokers: `fit` matches the filter (skill >= 80, EN, GB); `banned` would
    match too but is banned; `slow` speaks EN in GB with a low skill; `french` has a high skill
    in France; `once` started only one task; `stranger` never worked for this requester."""

    fit: str
    banned: str
    slow: str
    french: str
    once: str
    stranger: str
    skill_id: str


@pytest.fixture
def api(server_url: str, web_requester: WebRequester) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=f"{server_url}/api/v1", headers={"Authorization": f"OAuth {web_requester.token}"}, timeout=30
    ) as client:
        yield client


@pytest.fixture
def team(db: Database, admin: Admin, web_requester: WebRequester, api: httpx.Client) -> Team:
    gb = {"languages": ["EN"], "country": "GB"}
    fit, banned, slow, french = tolokers_who_worked(
        db, admin, web_requester.id, [gb, gb, gb, {"languages": ["FR"], "country": "FR"}]
    ).toloker_ids
    (once,) = tolokers_who_worked(db, admin, web_requester.id, [gb], started=1).toloker_ids
    stranger = admin.create_toloker()
    skill = api.post("/skills", json={"name": "Good answers", "hidden": True})
    assert skill.status_code == 201, skill.text
    skill_id = skill.json()["id"]
    for uid, value in ((fit, 90), (banned, 85), (slow, 50), (french, 95)):
        answer = api.put("/user-skills", json={"skill_id": skill_id, "user_id": uid, "value": value})
        assert answer.status_code in (200, 201), answer.text
    ban = api.put("/user-restrictions", json={"scope": "ALL_PROJECTS", "user_id": banned})
    assert ban.status_code in (200, 201), ban.text
    return Team(fit, banned, slow, french, once, stranger, skill_id)


def sign_in_as(page: Page, server_url: str, who: WebRequester) -> None:
    """The session cookie of a sign-in through the form, given to the browser (the sign-in
    page itself is tested with the sign-in tests)."""
    with page_client(server_url) as client:
        answer = sign_in_http(client, who.email, who.password)
        assert answer.status_code == 303, answer.text
        cookie = client.cookies[COOKIE]
    page.context.add_cookies([{"name": COOKIE, "value": cookie, "url": server_url}])


def open_compose(page: Page, server_url: str, who: WebRequester) -> None:
    sign_in_as(page, server_url, who)
    page.goto(f"{server_url}/messages/compose")
    expect(page.get_by_role("heading", name="Contact Tolokers")).to_be_visible()


def check_accessible(page: Page) -> None:
    preview_settled(page)
    assert_accessible(page)


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    preview_settled(page)
    page.evaluate("window.scrollTo(0, 0)")  # the sticky header and preview where a person first sees them
    page.screenshot(path=str(SHOTS / f"compose-{name}.png"), full_page=True)


def write_message(page: Page, subject: str, text: str, *, replies: bool = True) -> None:
    # The checkbox first, once no preview is on its way: the notes a preview places beside the
    # fields may move it between the press and the release of a click.
    if replies:
        preview_settled(page)
        page.get_by_label("Allows replies").check()
    page.get_by_label("Subject", exact=True).fill(subject)
    page.get_by_label("Message text", exact=True).fill(text)


def submit(page: Page, server_url: str) -> str:
    """Clicks Submit once no preview is on its way; answers the new thread's id from the page
    it lands on. A preview arriving mid-click places notes beside the fields and moves the
    button between the press and the release, so the click would land on nothing."""
    preview_settled(page)
    with page.expect_navigation():
        page.get_by_role("button", name="Submit", exact=True).click()
    found = re.fullmatch(re.escape(server_url) + r"/messages/(\d+)", page.url)
    assert found, page.url
    return found.group(1)


def sent(api: httpx.Client, thread_id: str) -> dict[str, Any]:
    answer = api.get(f"/message-threads/{thread_id}")
    assert answer.status_code == 200, answer.text
    thread: dict[str, Any] = answer.json()
    return thread


def row(page: Page, index: int) -> Locator:
    return page.locator("[data-groups] [data-row]").nth(index)


def fill_row(page: Page, index: int, key: str, op: str, value: str) -> None:
    this = row(page, index)
    this.get_by_label("Filter").select_option(label=key)
    this.get_by_label("Condition").select_option(label=op)
    this.get_by_label("Value").fill(value)
    # Let the live preview the row started come back before the next step, as a person
    # would (its 500 ms debounce, then the request): under CI's load a "+ Add filter" click
    # that raced the preview's swap once added no row.
    page.wait_for_timeout(600)
    settle(page)


# --- Individual Tolokers -----------------------------------------------------------------------


def test_individual_tolokers_named_in_the_preview_then_sent(
    page: Page, server_url: str, web_requester: WebRequester, team: Team, api: httpx.Client, db: Database
) -> None:
    open_compose(page, server_url, web_requester)
    expect(page.get_by_label("Individual Tolokers")).to_be_checked()
    page.get_by_label("To", exact=True).fill(f"{team.fit}, {team.banned} {team.stranger}")
    write_message(page, "New instructions", "Please <b>re-read</b> the instructions.")

    expect(page.locator(SUMMARY)).to_have_text("1 Toloker will receive this; 1 banned and 1 unknown left out")
    beside_to = page.locator("#to-feedback")
    expect(beside_to.locator("[data-left-out=unknown]")).to_contain_text(team.stranger)
    expect(beside_to.locator("[data-left-out=banned]")).to_contain_text(team.banned)
    expect(beside_to.locator("[data-left-out=unknown]")).not_to_contain_text(team.fit)
    shot(page, "direct-preview")

    # Sending with the unknown ID still in To is refused, next to To, and nothing is lost.
    with page.expect_navigation():
        page.get_by_role("button", name="Submit", exact=True).click()
    expect(page.locator(".error-summary")).to_contain_text(team.stranger)
    expect(page.locator("#to-feedback")).to_contain_text(team.stranger)
    expect(page.get_by_label("Subject", exact=True)).to_have_value("New instructions")
    expect(page.get_by_label("Allows replies")).to_be_checked()
    check_accessible(page)  # the error summary and the marked field

    # Only a banned Toloker: nobody would receive it; refused, and nothing half-sent is kept.
    page.get_by_label("To", exact=True).fill(team.banned)
    with page.expect_navigation():
        page.get_by_role("button", name="Submit", exact=True).click()
    expect(page.locator(".error-summary")).to_contain_text("No Toloker receives this message.")
    expect(page.locator("#recipients-feedback")).to_contain_text("No Toloker receives this message.")

    page.get_by_label("To", exact=True).fill(f"{team.fit}, {team.banned}")
    expect(page.locator(SUMMARY)).to_have_text("1 Toloker will receive this; 1 banned and 0 unknown left out")
    thread = sent(api, submit(page, server_url))
    outbox = api.get("/message-threads", params={"folder": "OUTBOX"}).json()["items"]
    assert [t["id"] for t in outbox] == [thread["id"]]
    with db.transaction(write=False) as session:  # the refused sends left no thread behind
        stored = session.scalars(select(MessageThread.id).where(MessageThread.requester_id == int(web_requester.id)))
        assert [format_id(n) for n in stored] == [thread["id"]]
    assert thread["compose_details"] == {"recipients_select_type": "DIRECT", "recipients_ids": [team.fit, team.banned]}
    assert thread["answerable"] is True
    assert thread["topic"] == {"EN": "New instructions"}
    assert thread["messages"][0]["text"] == {"EN": "Please <b>re-read</b> the instructions."}
    assert thread["delivery"] == {"delivered": 1, "banned": 1, "unknown": 0}


def test_more_than_100_ids_point_to_group_of_tolokers(page: Page, server_url: str, web_requester: WebRequester) -> None:
    open_compose(page, server_url, web_requester)
    page.get_by_label("To", exact=True).fill(", ".join(f"t{i}" for i in range(101)))
    expect(page.locator("#to-feedback")).to_contain_text("use Group of Tolokers for more")
    expect(page.get_by_label("To", exact=True)).to_have_attribute("aria-invalid", "true")


def test_the_preview_reads_only_and_never_waits_for_a_writer(
    server_url: str, db: Database, web_requester: WebRequester, team: Team
) -> None:
    """POST /messages/compose/preview runs in a read transaction (`@read_only`): while another
    transaction holds SQLite's write lock it still answers at once (a write one would wait
    for the lock's 30 s timeout; the client gives up after 5)."""
    with page_client(server_url) as client:
        assert sign_in_http(client, web_requester.email, web_requester.password).status_code == 303
        token = hidden_value(client.get("/messages/compose").text)
        form = {"csrf_token": token, "recipients": "DIRECT", "to": f"{team.fit} {team.stranger}", "lang": "EN"}
        with db.transaction() as session:
            session.execute(text("UPDATE requesters SET public_name = public_name WHERE id = -1"))  # holds the lock
            answer = client.post("/messages/compose/preview", data=form, headers={"HX-Request": "true"}, timeout=5)
        refused = client.post("/messages/compose/preview", data={**form, "csrf_token": "wrong"})
    assert answer.status_code == 200, answer.text
    assert "1 Toloker will receive this; 0 banned and 1 unknown left out" in answer.text
    assert 'id="to-feedback" hx-swap-oob="true"' in answer.text
    assert "<html" not in answer.text  # htmx gets the fragment, not the page
    assert refused.status_code == 403


def test_the_preview_counts_tolokers_over_the_bulk_cap(
    server_url: str, web_requester: WebRequester, team: Team, api: httpx.Client
) -> None:
    """The dry run's capped figure and reason, beside the banned and unknown ones."""
    french = {"category": "profile", "key": "country", "operator": "EQ", "value": "FR"}
    for n in range(3):  # the default cap: 3 bulk messages per Toloker per week
        body = {"recipients_select_type": "FILTER", "topic": {"EN": "t"}, "text": {"EN": f"news {n}"}}
        assert api.post("/message-threads/compose", json={**body, "recipients_filter": french}).status_code == 201
    with page_client(server_url) as client:
        assert sign_in_http(client, web_requester.email, web_requester.password).status_code == 303
        token = hidden_value(client.get("/messages/compose").text)
        form = {"csrf_token": token, "recipients": "ALL", "lang": "EN"}
        answer = client.post("/messages/compose/preview", data=form, headers={"HX-Request": "true"})
    assert answer.status_code == 200, answer.text
    assert "1 banned, 0 unknown and 1 over the bulk cap left out" in answer.text
    assert "Over the bulk cap: already received 3 bulk (FILTER or ALL) messages from you" in answer.text


def test_the_sent_panel_counts_tolokers_left_out_by_the_cap(
    server_url: str, web_requester: WebRequester, team: Team, api: httpx.Client
) -> None:
    french = {"category": "profile", "key": "country", "operator": "EQ", "value": "FR"}
    body = {"recipients_select_type": "FILTER", "topic": {"EN": "t"}, "recipients_filter": french}
    for n in range(3):
        assert api.post("/message-threads/compose", json={**body, "text": {"EN": f"news {n}"}}).status_code == 201
    to_all = {**body, "recipients_select_type": "ALL", "text": {"EN": "all"}}
    everyone = api.post("/message-threads/compose", json=to_all)
    assert everyone.status_code == 201, everyone.text
    with page_client(server_url) as client:
        assert sign_in_http(client, web_requester.email, web_requester.password).status_code == 303
        shown = client.get(f"/messages/{everyone.json()['id']}")
    assert shown.status_code == 200
    panel = " ".join(shown.text.split())
    assert "<dt>Over the bulk cap, left out</dt> <dd>1</dd>" in panel
    assert "<dt>Delivered</dt> <dd>2</dd>" in panel  # `fit` and `slow`; `banned` and `once` are not


# --- Group of Tolokers -------------------------------------------------------------------------


def test_filtered_group_with_skill_language_and_country(
    page: Page, server_url: str, web_requester: WebRequester, team: Team, api: httpx.Client
) -> None:
    open_compose(page, server_url, web_requester)
    page.get_by_label("Group of Tolokers").check()
    expect(page.locator("[data-groups] [data-row]")).to_have_count(0)
    add = page.get_by_role("button", name="+ Add filter")
    add.click()
    fill_row(page, 0, "Good answers (hidden)", "is at least", "80")
    add.click()
    fill_row(page, 1, "Languages", "is", "EN")
    add.click()
    fill_row(page, 2, "Country", "is", "GB")
    write_message(page, "A new pool", "There is a new pool for you: https://example.com/tasks")
    expect(page.locator(SUMMARY)).to_have_text("1 Toloker will receive this; 1 banned and 0 unknown left out")
    shot(page, "filter-preview")

    thread = sent(api, submit(page, server_url))
    assert thread["compose_details"] == {
        "recipients_select_type": "FILTER",
        "recipients_filter": {
            "and": [
                {"category": "skill", "key": team.skill_id, "operator": "GTE", "value": 80},
                {"category": "profile", "key": "languages", "operator": "IN", "value": "EN"},
                {"category": "profile", "key": "country", "operator": "EQ", "value": "GB"},
            ]
        },
    }
    assert thread["answerable"] is True
    assert thread["delivery"] == {"delivered": 1, "banned": 1, "unknown": 0}


def test_and_or_groups_and_a_bad_value_beside_its_row(
    page: Page, server_url: str, web_requester: WebRequester, team: Team
) -> None:
    open_compose(page, server_url, web_requester)
    page.get_by_label("Group of Tolokers").check()
    page.get_by_role("button", name="+ Add filter").click()
    fill_row(page, 0, "Country", "is", "Narnia")
    expect(page.locator(f"#row-{row_token(page, 0)}-feedback")).to_contain_text("two-letter country code")
    expect(row(page, 0).get_by_label("Value")).to_have_attribute("aria-invalid", "true")
    fill_row(page, 0, "Country", "is", "FR")
    expect(page.locator(SUMMARY)).to_have_text("1 Toloker will receive this; 0 banned and 0 unknown left out")

    page.get_by_role("button", name="+ Add group (AND/OR)").click()
    expect(page.get_by_role("group", name="Group 2")).to_be_visible()
    fill_row(page, 1, "Good answers (hidden)", "is at most", "60")
    page.get_by_label("Groups combine as").select_option(label="OR: Tolokers in any group")
    # french (FR) or slow (skill 50); banned has 85
    expect(page.locator(SUMMARY)).to_have_text("2 Tolokers will receive this; 0 banned and 0 unknown left out")
    shot(page, "groups")
    check_accessible(page)

    # Removing the second group's only row removes the group; the count follows.
    row(page, 1).get_by_role("button", name=re.compile("^Remove filter")).click()
    expect(page.get_by_role("group", name="Group 2")).to_have_count(0)
    expect(page.locator(SUMMARY)).to_have_text("1 Toloker will receive this; 0 banned and 0 unknown left out")


def row_token(page: Page, index: int) -> str:
    token = row(page, index).get_attribute("data-row")
    assert token
    return token


# --- everyone who started two tasks, and the daily quota ----------------------------------------


def test_everyone_who_started_two_tasks(
    page: Page, server_url: str, web_requester: WebRequester, team: Team, api: httpx.Client
) -> None:
    open_compose(page, server_url, web_requester)
    page.get_by_label("Tolokers who started at least two of your tasks").check()
    expect(page.locator(SUMMARY)).to_have_text("3 Tolokers will receive this; 1 banned and 0 unknown left out")
    write_message(page, "News", "The project pauses over the holidays.")
    thread = sent(api, submit(page, server_url))
    assert thread["compose_details"] == {"recipients_select_type": "ALL"}
    assert thread["answerable"] is True
    assert thread["delivery"] == {"delivered": 3, "banned": 1, "unknown": 0}

    # The second ALL send of the day: refused, said plainly, nothing sent, the form kept.
    page.goto(f"{server_url}/messages/compose")
    page.get_by_label("Tolokers who started at least two of your tasks").check()
    write_message(page, "More news", "Another one.")
    with page.expect_navigation():
        page.get_by_role("button", name="Submit", exact=True).click()
    alert = page.locator(".compose-alert")
    expect(alert).to_contain_text("once a day")
    expect(alert).to_contain_text("Nothing was sent")
    expect(page.get_by_label("Subject", exact=True)).to_have_value("More news")
    outbox = api.get("/message-threads", params={"folder": "OUTBOX"}).json()["items"]
    assert [t["id"] for t in outbox] == [thread["id"]]


# --- the live dry run, policy warnings, the editor ----------------------------------------------


def test_live_dry_run_updates_while_typing(
    page: Page, server_url: str, web_requester: WebRequester, team: Team
) -> None:
    open_compose(page, server_url, web_requester)
    expect(page.locator("[data-preview-note]")).to_be_visible()
    to = page.get_by_label("To", exact=True)
    to.press_sequentially(team.fit)
    expect(page.locator(SUMMARY)).to_have_text("1 Toloker will receive this; 0 banned and 0 unknown left out")
    url = page.url
    to.press_sequentially(f" {team.slow}")
    expect(page.locator(SUMMARY)).to_have_text("2 Tolokers will receive this; 0 banned and 0 unknown left out")
    to.press_sequentially(f",{team.once}")  # one task is enough for a direct message
    expect(page.locator(SUMMARY)).to_have_text("3 Tolokers will receive this; 0 banned and 0 unknown left out")
    page.get_by_label("Tolokers who started at least two of your tasks").check()
    expect(page.locator(SUMMARY)).to_have_text("3 Tolokers will receive this; 1 banned and 0 unknown left out")
    assert page.url == url  # no navigation: htmx swapped the preview


def test_policy_warnings_beside_the_message_text(
    page: Page, server_url: str, web_requester: WebRequester, team: Team
) -> None:
    open_compose(page, server_url, web_requester)
    page.get_by_label("To", exact=True).fill(team.fit)
    page.get_by_label("Subject", exact=True).fill("Write me at boss@example.com")
    page.get_by_label("Message text", exact=True).fill(
        "Use promo code SAVE10 on our website. We pay you directly outside Toloka. "
        "Open https://example.com/requester/project/42 <marquee>now</marquee>"
    )
    beside_text = page.locator("#text-0-feedback")
    for code in ("ADVERTISING", "OFF_PLATFORM", "PROJECT_LINK", "UNSUPPORTED_HTML"):
        expect(beside_text.locator(f"[data-warning={code}]")).to_have_count(1)
    expect(beside_text).to_contain_text("/tasks?projectId=<ID>")
    expect(page.locator("#subject-0-feedback [data-warning=CONTACT_DETAILS]")).to_contain_text("boss@example.com")
    expect(page.locator(".compose-preview__warnings")).to_contain_text("Message text")
    shot(page, "warnings")
    # Corrected text: the warnings beside it go away.
    page.get_by_label("Message text", exact=True).fill("The new pool is in your task list.")
    expect(beside_text.locator("[data-warning]")).to_have_count(0)


def test_editor_toolbar_writes_the_html_subset(page: Page, server_url: str, web_requester: WebRequester) -> None:
    open_compose(page, server_url, web_requester)
    text = page.get_by_label("Message text", exact=True)
    text.fill("Read the guide")
    text.evaluate("t => t.setSelectionRange(9, 14)")  # "guide"
    page.get_by_role("button", name="Bold").click()
    expect(text).to_have_value("Read the <b>guide</b>")
    text.evaluate("t => t.setSelectionRange(12, 17)")  # "guide" inside <b>
    page.get_by_role("button", name="Link").click()
    expect(text).to_have_value('Read the <b><a href="https://">guide</a></b>')
    page.keyboard.type("https://example.com/guide")  # the selected "https://" is replaced
    expect(text).to_have_value('Read the <b><a href="https://example.com/guide">guide</a></b>')
    text.fill("one\ntwo")
    text.evaluate("t => t.setSelectionRange(0, t.value.length)")
    page.get_by_role("button", name="Bulleted list").click()
    expect(text).to_have_value("<ul>\n  <li>one</li>\n  <li>two</li>\n</ul>")
    text.fill("x")
    text.evaluate("t => t.setSelectionRange(0, 1)")
    text.press("Control+i")
    expect(text).to_have_value("<i>x</i>")


def test_second_language(
    page: Page, server_url: str, web_requester: WebRequester, team: Team, api: httpx.Client
) -> None:
    open_compose(page, server_url, web_requester)
    page.get_by_label("To", exact=True).fill(team.french)
    write_message(page, "Hello", "New tasks")
    page.get_by_role("button", name="+ Add language").click()
    second = page.get_by_role("group", name="Second language")
    second.get_by_label("Language").select_option("FR")
    second.get_by_label("Subject").fill("Bonjour")
    second.get_by_label("Message text").fill("Nouvelles tâches")
    expect(page.locator(SUMMARY)).to_have_text("1 Toloker will receive this; 0 banned and 0 unknown left out")
    thread = sent(api, submit(page, server_url))
    assert thread["topic"] == {"EN": "Hello", "FR": "Bonjour"}
    assert thread["messages"][0]["text"] == {"EN": "New tasks", "FR": "Nouvelles tâches"}


# --- without JavaScript --------------------------------------------------------------------------


def test_whole_form_without_javascript(
    js_disabled_page: Page, server_url: str, web_requester: WebRequester, team: Team, api: httpx.Client
) -> None:
    page = js_disabled_page
    open_compose(page, server_url, web_requester)
    expect(page.locator(".editor-toolbar")).to_be_hidden()

    # A send with problems: the summary at the top, each beside its field, every value kept.
    page.get_by_label("To", exact=True).fill("<img src=x onerror=alert(1)>")
    page.get_by_label("Message text", exact=True).fill("<b>kept</b>")
    with page.expect_navigation():
        page.get_by_role("button", name="Submit", exact=True).click()
    summary = page.locator(".error-summary")
    expect(summary).to_contain_text("Enter a subject.")
    expect(summary).to_contain_text("Not a Toloker ID: <img")
    expect(page.locator("#subject-0-feedback")).to_contain_text("Enter a subject.")
    expect(page.get_by_label("Message text", exact=True)).to_have_value("<b>kept</b>")
    expect(page.get_by_label("To", exact=True)).to_have_value("<img src=x onerror=alert(1)>")

    page.get_by_label("Group of Tolokers").check()
    with page.expect_navigation():
        page.get_by_role("button", name="+ Add filter").click()
    expect(page.get_by_label("Group of Tolokers")).to_be_checked()
    fill_row(page, 0, "Country", "is", "GB")
    with page.expect_navigation():
        page.get_by_role("button", name="+ Add filter").click()
    fill_row(page, 1, "Good answers (hidden)", "is at least", "40")
    with page.expect_navigation():
        page.get_by_role("button", name="+ Add group (AND/OR)").click()
    fill_row(page, 2, "Languages", "is", "FR")
    page.get_by_label("Groups combine as").select_option(label="OR: Tolokers in any group")
    with page.expect_navigation():
        page.get_by_role("button", name="Check recipients").click()
    # (GB and skill >= 40: fit, slow; banned left out) or FR: french
    expect(page.locator(SUMMARY)).to_have_text("3 Tolokers will receive this; 1 banned and 0 unknown left out")
    shot(page, "no-js-preview")

    with page.expect_navigation():
        row(page, 2).get_by_role("button", name=re.compile("^Remove filter")).click()
    expect(page.locator("[data-groups] [data-row]")).to_have_count(2)
    page.get_by_label("Subject", exact=True).fill("Without scripts")
    page.get_by_label("Allows replies").check()
    thread = sent(api, submit(page, server_url))
    assert thread["compose_details"]["recipients_filter"] == {
        "and": [
            {"category": "profile", "key": "country", "operator": "EQ", "value": "GB"},
            {"category": "skill", "key": team.skill_id, "operator": "GTE", "value": 40},
        ]
    }
    assert thread["answerable"] is True
    assert thread["delivery"] == {"delivered": 2, "banned": 1, "unknown": 0}


# --- keyboard only ---------------------------------------------------------------------------------


def test_whole_compose_with_the_keyboard_only(
    page: Page, server_url: str, web_requester: WebRequester, team: Team, api: httpx.Client
) -> None:
    open_compose(page, server_url, web_requester)
    tab_to(page, page.locator("#recipients-direct"))
    page.keyboard.press("ArrowRight")  # radio buttons: the arrows choose
    expect(page.get_by_label("Group of Tolokers")).to_be_checked()
    tab_to(page, page.locator("[data-add-filter]"))
    page.keyboard.press("Enter")
    key = row(page, 0).get_by_label("Filter")
    expect(key).to_be_focused()
    page.keyboard.type("Country")  # a closed select picks the option typed
    expect(key).to_have_value("country")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(row(page, 0).get_by_label("Value")).to_be_focused()
    page.keyboard.type("GB")
    tab_to(page, page.locator("#subject-0"))
    page.keyboard.type("Typed, not clicked")
    tab_to(page, page.locator("#text-0"))
    page.keyboard.type("Every step of this was done with the keyboard.")
    tab_to(page, page.locator("#answerable"))
    page.keyboard.press("Space")
    expect(page.get_by_label("Allows replies")).to_be_checked()
    expect(page.locator(SUMMARY)).to_have_text("3 Tolokers will receive this; 1 banned and 0 unknown left out")
    tab_to(page, page.locator("button[value=send]"))
    with page.expect_navigation():
        page.keyboard.press("Enter")
    thread_id = page.url.rsplit("/", 1)[-1]
    thread = sent(api, thread_id)
    assert thread["topic"] == {"EN": "Typed, not clicked"}
    assert thread["answerable"] is True
    assert thread["compose_details"]["recipients_filter"] == {
        "and": [{"category": "profile", "key": "country", "operator": "EQ", "value": "GB"}]
    }
    assert thread["delivery"] == {"delivered": 3, "banned": 1, "unknown": 0}  # fit, slow, once


# --- accessibility and looks ------------------------------------------------------------------------


def _filled(page: Page, server_url: str, who: WebRequester, team: Team) -> None:
    open_compose(page, server_url, who)
    page.get_by_label("Group of Tolokers").check()
    page.get_by_role("button", name="+ Add filter").click()
    fill_row(page, 0, "Good answers (hidden)", "is at least", "80")
    page.get_by_role("button", name="+ Add filter").click()
    fill_row(page, 1, "Country", "is", "GB")
    write_message(page, "A new pool", "Find me on telegram")
    expect(page.locator(SUMMARY)).to_be_visible()
    expect(page.locator("#text-0-feedback [data-warning]")).to_have_count(1)


def test_accessible_at_desktop_width(page: Page, server_url: str, web_requester: WebRequester, team: Team) -> None:
    open_compose(page, server_url, web_requester)
    check_accessible(page)
    _filled(page, server_url, web_requester, team)
    check_accessible(page)
    shot(page, "desktop")
    page.emulate_media(color_scheme="dark")
    shot(page, "desktop-dark")


def test_accessible_at_phone_width(phone_page: Page, server_url: str, web_requester: WebRequester, team: Team) -> None:
    _filled(phone_page, server_url, web_requester, team)
    check_accessible(phone_page)
    width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the page scrolls sideways at 375 px ({width} px wide)"
    shot(phone_page, "phone")
