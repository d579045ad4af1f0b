"""An XSS corpus, written where each page shows someone else's text, is inert in Chromium.

The corpus goes into subjects and texts of the requester's own sends, Tolokers' replies,
operator news and the search box. The guard (tests/web/conftest.py) fails the test on any
dialog, console error, page error or request to another host; besides, nothing the corpus
carries may become an element or attribute of the page: no <script> the corpus brought, no
element with an `on*` attribute, no `javascript:`/`data:` link, no iframe/object/style, no
style attribute.
(The compose form's own fields, filter values included, are covered in test_compose_page.py.)
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from playwright.sync_api import Page

from crowdpost.db import Database
from tests.fixtures.factories import Admin
from tests.web.browser import WebRequester, send_to_tolokers, sign_in, toloker_reply, tolokers_who_worked

CORPUS = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(2)">',
    '<a href="javascript:alert(3)">click</a>',
    '<a href="data:text/html,<script>alert(4)</script>">data</a>',
    '<svg onload="alert(5)"><script>alert(6)</script></svg>',
    '<div style="background:url(javascript:alert(7));width:expression(alert(8))">css</div>',
    '"><iframe src="https://evil.example/"></iframe>',
    "<style>@import 'https://evil.example/x.css';</style>",
    '<form action="https://evil.example/"><button>win</button></form>',
    "<b onmouseover=alert(9)>bold</b>",
]

# Everything a page may legitimately carry that the corpus also names.
DANGEROUS_DOM = """() => {
  const bad = [];
  for (const el of document.querySelectorAll('*')) {
    for (const attr of el.getAttributeNames()) {
      if (attr.startsWith('on')) bad.push(el.tagName + ' ' + attr);
      if (attr === 'style') bad.push(el.tagName + ' style');
    }
    const url = el.getAttribute('href') || el.getAttribute('src') || el.getAttribute('action') || '';
    const href = url.trim().toLowerCase();
    if (href.startsWith('javascript:') || href.startsWith('data:')) bad.push(el.tagName + ' ' + href.slice(0, 30));
    if (['iframe', 'object', 'embed', 'style'].includes(el.localName)) bad.push(el.localName);
    // Our own scripts come from /static; any other script element (HTML or SVG) came from text.
    const src = el.getAttribute('src') || '';
    const ours = src.startsWith('/static/') || src.startsWith(location.origin + '/static/');
    if (el.localName === 'script' && !ours) bad.push('script ' + src.slice(0, 30));
  }
  return bad;
}"""


def assert_inert(page: Page) -> None:
    page.wait_for_load_state("load")
    assert page.evaluate(DANGEROUS_DOM) == []


@pytest.fixture
def hostile_inbox(db: Database, admin: Admin, server_url: str, web_requester: WebRequester) -> list[str]:
    """Threads whose subjects and texts are the corpus: sends, Toloker replies, operator news."""
    crew = tolokers_who_worked(db, admin, web_requester.id, 2)
    threads = []
    for i, payload in enumerate(CORPUS):
        sent = send_to_tolokers(
            server_url,
            web_requester.token,
            [crew.toloker_ids[i % 2]],
            subject=f"S{i} {payload}",
            text=f"T{i} {payload}",
        )
        threads.append(toloker_reply(server_url, admin, crew.toloker_ids[i % 2], sent, f"R{i} {payload}"))
        threads.append(sent)
    news = admin.http.post(
        "/api/admin/v1/messages",
        json={"topic": {"EN": CORPUS[0]}, "text": {"EN": " ".join(CORPUS)}, "requester_ids": [web_requester.id]},
    )
    assert news.status_code == 201, news.text
    return threads


def test_the_corpus_is_inert_in_every_folder_thread_and_search(
    page: Page, server_url: str, web_requester: WebRequester, hostile_inbox: list[str]
) -> None:
    sign_in(page, server_url, web_requester.email, web_requester.password)
    for folder in ("inbox", "sent", "users", "administrator", "unread"):
        page.goto(f"{server_url}/messages?folder={folder}")
        assert_inert(page)
    # Subjects are stored as plain text (tags dropped by the allow-list): every send is listed.
    page.goto(f"{server_url}/messages?folder=sent")
    assert page.get_by_role("link", name="S9 bold").count() == 1
    for thread_id in dict.fromkeys(hostile_inbox):
        page.goto(f"{server_url}/messages/{thread_id}")
        assert_inert(page)
    # The search box reflects the corpus as the text it is.
    for query in SEARCHES:
        page.goto(f"{server_url}/messages?q={quote(query)}")
        assert_inert(page)
        assert page.get_by_role("searchbox").input_value() == query


SEARCHES = [*CORPUS[:3], '"<svg onload=alert(1)>"', "javascript:alert(1)"]


def test_the_sign_in_page_reflects_nothing_executable(page: Page, server_url: str) -> None:
    page.goto(f"{server_url}/sign-in?next={quote(CORPUS[1])}")
    assert_inert(page)
    page.get_by_label("E-mail").fill('"><script>alert(1)</script>@x.y')
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in", exact=True).click()
    assert_inert(page)
