"""/rewards/operations/{id}: a bonus operation's progress, result and failed items (issue 13).

- [x] an async bonus operation started through the API (skip_invalid_items, 3 invalid items):
      the page shows it waiting, then running (done / total, the htmx fragment keeps polling),
      then finished (paid, failed, total paid, fee reconciled with the balance; the fragment
      stops polling); failed.csv lists exactly the log's failed items, formula cells escaped;
      the recent operations list links it (both backends, HTTP)
- [x] another requester's operation and malformed ids are 404s; signed out goes to sign-in
- [x] an all-or-nothing batch with invalid items: Failed with its reason, nothing paid (SQLite)
- [x] Chromium with JavaScript: the progress bar reaches the end without a reload while the
      worker runs the operation, and the header's balance follows; axe; screenshots at 1280
      and 375 px (both backends)
- [x] Chromium without JavaScript: the Refresh link shows the final state (SQLite)
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from crowdpost.config import Settings
from crowdpost.db import Database
from crowdpost.web.templating import money
from crowdpost.worker.loop import EmbeddedWorker, run_pending
from tests.fixtures.factories import Admin, RequesterInfo, settings_for
from tests.rewards.helpers import Crew, auth_client, balance_of, bonus, make_crew, paid_total, post_bonuses
from tests.web.browser import (
    PHONE,
    WebRequester,
    assert_accessible,
    create_web_requester,
    page_client,
    sign_in,
    sign_in_http,
)
from tests.web.conftest import NewPage

SHOTS = Path("/tmp/shots")
CHUNK = 3
VALID_AMOUNTS = ("1.005", "0.5", "0.25", "2", "0.333", "1", "0.75", "0.1")
FORMULA_USER = '=HYPERLINK("http://example.com")'


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    """Small chunks, so an operation of 11 items takes 4 worker steps; a fee to show."""
    return settings_for(db_url, tmp_path, worker_chunk_size=CHUNK, bonus_fee_percent=Decimal("20"))


def _crew(db: Database, admin: Admin, who: WebRequester) -> Crew:
    return make_crew(db, admin, RequesterInfo(id=who.id, token=who.token), size=len(VALID_AMOUNTS))


def _items(crew: Crew) -> list[dict[str, Any]]:
    """8 valid bonuses and 3 invalid ones (an unknown Toloker whose id is a formula, a zero
    amount, an amount finer than a tenth of a cent), mixed in."""
    valid = [bonus(uid, amount) for uid, amount in zip(crew.user_ids, VALID_AMOUNTS, strict=True)]
    invalid = [
        bonus(FORMULA_USER, "1", private_comment="@SUM(1)"),
        bonus(crew.user_ids[0], "0", private_comment="zero"),
        bonus(crew.user_ids[1], "1.0001", private_comment="too fine"),
    ]
    return [*valid[:2], invalid[0], *valid[2:5], invalid[1], *valid[5:], invalid[2]]


def _start(server_url: str, token: str, items: list[dict[str, Any]]) -> str:
    """Starts the async operation through the API; answers its id."""
    operation_id = str(uuid.uuid4())
    with auth_client(server_url, token) as api:
        answer = post_bonuses(api, items, async_mode=True, skip_invalid_items=True, operation_id=operation_id)
    assert answer.status_code == 202, answer.text
    assert answer.json()["id"] == operation_id
    return operation_id


def _api_operation(server_url: str, token: str, operation_id: str, path: str = "") -> Any:
    with auth_client(server_url, token) as api:
        answer = api.get(f"/api/v1/operations/{operation_id}{path}")
    assert answer.status_code == 200, answer.text
    return answer.json()


def _text(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>([^<]*)<', html)
    assert found, f"no #{element_id} in the page"
    return found.group(1).strip()


def _counts(html: str) -> tuple[int, int]:
    done = re.search(r'data-testid="done">([\d,]+)<', html)
    total = re.search(r'data-testid="total">([\d,]+)<', html)
    assert done, html
    assert total, html
    return int(done.group(1).replace(",", "")), int(total.group(1).replace(",", ""))


@contextlib.contextmanager
def _signed_in(server_url: str, who: WebRequester) -> Iterator[httpx.Client]:
    with page_client(server_url) as client:
        assert sign_in_http(client, who.email, who.password).status_code == 303
        yield client


def _run_until_running(db: Database, server_url: str, token: str, operation_id: str) -> None:
    """Runs queued jobs one at a time until the operation has handled its first chunk."""
    for _ in range(10):
        run_pending(db, limit=1)
        if _api_operation(server_url, token, operation_id)["status"] != "PENDING":
            return
    raise AssertionError("the operation never started")


def test_progress_result_and_failed_items(
    server_url: str, db: Database, admin: Admin, web_requester: WebRequester
) -> None:
    items = _items(_crew(db, admin, web_requester))
    before = balance_of(db, web_requester.id)
    operation_id = _start(server_url, web_requester.token, items)
    url = f"/rewards/operations/{operation_id}"
    fragment = {"HX-Request": "true"}

    with _signed_in(server_url, web_requester) as client:
        waiting = client.get(url)
        assert waiting.status_code == 200
        assert _text(waiting.text, "operation-status") == "Waiting to start"
        assert _counts(waiting.text) == (0, 11)
        assert 'hx-trigger="every 1s"' in waiting.text
        assert f'href="{url}">Refresh</a>' in waiting.text
        assert 'id="paid-count"' not in waiting.text

        _run_until_running(db, server_url, web_requester.token, operation_id)
        running = client.get(url, headers=fragment)
        assert running.status_code == 200
        assert "<html" not in running.text  # only the polled block
        assert _text(running.text, "operation-status") == "Running"
        assert _counts(running.text) == (CHUNK, 11)
        assert 'value="27"' in running.text  # the operation's own progress, 3 of 11
        assert 'hx-trigger="every 1s"' in running.text
        assert "hx-swap-oob" not in running.text

        run_pending(db)
        done = client.get(url, headers=fragment)
        assert "<html" not in done.text
        assert _text(done.text, "operation-status") == "Finished"
        assert "hx-trigger" not in done.text  # the polling stops
        assert 'hx-swap-oob="innerHTML">Finished: 8 paid, 3 failed.' in done.text
        assert '<span id="account-balance" hx-swap-oob="innerHTML">' in done.text
        page = client.get(url)
        failed_link = f"{url}/failed.csv"
        recent = client.get("/rewards/operations")
        failed_csv = client.get(failed_link)

    assert _counts(page.text) == (11, 11)
    assert 'value="100"' in page.text
    assert "Refresh</a>" not in page.text
    assert _text(page.text, "paid-count") == "8"
    assert _text(page.text, "failed-count") == "3"
    paid = paid_total(db, web_requester.id)
    assert paid == sum(Decimal(a) for a in VALID_AMOUNTS)
    assert _text(page.text, "paid-total") == money(paid)
    fee = before - balance_of(db, web_requester.id) - paid
    assert fee == paid * Decimal("0.2")
    assert _text(page.text, "fee") == money(fee)
    assert f'href="{failed_link}" download>Download failed items (CSV)</a>' in page.text
    assert f'href="{url}"' in recent.text

    # failed.csv: exactly the log's failed items, in its order, formula cells escaped.
    assert failed_csv.status_code == 200
    assert failed_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(failed_csv.content.decode("utf-8-sig"))))
    assert rows[0] == [
        "line",
        "user_id",
        "amount",
        "assignment_id",
        "private_comment",
        "title",
        "error_code",
        "error_message",
    ]
    log = _api_operation(server_url, web_requester.token, operation_id, "/log")
    failed_entries = [entry for entry in log if not entry["success"]]
    assert len(failed_entries) == 3
    assert sum(1 for entry in log if entry["success"]) == 8
    expected = []
    for entry in failed_entries:
        (code,) = [problem["code"] for problem in entry["output"].values()]
        user_id = entry["input"]["user_id"]
        comment = entry["input"]["private_comment"]
        expected.append(
            [
                "'" + user_id if user_id == FORMULA_USER else user_id,
                str(entry["input"]["amount"]),
                "'" + comment if comment.startswith("@") else comment,
                code,
            ]
        )
    assert [[row[1], row[2], row[4], row[6]] for row in rows[1:]] == expected
    assert [row[1] for row in rows[1:]] == ["'" + FORMULA_USER, *(items[i]["user_id"] for i in (6, 10))]
    assert all(row[0] == "" and row[5] == "EN: Thank you" and row[7] for row in rows[1:])


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_other_requesters_and_malformed_ids(
    server_url: str, db: Database, admin: Admin, web_requester: WebRequester
) -> None:
    operation_id = _start(server_url, web_requester.token, _items(_crew(db, admin, web_requester)))
    run_pending(db)
    url = f"/rewards/operations/{operation_id}"
    with page_client(server_url) as signed_out:
        answer = signed_out.get(url)
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/sign-in")
    stranger = create_web_requester(admin)
    with _signed_in(server_url, stranger) as client:
        for path in (url, f"{url}/failed.csv", f"{url}?x=1"):
            assert client.get(path).status_code == 404, path
        assert client.get(url, headers={"HX-Request": "true"}).status_code == 404
        for bad in ("x" * 65, "a%20b", "%3Cscript%3E", "..%2F..", "nope"):
            answer = client.get(f"/rewards/operations/{bad}")
            assert answer.status_code == 404, bad
            assert "<script>" not in answer.text
            assert client.get(f"/rewards/operations/{bad}/failed.csv").status_code == 404, bad
        recent = client.get("/rewards/operations")
        assert recent.status_code == 200
        assert operation_id not in recent.text
        assert "No operations yet" in recent.text
    with _signed_in(server_url, web_requester) as client:
        assert client.get(url).status_code == 200
        assert operation_id in client.get("/rewards/operations").text


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_all_or_nothing_batch_that_fails(
    server_url: str, db: Database, admin: Admin, web_requester: WebRequester
) -> None:
    """skip_invalid_items=false with invalid items: FAIL, the reason shown, nothing paid and
    no fee kept, every item in failed.csv (the valid ones with the operation's reason)."""
    before = balance_of(db, web_requester.id)
    operation_id = str(uuid.uuid4())
    with auth_client(server_url, web_requester.token) as api:
        items = _items(_crew(db, admin, web_requester))
        answer = post_bonuses(api, items, async_mode=True, skip_invalid_items=False, operation_id=operation_id)
    assert answer.status_code == 202, answer.text
    run_pending(db)
    url = f"/rewards/operations/{operation_id}"
    with _signed_in(server_url, web_requester) as client:
        page = client.get(url)
        failed_csv = client.get(f"{url}/failed.csv")
    assert _text(page.text, "operation-status") == "Failed"
    assert "Nothing is paid if any item is invalid" in page.text
    assert "skip_invalid_items is false" in page.text
    assert (_text(page.text, "paid-count"), _text(page.text, "failed-count")) == ("0", "11")
    assert (_text(page.text, "paid-total"), _text(page.text, "fee")) == ("$0.00", "$0.00")
    assert balance_of(db, web_requester.id) == before
    rows = list(csv.reader(io.StringIO(failed_csv.content.decode("utf-8-sig"))))[1:]
    assert len(rows) == 11
    assert sum(1 for row in rows if row[6] == "INVALID_ITEMS") == 8


@pytest.fixture
def worker(db: Database) -> Iterator[EmbeddedWorker]:
    """A worker thread as `crowdpost serve` runs one, started by the test when it wants."""
    embedded = EmbeddedWorker(db, 0.05)
    yield embedded
    embedded.stop()


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"op-{name}.png"), full_page=True)


def test_progress_bar_reaches_the_end_without_reload(
    page: Page,
    new_page: NewPage,
    server_url: str,
    db: Database,
    admin: Admin,
    web_requester: WebRequester,
    worker: EmbeddedWorker,
    db_url: str,
) -> None:
    operation_id = _start(server_url, web_requester.token, _items(_crew(db, admin, web_requester)))
    sign_in(page, server_url, web_requester.email, web_requester.password)
    page.goto(f"{server_url}/rewards/operations/{operation_id}")
    bar = page.get_by_role("progressbar", name="Items handled")
    expect(bar).to_have_attribute("value", "0")
    expect(page.locator("#operation-status")).to_have_text("Waiting to start")
    page.evaluate("window.loadedOnce = true")  # gone if the page were reloaded

    worker.start()
    expect(page.locator("#operation")).to_have_attribute("data-status", "SUCCESS")
    expect(bar).to_have_attribute("value", "100")
    expect(page.locator("#operation-count")).to_have_text("11 of 11 items handled (100%)")
    expect(page.locator("#paid-count")).to_have_text("8")
    expect(page.locator("#failed-count")).to_have_text("3")
    expect(page.locator("#operation-announce")).to_have_text("Finished: 8 paid, 3 failed.")
    expect(page.get_by_role("link", name="Refresh")).to_have_count(0)
    expect(page.locator("#account-balance")).to_contain_text(money(balance_of(db, web_requester.id)))
    assert page.evaluate("window.loadedOnce") is True
    link = page.get_by_role("link", name="Download failed items (CSV)")
    assert link.get_attribute("href") == f"/rewards/operations/{operation_id}/failed.csv"
    assert_accessible(page)
    if db_url.startswith("sqlite"):
        _shot(page, "desktop")
        phone = new_page(viewport=PHONE, is_mobile=True)
        sign_in(phone, server_url, web_requester.email, web_requester.password)
        phone.goto(f"{server_url}/rewards/operations/{operation_id}")
        expect(phone.locator("#paid-count")).to_have_text("8")
        assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert_accessible(phone)
        _shot(phone, "phone")
        phone.goto(f"{server_url}/rewards/operations")
        _shot(phone, "list-phone")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_without_javascript_refresh_shows_the_end(
    js_disabled_page: Page, server_url: str, db: Database, admin: Admin, web_requester: WebRequester
) -> None:
    page = js_disabled_page
    operation_id = _start(server_url, web_requester.token, _items(_crew(db, admin, web_requester)))
    sign_in(page, server_url, web_requester.email, web_requester.password)
    page.goto(f"{server_url}/rewards")
    page.get_by_role("link", name="Operations").click()
    page.get_by_role("link", name=re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d$")).first.click()
    assert page.url.endswith(f"/rewards/operations/{operation_id}")
    expect(page.locator("#operation-status")).to_have_text("Waiting to start")
    run_pending(db)
    page.get_by_role("link", name="Refresh").click()
    expect(page.locator("#operation-status")).to_have_text("Finished")
    expect(page.locator("#paid-count")).to_have_text("8")
    expect(page.get_by_role("progressbar", name="Items handled")).to_have_attribute("value", "100")
    expect(page.get_by_role("link", name="Refresh")).to_have_count(0)
