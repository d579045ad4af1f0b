"""One thread at /messages/{thread id}, in Chromium and over plain HTTP, on both backends.

The guide's and the issue's sentences this page covers, each checked below:
- [x] "the whole conversation oldest to newest, each message with its sender, time and
      language" (test_conversation_oldest_first_with_senders_times_and_languages)
- [x] several languages: each shown, labelled by its language (same test, a two-language send)
- [x] "a Toloker replies through the Toloker API; the reply appears" (same test)
- [x] "links are shown as links (rel="noopener noreferrer nofollow", opening in a new tab), never
      as markup" (test_links_open_in_a_new_tab_without_referrer; message_html unit tests)
- [x] XSS corpus in a Toloker's reply and in a subject is inert: no dialog, console error or
      request to another host (test_hostile_reply_and_subject_are_inert)
- [x] "reply box when the thread allows replies": with JavaScript (htmx swaps the conversation)
      and without (POST -> 303 -> the thread) (test_reply_with_javascript,
      test_reply_without_javascript); none on a send without "Allows replies"
- [x] the recommendations: policy warnings shown after sending (test_reply_with_javascript);
      an empty reply is an error next to "Message text" (test_reply_without_javascript)
- [x] send quota: a reply over the once-a-day ALL quota says so plainly (test_reply_over_the_quota)
- [x] "A Toloker filed an appeal ... accept them ... within 9 days after the responses were
      rejected": the assignment, the rejection comment, the 9-day deadline with the days left,
      red when <= 2 (test_appeal_shows_assignment_comment_and_days_left,
      test_appeal_deadline_turns_red_at_two_days)
- [x] "an 'Accept responses' button that accepts the assignment (the same call as PATCH
      /assignments/{id})" (test_accept_responses_accepts_the_assignment)
- [x] "the Sent thread shows its delivery counts", and who it went to: Individual Tolokers,
      Group of Tolokers (the filter in words), everyone who started two tasks
      (test_sent_threads_show_recipients_and_delivery)
- [x] opening an unread thread marks it read; "Mark as unread" and Important from the thread
      (test_opening_marks_read_and_the_thread_buttons)
- [x] "A requester sees only their own threads ... any other id is a 404 page"; CSRF refused
      (test_another_requesters_thread_is_a_404, test_forms_without_csrf_change_nothing)
- [x] axe-core: no serious or critical violation on a thread and an appeal at 1280 and 375 px
      (test_thread_and_appeal_are_accessible), in light and dark mode
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from crowdpost.db import Database
from crowdpost.kit.ids import parse_id
from crowdpost.kit.timefmt import utcnow
from crowdpost.messaging import policy
from crowdpost.models import MessageThread
from crowdpost.web.requester import thread
from crowdpost.workforce import filters
from tests.fixtures.factories import Admin
from tests.messaging.helpers import toloker_client
from tests.web.browser import (
    WebRequester,
    assert_accessible,
    create_web_requester,
    hidden_value,
    open_appeal,
    page_client,
    rejected_assignment,
    send_to_tolokers,
    sign_in,
    sign_in_http,
    toloker_reply,
    tolokers_who_worked,
)

SHOTS = Path("/tmp/shots")
MESSAGES = ".conversation__list > li"


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"thread-{name}.png"), full_page=True)


# --- unit: what the page does to message HTML, typed replies, deadlines and filters ----------


def test_message_html_makes_links_safe_new_tab_links() -> None:
    shown = thread.message_html('<a href="https://example.org/a?b=1&amp;c=2" target="_self" rel="opener">x</a>')
    assert shown == (
        '<a href="https://example.org/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer nofollow">x</a>'
    )


@pytest.mark.parametrize(
    ("raw", "absent"),
    [
        ("<script>alert(1)</script>", ["<script", "alert"]),
        ("<img src=x onerror=alert(1)>", ["src", "onerror"]),
        ('<a href="javascript:alert(1)">j</a>', ["javascript", "href"]),
        ('<a href="JaVaScRiPt:alert(1)">j</a>', ["javascript", "href"]),
        ('<a href="data:text/html,<script>alert(1)</script>">d</a>', ["data:", "href"]),
        ('<svg><script>alert(1)</script><circle onload="alert(1)"/></svg>', ["svg", "alert", "onload"]),
        ('<p style="background:url(javascript:alert(1))">s</p>', ["style", "javascript"]),
        ('<div style="width: expression(alert(1))">e</div>', ["style", "expression"]),
        ('<a href="/sign-out">relative</a>', ["href"]),
        ('<img src="https://tracker.example/p.gif" alt="chart">', ["src", "tracker"]),
        ("<iframe src=https://example.org></iframe><object data=x></object>", ["iframe", "object"]),
        ("<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>", ["onerror", "src"]),
    ],
)
def test_message_html_leaves_nothing_active(raw: str, absent: list[str]) -> None:
    for stored in (raw, policy.sanitize_html(raw)):  # safe whatever was stored
        shown = str(thread.message_html(stored)).lower()
        for fragment in absent:
            assert fragment.lower() not in shown, (raw, shown)


def test_message_html_keeps_the_allowed_formatting_and_is_a_fixed_point() -> None:
    text = '<p><b>bold</b> <i>it</i></p><ul><li>one</li></ul><img alt="chart"><a href="mailto:x@example.org">m</a>'
    shown = thread.message_html(text)
    assert "<b>bold</b>" in shown
    assert "<li>one</li>" in shown
    assert '<img alt="chart">' in shown
    assert thread.message_html(shown) == shown


@pytest.mark.parametrize(
    ("stored", "empty"),
    [("<script>x</script>", True), ("<a>  </a>", True), ("<img alt=a>", False), ("&lt;img", False), ("hi", False)],
)
def test_a_message_with_nothing_safe_left_says_so(stored: str, empty: bool) -> None:
    assert thread.Text("EN", thread.message_html(stored)).empty is empty


def test_shown_attributes_are_a_subset_of_the_stored_allow_list() -> None:
    stored = policy._ATTRIBUTES
    for tag, names in thread.SHOWN_ATTRIBUTES.items():
        assert names <= stored[tag], tag


def test_plain_text_reply_becomes_paragraphs_links_and_escaped_text() -> None:
    html = thread.plain_text_to_html("Hi <b>you</b> & co,\nsee https://example.org/a?b=1.\n\n\nThanks")
    assert html == (
        "<p>Hi &lt;b&gt;you&lt;/b&gt; &amp; co,<br>see "
        '<a href="https://example.org/a?b=1">https://example.org/a?b=1</a>.</p><p>Thanks</p>'
    )
    assert thread.plain_text_to_html('"https://x.org/q"<') == (
        '<p>"<a href="https://x.org/q">https://x.org/q</a>"&lt;</p>'
    )
    assert thread.plain_text_to_html("  \n ") == ""


@pytest.mark.parametrize(
    ("left", "text", "danger"),
    [
        (timedelta(days=7), "7 days left", False),
        (timedelta(days=2, hours=1), "3 days left", False),
        (timedelta(days=2), "2 days left", True),
        (timedelta(days=1, hours=12), "2 days left", True),
        (timedelta(days=1), "1 day left", True),
        (timedelta(hours=5, minutes=1), "6 hours left", True),
        (timedelta(minutes=30), "1 hour left", True),
        (timedelta(0), "deadline passed", True),
        (-timedelta(days=3), "deadline passed", True),
    ],
)
def test_deadline_days_left_and_red_at_two_or_fewer(left: timedelta, text: str, danger: bool) -> None:
    now = utcnow()
    state = thread.deadline_state(now + left, now)
    assert (state.left, state.danger) == (text, danger)


def test_filter_in_words() -> None:
    tree = filters.parse_filter(
        {
            "and": [
                {"category": "skill", "key": "7", "operator": "GTE", "value": 80},
                {"category": "skill", "key": "8", "operator": "EQ", "value": None},
                {
                    "or": [
                        {"category": "profile", "key": "languages", "operator": "IN", "value": "EN"},
                        {"category": "profile", "key": "country", "operator": "NE", "value": "DE"},
                    ]
                },
                {"category": "profile", "key": "date_of_birth", "operator": "LT", "value": 631152000},
                {"category": "computed", "key": "device_category", "operator": "EQ", "value": "SMARTPHONE"},
                {"category": "profile", "key": "verified", "operator": "EQ", "value": True},
            ]
        }
    )
    assert thread._node_text(tree, {"7": "Quality"}, True) == (
        "Skill “Quality” ≥ 80 and Skill 8 has no value and (Languages include EN or Country is not DE)"
        " and born before 1 Jan 1990 and Device is smartphone and Verified is yes"
    )
    leaf = filters.Leaf("p", "skill", "7", filters.Operator.LT, Decimal("55.50"))
    assert thread._leaf_text(leaf, {}) == "Skill 7 < 55.5"


def test_participation_filter_in_words() -> None:
    tree = filters.parse_filter(
        {
            "or": [
                {"category": "assignment", "key": "pool_id", "operator": "IN", "value": ["13", "12"]},
                {
                    "category": "assignment",
                    "key": "project_id",
                    "operator": "NE",
                    "value": "000000000004",
                    "status": ["SUBMITTED", "ACCEPTED"],
                    "min_count": 2,
                    "since": "2026-11-01T09:30:00",
                },
            ]
        }
    )
    assert thread._node_text(tree, {}, True) == (
        "Worked in pool 000000000012 or 000000000013 or Did not work in project 000000000004"
        " (at least 2 assignments; accepted or submitted; since 1 Nov 2026 09:30 UTC)"
    )


# --- the data the pages show ----------------------------------------------------------------


@pytest.fixture
def api(server_url: str, web_requester: WebRequester) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=f"{server_url}/api/v1", headers={"Authorization": f"OAuth {web_requester.token}"}, timeout=30
    ) as client:
        yield client


@dataclass(frozen=True)
class Talk:
    """A DIRECT send to `toloker`, and the Toloker's conversation thread that answers it."""

    toloker: str
    sent_id: str
    conversation_id: str
    pool_id: str


@pytest.fixture
def talk(db: Database, admin: Admin, server_url: str, web_requester: WebRequester, api: httpx.Client) -> Talk:
    crew = tolokers_who_worked(db, admin, web_requester.id, 1)
    (toloker,) = crew.toloker_ids
    sent_id = send_to_tolokers(server_url, web_requester.token, [toloker], subject="Instructions changed")
    conversation_id = toloker_reply(server_url, admin, toloker, sent_id, "What changed, exactly?")
    return Talk(toloker, sent_id, conversation_id, crew.pool_id)


def open_thread(page: Page, server_url: str, who: WebRequester, thread_id: str) -> None:
    sign_in(page, server_url, who.email, who.password)
    page.goto(f"{server_url}/messages/{thread_id}")


def senders(page: Page) -> list[str]:
    return [" ".join(s.split()) for s in page.locator(".message__sender").all_inner_texts()]


# --- the conversation -------------------------------------------------------------------------


def test_conversation_oldest_first_with_senders_times_and_languages(
    page: Page, server_url: str, admin: Admin, web_requester: WebRequester, api: httpx.Client, talk: Talk
) -> None:
    answer = api.post(f"/message-threads/{talk.conversation_id}/reply", json={"text": {"EN": "The examples."}})
    assert answer.status_code == 201, answer.text
    toloker_reply(server_url, admin, talk.toloker, talk.conversation_id, "Thanks, understood.")
    bilingual = api.post(
        "/message-threads/compose",
        json={
            "recipients_select_type": "DIRECT",
            "recipients_ids": [talk.toloker],
            "topic": {"EN": "Two languages", "RU": "Два языка"},
            "text": {"EN": "<p>Hello</p>", "RU": "<p>Привет</p>"},
            "answerable": True,
        },
    )
    assert bilingual.status_code == 201, bilingual.text

    open_thread(page, server_url, web_requester, talk.conversation_id)
    expect(page.locator(MESSAGES)).to_have_count(3)
    assert senders(page) == [f"Toloker {talk.toloker}", "You", f"Toloker {talk.toloker}"]
    bodies = page.locator(".message__body").all_inner_texts()
    assert [b.strip() for b in bodies] == ["What changed, exactly?", "The examples.", "Thanks, understood."]
    times = page.locator(".message time").evaluate_all("ts => ts.map(t => t.getAttribute('datetime'))")
    assert all(t.endswith("Z") for t in times)
    assert times == sorted(times)
    assert page.locator(".message__language").all_inner_texts()[0].endswith("EN")
    expect(page.locator(".thread__party")).to_contain_text(f"With Toloker {talk.toloker}")
    expect(page.get_by_role("link", name="your message")).to_have_attribute("href", f"/messages/{talk.sent_id}")
    shot(page, "conversation")

    page.goto(f"{server_url}/messages/{bilingual.json()['id']}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Two languages")
    expect(page.locator(".thread__subject-alt")).to_contain_text("Два языка")
    sections = page.locator(".message__text")
    expect(sections).to_have_count(2)
    expect(page.get_by_role("region", name="Language EN")).to_contain_text("Hello")
    expect(page.get_by_role("region", name="Language RU")).to_contain_text("Привет")
    expect(page.locator('.message__body[lang="ru"]')).to_have_text("Привет")
    shot(page, "two-languages")


def test_links_open_in_a_new_tab_without_referrer(
    page: Page, server_url: str, admin: Admin, web_requester: WebRequester, talk: Talk
) -> None:
    with toloker_client(server_url, admin, talk.toloker) as toloker:
        sent = toloker.post(
            f"/message-threads/{talk.conversation_id}/reply",
            json={"text": {"EN": 'See <a href="https://example.org/screenshot.png">my screenshot</a>'}},
        )
    assert sent.status_code == 201, sent.text
    open_thread(page, server_url, web_requester, talk.conversation_id)
    link = page.get_by_role("link", name="my screenshot")
    expect(link).to_have_attribute("href", "https://example.org/screenshot.png")
    expect(link).to_have_attribute("target", "_blank")
    expect(link).to_have_attribute("rel", "noopener noreferrer nofollow")


XSS = [
    "<script>alert('script')</script>plain words",
    "<img src=x onerror=alert('img')>",
    "<a href=\"javascript:alert('js')\">js link</a>",
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">data link</a>',
    "<svg onload=alert('svg')><script>alert('svg2')</script></svg>",
    '<p style="background-image:url(javascript:alert(1))">styled</p>',
    '<div style="width: expression(alert(1))">css expression</div>',
    "<iframe src=\"javascript:alert('frame')\"></iframe>",
    "<details open ontoggle=alert('toggle')>x</details>",
    '<img src="https://tracker.example/pixel.gif" alt="remote image">',
    "&lt;b&gt;escaped markup&lt;/b&gt;",
]


def test_hostile_reply_and_subject_are_inert(
    page: Page, server_url: str, admin: Admin, web_requester: WebRequester, talk: Talk, api: httpx.Client
) -> None:
    with toloker_client(server_url, admin, talk.toloker) as toloker:
        for text in XSS:
            sent = toloker.post(f"/message-threads/{talk.conversation_id}/reply", json={"text": {"EN": text}})
            assert sent.status_code == 201, sent.text
    hostile_subject = "Hello &lt;img src=x onerror=alert(1)&gt; <b>bold</b><script>alert(2)</script>"
    composed = api.post(
        "/message-threads/compose",
        json={
            "recipients_select_type": "DIRECT",
            "recipients_ids": [talk.toloker],
            "topic": {"EN": hostile_subject},
            "text": {"EN": "body"},
        },
    )
    assert composed.status_code == 201, composed.text

    open_thread(page, server_url, web_requester, talk.conversation_id)
    expect(page.locator(MESSAGES)).to_have_count(1 + len(XSS))
    active = page.locator(".message__body").evaluate_all(
        """bodies => bodies.flatMap(b => [...b.querySelectorAll('*')]).filter(e =>
            ['SCRIPT', 'IFRAME', 'SVG', 'svg', 'OBJECT', 'EMBED', 'STYLE'].includes(e.tagName)
            || e.hasAttribute('style') || e.hasAttribute('src')
            || [...e.attributes].some(a => a.name.startsWith('on'))
            || (e.tagName === 'A' && e.hasAttribute('href') && !/^(https?|mailto):/i.test(e.getAttribute('href')))
        ).map(e => e.outerHTML)"""
    )
    assert active == []
    expect(page.get_by_text("plain words")).to_be_visible()
    expect(page.get_by_text("<b>escaped markup</b>")).to_be_visible()  # text, not bold
    expect(page.locator("img[alt='remote image']")).to_have_count(1)
    shot(page, "hostile")

    page.goto(f"{server_url}/messages/{composed.json()['id']}")
    # stored as plain text (the markup stripped, entities decoded); shown as text
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello <img src=x onerror=alert(1)> bold")
    assert page.locator("h1 *").count() == 0
    # the guard (conftest) fails the test on any dialog, console error or foreign request


# --- replying -------------------------------------------------------------------------------


def messages_via_api(api: httpx.Client, thread_id: str) -> list[dict[str, object]]:
    view = api.get(f"/message-threads/{thread_id}")
    assert view.status_code == 200, view.text
    messages: list[dict[str, object]] = view.json()["messages"]
    return messages


def test_reply_with_javascript(
    page: Page, server_url: str, web_requester: WebRequester, api: httpx.Client, talk: Talk
) -> None:
    open_thread(page, server_url, web_requester, talk.conversation_id)
    before = page.url
    page.get_by_label("Message text").fill("The examples in section 2.\n\nWrite to me at someone@example.org")
    with page.expect_response(lambda r: r.request.headers.get("hx-request") == "true" and "/reply" in r.url):
        page.get_by_role("button", name="Reply", exact=True).click()
    expect(page.locator(MESSAGES)).to_have_count(2)
    assert page.url == before  # htmx swapped the conversation; no navigation
    assert senders(page)[-1] == "You"
    notice = page.get_by_role("status")
    expect(notice).to_contain_text("Your reply was sent.")
    expect(notice).to_contain_text("contact details")
    expect(page.get_by_label("Message text")).to_have_value("")
    expect(page.locator(".reply__sending")).to_have_css("opacity", "0")  # no longer "Sending…"
    shot(page, "replied-js")
    newest = messages_via_api(api, talk.conversation_id)[0]
    assert newest["text"] == {"EN": "<p>The examples in section 2.</p><p>Write to me at someone@example.org</p>"}


def test_reply_without_javascript(
    js_disabled_page: Page, server_url: str, web_requester: WebRequester, api: httpx.Client, talk: Talk
) -> None:
    page = js_disabled_page
    open_thread(page, server_url, web_requester, talk.conversation_id)
    page.get_by_label("Message text").fill("   ")  # passes `required`, not the server
    with page.expect_navigation():
        page.get_by_role("button", name="Reply", exact=True).click()  # blank: refused (400), not sent
    expect(page.locator(".field__error")).to_contain_text("Enter the message text.")
    expect(page.locator(".error-summary")).to_be_visible()
    assert len(messages_via_api(api, talk.conversation_id)) == 1

    page.get_by_label("Message text").fill("See https://example.org/help.")
    with page.expect_navigation():
        page.get_by_role("button", name="Reply", exact=True).click()
    assert page.url.startswith(f"{server_url}/messages/{talk.conversation_id}?replied=1")
    expect(page.locator(MESSAGES)).to_have_count(2)
    expect(page.get_by_role("status").first).to_contain_text("Your reply was sent.")
    link = page.locator(".message--me .message__body a")
    expect(link).to_have_attribute("href", "https://example.org/help")
    expect(link).to_have_attribute("rel", "noopener noreferrer nofollow")
    shot(page, "replied-no-js")


def test_reply_over_the_quota(
    db: Database, admin: Admin, server_url: str, web_requester: WebRequester, api: httpx.Client
) -> None:
    tolokers_who_worked(db, admin, web_requester.id, 2)
    everyone = api.post(
        "/message-threads/compose",
        json={"recipients_select_type": "ALL", "topic": {"EN": "News"}, "text": {"EN": "Hi"}, "answerable": True},
    )
    assert everyone.status_code == 201, everyone.text
    with page_client(server_url) as client:
        assert sign_in_http(client, web_requester.email, web_requester.password).status_code == 303
        thread_id = everyone.json()["id"]
        shown = client.get(f"/messages/{thread_id}")
        answer = client.post(
            f"/messages/{thread_id}/reply",
            data={"text": "One more thing", "language": "EN", "csrf_token": hidden_value(shown.text)},
        )
    assert answer.status_code == 429
    assert "Not sent: at most 1 all sends per UTC day; try again tomorrow." in answer.text
    assert "One more thing" in answer.text  # the text is kept
    assert len(messages_via_api(api, thread_id)) == 1


# --- appeals --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Appealed:
    thread_id: str
    assignment_id: str
    toloker: str


def appeal(db: Database, admin: Admin, server_url: str, who: WebRequester, *, days_ago: float) -> Appealed:
    crew = tolokers_who_worked(db, admin, who.id, 1, started=1)
    (toloker,) = crew.toloker_ids
    assignment_id = rejected_assignment(admin, crew.pool_id, toloker, days_ago=days_ago)
    with db.transaction() as session:  # the requester's rejection comment
        from crowdpost.models import Assignment

        row = session.get(Assignment, parse_id(assignment_id))
        assert row is not None
        row.public_comment = "Two answers were empty."
    thread_id = open_appeal(server_url, admin, toloker, assignment_id, "I answered every question, please look.")
    return Appealed(thread_id, assignment_id, toloker)


def test_appeal_shows_assignment_comment_and_days_left(
    page: Page, db: Database, admin: Admin, server_url: str, web_requester: WebRequester
) -> None:
    appealed = appeal(db, admin, server_url, web_requester, days_ago=2)
    open_thread(page, server_url, web_requester, appealed.thread_id)
    panel = page.get_by_role("region", name="Appeal of a rejection")
    expect(panel).to_contain_text(appealed.assignment_id)
    expect(panel).to_contain_text("Two answers were empty.")
    expect(panel.locator(".appeal__left")).to_have_text("7 days left")
    expect(panel.locator(".appeal__left")).not_to_have_class("badge badge--danger appeal__left")
    expect(panel.get_by_role("button", name="Accept responses")).to_be_visible()
    expect(page.locator(".message__body")).to_contain_text("I answered every question")
    shot(page, "appeal")


def test_appeal_deadline_turns_red_at_two_days(
    page: Page, db: Database, admin: Admin, server_url: str, web_requester: WebRequester
) -> None:
    appealed = appeal(db, admin, server_url, web_requester, days_ago=6)
    with db.transaction() as session:  # as if the appeal came in late: 1.5 days to the deadline
        row = session.get(MessageThread, parse_id(appealed.thread_id))
        assert row is not None
        row.appeal_deadline = utcnow() + timedelta(days=1, hours=12)
    open_thread(page, server_url, web_requester, appealed.thread_id)
    badge = page.locator(".appeal__left")
    expect(badge).to_have_text("2 days left")
    expect(badge).to_have_class("badge badge--danger appeal__left")
    expect(page.locator(".appeal__days")).to_have_class("text-danger appeal__days")
    shot(page, "appeal-red")


def test_accept_responses_accepts_the_assignment(
    page: Page, db: Database, admin: Admin, server_url: str, web_requester: WebRequester, api: httpx.Client
) -> None:
    appealed = appeal(db, admin, server_url, web_requester, days_ago=3)
    open_thread(page, server_url, web_requester, appealed.thread_id)
    page.get_by_label("Comment to the Toloker (optional)").fill("You were right, sorry.")
    with page.expect_navigation():
        page.get_by_role("button", name="Accept responses").click()
    assignment = api.get(f"/assignments/{appealed.assignment_id}").json()
    assert assignment["status"] == "ACCEPTED"
    assert assignment["public_comment"] == "You were right, sorry."
    panel = page.get_by_role("region", name="Appeal of a rejection")
    expect(panel).to_contain_text("You accepted these responses on")
    expect(panel.get_by_role("button", name="Accept responses")).to_have_count(0)
    expect(page.locator(".flash")).to_contain_text("Responses accepted")
    expect(page.locator(MESSAGES)).to_have_count(2)  # the note the Toloker gets, from Toloka
    assert senders(page)[-1] == "Toloka"
    shot(page, "appeal-accepted")

    with page_client(server_url) as client:  # twice: a 409 page that says why, nothing changes
        assert sign_in_http(client, web_requester.email, web_requester.password).status_code == 303
        token = hidden_value(client.get(f"/messages/{appealed.thread_id}").text)
        again = client.post(f"/messages/{appealed.thread_id}/accept", data={"csrf_token": token})
    assert again.status_code == 409
    assert "The assignment is ACCEPTED" in again.text


# --- sent threads ---------------------------------------------------------------------------


def test_sent_threads_show_recipients_and_delivery(
    page: Page, db: Database, admin: Admin, server_url: str, web_requester: WebRequester, api: httpx.Client
) -> None:
    crew = tolokers_who_worked(db, admin, web_requester.id, 3)
    good, other, banned = crew.toloker_ids
    assert api.put("/user-restrictions", json={"scope": "ALL_PROJECTS", "user_id": banned}).status_code == 201
    skill = api.post("/skills", json={"name": "Careful annotator"}).json()
    for toloker in crew.toloker_ids:
        set_skill = api.put("/user-skills", json={"skill_id": skill["id"], "user_id": toloker, "value": 90})
        assert set_skill.status_code in (200, 201), set_skill.text
    direct = send_to_tolokers(server_url, web_requester.token, [good, banned], answerable=False)
    group = api.post(
        "/message-threads/compose",
        json={
            "recipients_select_type": "FILTER",
            "recipients_filter": {
                "and": [
                    {"category": "skill", "key": skill["id"], "operator": "GTE", "value": 80},
                    {
                        "or": [
                            {"category": "profile", "key": "languages", "operator": "IN", "value": "EN"},
                            {"category": "profile", "key": "country", "operator": "EQ", "value": "DE"},
                        ]
                    },
                ]
            },
            "topic": {"EN": "Skilled ones"},
            "text": {"EN": "New pool"},
            "answerable": True,
        },
    )
    assert group.status_code == 201, group.text
    everyone = api.post(
        "/message-threads/compose",
        json={"recipients_select_type": "ALL", "topic": {"EN": "To all"}, "text": {"EN": "Hello all"}},
    )
    assert everyone.status_code == 201, everyone.text

    def delivery() -> list[str]:
        return [" ".join(t.split()) for t in page.locator(".delivery__item").all_inner_texts()]

    open_thread(page, server_url, web_requester, direct)
    recipients = page.get_by_role("region", name="Recipients")
    expect(recipients).to_contain_text("Individual Tolokers")
    expect(recipients.get_by_role("list", name="Toloker IDs").get_by_role("listitem")).to_have_count(2)
    assert delivery() == ["Delivered 1", "Banned, left out 1", "Unknown, left out 0"]
    expect(page.locator(".reply__closed")).to_contain_text("Replies are off")
    expect(page.get_by_label("Message text")).to_have_count(0)
    shot(page, "sent-direct")

    page.goto(f"{server_url}/messages/{group.json()['id']}")
    expect(recipients).to_contain_text("Group of Tolokers")
    expect(page.locator(".sent__filter")).to_have_text(
        "Skill “Careful annotator” ≥ 80 and (Languages include EN or Country is DE)"
    )
    assert delivery() == ["Delivered 2", "Banned, left out 1", "Unknown, left out 0"]
    expect(page.get_by_label("Message text")).to_be_visible()
    shot(page, "sent-group")

    page.goto(f"{server_url}/messages/{everyone.json()['id']}")
    expect(recipients).to_contain_text("Tolokers who started at least two of your tasks")
    assert delivery() == ["Delivered 2", "Banned, left out 1", "Unknown, left out 0"]
    _ = other


# --- read state, important, tenants, CSRF ---------------------------------------------------


def test_opening_marks_read_and_the_thread_buttons(
    page: Page, server_url: str, web_requester: WebRequester, api: httpx.Client, talk: Talk
) -> None:
    assert "UNREAD" in api.get(f"/message-threads/{talk.conversation_id}").json()["folders"]
    open_thread(page, server_url, web_requester, talk.conversation_id)
    assert "UNREAD" not in api.get(f"/message-threads/{talk.conversation_id}").json()["folders"]

    important = page.get_by_role("button", name="Important")
    expect(important).to_have_attribute("aria-pressed", "false")
    with page.expect_navigation():
        important.click()
    expect(page.get_by_role("button", name="Important")).to_have_attribute("aria-pressed", "true")
    assert "IMPORTANT" in api.get(f"/message-threads/{talk.conversation_id}").json()["folders"]

    with page.expect_navigation():
        page.get_by_role("button", name="Mark as unread").click()
    assert page.url.startswith(f"{server_url}/messages")
    assert talk.conversation_id not in page.url
    assert "UNREAD" in api.get(f"/message-threads/{talk.conversation_id}").json()["folders"]


def test_another_requesters_thread_is_a_404(
    page: Page, server_url: str, admin: Admin, web_requester: WebRequester, talk: Talk
) -> None:
    stranger = create_web_requester(admin)
    sign_in(page, server_url, stranger.email, stranger.password)
    for thread_id in (talk.conversation_id, "not-an-id", "999999999999"):
        answer = page.goto(f"{server_url}/messages/{thread_id}")
        assert answer is not None
        assert answer.status == 404, thread_id
        expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
        assert "What changed" not in page.content()
    with page_client(server_url) as client:
        assert sign_in_http(client, stranger.email, stranger.password).status_code == 303
        token = hidden_value(client.get("/messages").text)
        for action, data in (("reply", {"text": "hi"}), ("accept", {}), ("mark", {"folder": "UNREAD", "add": "true"})):
            posted = client.post(f"/messages/{talk.conversation_id}/{action}", data={**data, "csrf_token": token})
            assert posted.status_code == 404, action


def test_forms_without_csrf_change_nothing(
    server_url: str, web_requester: WebRequester, api: httpx.Client, talk: Talk
) -> None:
    with page_client(server_url) as client:
        assert sign_in_http(client, web_requester.email, web_requester.password).status_code == 303
        for data in ({"text": "sneaky"}, {"text": "sneaky", "csrf_token": "wrong"}):
            answer = client.post(f"/messages/{talk.conversation_id}/reply", data=data)
            assert answer.status_code == 403
        marked = client.post(f"/messages/{talk.conversation_id}/mark", data={"folder": "IMPORTANT", "add": "true"})
        assert marked.status_code == 403
    view = api.get(f"/message-threads/{talk.conversation_id}").json()
    assert len(view["messages"]) == 1
    assert "IMPORTANT" not in view["folders"]


# --- accessibility --------------------------------------------------------------------------


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_thread_and_appeal_are_accessible(
    width: str,
    page: Page,
    phone_page: Page,
    db: Database,
    admin: Admin,
    server_url: str,
    web_requester: WebRequester,
    talk: Talk,
) -> None:
    view = page if width == "desktop" else phone_page
    appealed = appeal(db, admin, server_url, web_requester, days_ago=6.5)
    open_thread(view, server_url, web_requester, talk.conversation_id)
    assert_accessible(view)
    shot(view, f"conversation-{width}")
    view.goto(f"{server_url}/messages/{appealed.thread_id}")
    expect(view.locator(".appeal__left")).to_have_text("3 days left")
    assert_accessible(view)
    shot(view, f"appeal-{width}")
    view.goto(f"{server_url}/messages/{talk.sent_id}")
    assert_accessible(view)
    shot(view, f"sent-{width}")
    view.emulate_media(color_scheme="dark")  # dark mode has colours of its own
    view.goto(f"{server_url}/messages/{appealed.thread_id}")
    assert_accessible(view)
    shot(view, f"appeal-{width}-dark")
