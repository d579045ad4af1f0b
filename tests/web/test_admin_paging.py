"""The operator's Newest / Older lists show every row once, newest first, over HTTP.

A requester's statement pages 50 ledger rows at a time and the News list 20 platform
messages: the test writes a page and a half of each through the operator API, follows the
Older links to the end and checks that the pages, laid end to end, are every row exactly
once, in order, on both backends.
"""

from __future__ import annotations

import html
import re

import httpx

from crowdpost.web.admin.news import PAGE_SIZE as NEWS_PAGE
from crowdpost.web.admin.requesters import LEDGER_PAGE
from tests.fixtures.factories import Admin
from tests.web.test_admin_page import operator_client

_OLDER = re.compile(r'href="([^"]*\?before=\d+)"')


def _follow(client: httpx.Client, first: str, row: re.Pattern[str]) -> list[list[str]]:
    """The rows `row` finds on each page, from `first` through every Older link."""
    pages: list[list[str]] = []
    url: str | None = first
    while url is not None:
        answer = client.get(url)
        assert answer.status_code == 200, answer.text
        pages.append(row.findall(answer.text))
        older = _OLDER.search(answer.text)
        url = html.unescape(older.group(1)) if older else None
        assert len(pages) <= 10, "the Older links do not end"
    return pages


def test_a_requesters_statement_pages_every_ledger_row_once(server_url: str, admin: Admin) -> None:
    requester = admin.create_requester(balance=None)
    count = LEDGER_PAGE + LEDGER_PAGE // 2
    for n in range(1, count + 1):
        response = admin.http.post(
            f"/api/admin/v1/requesters/{requester.id}/deposits", json={"amount": 1, "description": f"Top-up {n}"}
        )
        assert response.status_code == 201, response.text
    with operator_client(server_url) as client:
        pages = _follow(client, f"/admin/requesters/{requester.id}", re.compile(r">Top-up (\d+)</td>"))
    assert [len(page) for page in pages] == [LEDGER_PAGE, count - LEDGER_PAGE]
    shown = [int(n) for page in pages for n in page]
    assert shown == list(range(count, 0, -1))


def test_the_news_list_pages_every_platform_message_once(server_url: str, admin: Admin) -> None:
    admin.create_requester()
    count = NEWS_PAGE + NEWS_PAGE // 2
    for n in range(1, count + 1):
        response = admin.http.post(
            "/api/admin/v1/messages",
            json={"topic": {"EN": f"Release note {n}"}, "text": {"EN": f"<p>Note {n}</p>"}, "all_requesters": True},
        )
        assert response.status_code == 201, response.text
    with operator_client(server_url) as client:
        pages = _follow(client, "/admin/news", re.compile(r">Release note (\d+)<"))
    assert [len(page) for page in pages] == [NEWS_PAGE, count - NEWS_PAGE]
    shown = [int(n) for page in pages for n in page]
    assert shown == list(range(count, 0, -1))
