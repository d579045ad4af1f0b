"""The Rewards area under attack and under assistive technology (issue 13).

- XSS, Chromium (SQLite): the Messages page's corpus (tests/web/test_xss_pages.py) in bonus
  titles, messages and private comments (pay one), in the cells of an uploaded CSV (good rows
  paid, bad rows listed) and in a Toloker's reply stays inert on /rewards, /rewards/bonuses/{id},
  the file preview, /balance and the Toloker's /toloker/bonuses, inbox and threads. The guard
  (tests/web/conftest.py) fails the test on any dialog, console error or request to another
  host; `assert_inert` on any element or attribute the corpus could have brought.
- axe-core (serious/critical) on the same pages and on the upload page, at 1280 and 375 px.
- Keyboard only: from /rewards to "Pay from a file", upload, pay, to the paid result.
- The bonuses CSV export escapes formula cells (=, +, -, @), asserted on the real export
  (both backends).
- Roles (both backends): a Toloker session opens no requester page of the Rewards area
  (redirect to the requester sign-in) and pays nothing; a requester's cookie does not open
  /toloker/bonuses.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest
from playwright.sync_api import FilePayload, Page, expect

from crowdpost.db import Database
from crowdpost.web.requester.thread import message_html
from crowdpost.worker.loop import run_pending
from tests.fixtures.factories import Admin
from tests.web.browser import (
    DESKTOP,
    PHONE,
    WebRequester,
    assert_accessible,
    hidden_value,
    page_client,
    post_sign_in,
    send_to_tolokers,
    sign_in,
    sign_in_http,
    tab_to,
    toloker_reply,
    tolokers_who_worked,
)
from tests.web.conftest import NewPage
from tests.web.test_xss_pages import CORPUS, assert_inert

HEADER = ["user_id", "amount", "assignment_id", "title", "message", "private_comment"]
FORMULAS = ["=1+1", "+SUM(A1:A2)", "-2+3", "@SUM(A1)", '=HYPERLINK("https://evil.example","x")']


@contextmanager
def requester_http(server_url: str, who: WebRequester) -> Iterator[httpx.Client]:
    with page_client(server_url) as client:
        assert sign_in_http(client, who.email, who.password).status_code == 303
        yield client


@contextmanager
def toloker_http(server_url: str, token: str) -> Iterator[httpx.Client]:
    with page_client(server_url) as client:
        answer = post_sign_in(client, {"method": "token", "token": token}, path="/toloker/sign-in")
        assert answer.status_code == 303, answer.text
        yield client


def pay_one(client: httpx.Client, user_id: str, title: str, message: str, comment: str) -> httpx.Response:
    """One "Pay one Toloker" form, posted as the browser posts it."""
    shown = client.get("/rewards").text
    form = {
        "csrf_token": hidden_value(shown),
        "form_token": hidden_value(shown, "form_token"),
        "user_id": user_id,
        "amount": "0.01",
        "lang": "EN",
        "title": title,
        "message": message,
        "private_comment": comment,
        "action": "pay",
    }
    return client.post("/rewards/pay", data=form)


def csv_bytes(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    writer.writerows(rows)
    return buffer.getvalue().encode()


def upload(client: httpx.Client, name: str, content: bytes) -> str:
    """The preview page's path of an uploaded file."""
    token = hidden_value(client.get("/rewards/file").text)
    stored = client.post("/rewards/file", data={"csrf_token": token}, files={"file": (name, content, "text/csv")})
    assert stored.status_code == 303, stored.text
    return stored.headers["location"]


@dataclass(frozen=True)
class Hostile:
    """What the corpus was written into: bonus pages, a file preview, the Toloker's token."""

    bonus_paths: list[str]
    file_path: str
    toloker_token: str


@pytest.fixture
def hostile(db: Database, admin: Admin, server_url: str, web_requester: WebRequester) -> Hostile:
    (worker,) = tolokers_who_worked(db, admin, web_requester.id, 1).toloker_ids
    bonus_paths = []
    with requester_http(server_url, web_requester) as client:
        # The whole corpus in one bonus, then in the reverse order (each item after different text).
        for n, payload in enumerate((" ".join(CORPUS), " ".join(reversed(CORPUS)))):
            paid = pay_one(client, worker, f"T{n} {payload}", f"M{n} {payload}", f"C{n} {payload}")
            assert paid.status_code == 303, paid.text
            bonus_paths.append(paid.headers["location"])
        rows = [[worker, "0.01", "", f"F{n} {p}", f"G{n} {p}", f"P{n} {p}"] for n, p in enumerate(CORPUS)]
        rows += [[p, "0.01", "", p, p, p] for p in CORPUS]  # unknown Tolokers: listed as bad rows
        rows += [[worker, p, p, "t", "m", p] for p in CORPUS[:3]]  # bad amounts and assignments
        file_path = upload(client, "hostile.csv", csv_bytes(rows))
        preview = client.get(file_path)
        good = re.search(r'id="good-count"[^>]*>(\d+)<', preview.text)
        assert good is not None
        assert int(good.group(1)) == len(CORPUS)
        paid = client.post(f"{file_path}/pay", data={"csrf_token": hidden_value(preview.text)})
        assert paid.status_code == 303
    assert run_pending(db) >= 1
    thread = send_to_tolokers(server_url, web_requester.token, [worker], subject="Your bonus", text="Questions?")
    toloker_reply(server_url, admin, worker, thread, "R " + " ".join(CORPUS))
    return Hostile(bonus_paths, file_path, admin.toloker_token(worker))


def _toloker_sign_in(page: Page, server_url: str, token: str) -> None:
    page.goto(f"{server_url}/toloker/sign-in")
    page.get_by_label("Your API token").fill(token)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in", exact=True).click()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_corpus_is_inert_and_the_pages_accessible(
    new_page: NewPage, server_url: str, web_requester: WebRequester, hostile: Hostile
) -> None:
    for size, mobile in ((DESKTOP, False), (PHONE, True)):
        page = new_page(viewport=size, is_mobile=mobile)
        sign_in(page, server_url, web_requester.email, web_requester.password)
        page.goto(f"{server_url}/rewards")
        expect(page.get_by_test_id("bonus-row").first).to_be_visible()
        paths = ["/rewards", "/rewards/file", hostile.file_path, "/balance", *hostile.bonus_paths]
        for path in paths:
            page.goto(f"{server_url}{path}")
            assert_inert(page)
            if path != hostile.bonus_paths[-1]:
                assert_accessible(page)
        # The preview lists every bad row: the corpus as unknown Toloker IDs, bad amounts.
        page.goto(f"{server_url}{hostile.file_path}")
        expect(page.locator(".rewards-file__bad tbody tr")).to_have_count(len(CORPUS) + 3)
        # The payment's own page (its failed rows) too.
        progress = page.get_by_role("link", name="See its progress").get_attribute("href")
        assert progress
        page.goto(f"{server_url}{progress}")
        assert_inert(page)
        if mobile:
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

        toloker = new_page(viewport=size, is_mobile=mobile)
        _toloker_sign_in(toloker, server_url, hostile.toloker_token)
        threads = ["/toloker/messages"]
        threads += [
            "/toloker/messages/" + found
            for found in dict.fromkeys(re.findall(r'href="/toloker/messages/(\d+)', toloker.content()))
        ]
        assert len(threads) >= 2
        for path in ["/toloker/bonuses", *threads]:
            toloker.goto(f"{server_url}{path}")
            assert_inert(toloker)
            if path in ("/toloker/bonuses", "/toloker/messages"):
                assert_accessible(toloker)
        toloker.goto(f"{server_url}/toloker/bonuses")
        expect(toloker.locator("#bonuses tbody tr")).to_have_count(2 + len(CORPUS))


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_pay_from_a_file_with_the_keyboard_only(
    page: Page, server_url: str, web_requester: WebRequester, admin: Admin, db: Database
) -> None:
    crew = tolokers_who_worked(db, admin, web_requester.id, 2)
    rows = [[uid, "0.25", "", "Thanks", "Good work", ""] for uid in crew.toloker_ids]
    rows.append(["nobody-here", "0.25", "", "Thanks", "Good work", ""])
    payload: FilePayload = {"name": "june.csv", "mimeType": "text/csv", "buffer": csv_bytes(rows)}
    sign_in(page, server_url, web_requester.email, web_requester.password)
    page.goto(f"{server_url}/rewards")
    tab_to(page, page.get_by_role("link", name="Pay from a file"))
    with page.expect_navigation():
        page.keyboard.press("Enter")
    # The file chooser is the browser's own dialog: give the focused input its file.
    file_input = page.locator("#file")
    tab_to(page, file_input)
    page.locator("input[type=file]:focus").set_input_files(files=[payload])
    tab_to(page, page.get_by_role("button", name="Upload and preview"))
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.locator("#good-count")).to_have_text("2")
    expect(page.locator("#bad-count")).to_have_text("1")
    tab_to(page, page.get_by_role("button", name="Pay 2 rows (skip the bad ones)"), max_presses=80)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.get_by_text("Payment started for 2 rows.")).to_be_visible()
    assert run_pending(db) >= 1
    page.reload()
    expect(page.get_by_role("status")).to_contain_text("SUCCESS")
    page.goto(f"{server_url}/rewards")
    expect(page.get_by_test_id("bonus-row")).to_have_count(2)


def test_the_bonuses_export_escapes_formula_cells(
    db: Database, admin: Admin, server_url: str, web_requester: WebRequester
) -> None:
    (worker,) = tolokers_who_worked(db, admin, web_requester.id, 1).toloker_ids
    with requester_http(server_url, web_requester) as client:
        for formula in FORMULAS:
            assert pay_one(client, worker, formula, formula, formula).status_code == 303
        exported = client.get("/rewards/bonuses.csv")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert sorted(r["private_comment"] for r in rows) == sorted("'" + f for f in FORMULAS)
    for row in rows:
        for name, cell in row.items():
            assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r"), (name, cell)
    assert {r["public_title"] for r in rows} == {f"EN: {f}" for f in FORMULAS}


def test_roles_toloker_and_requester_sessions_stay_on_their_side(
    db: Database, admin: Admin, server_url: str, web_requester: WebRequester
) -> None:
    (worker,) = tolokers_who_worked(db, admin, web_requester.id, 1).toloker_ids
    with toloker_http(server_url, admin.toloker_token(worker)) as toloker:
        for path in ("/rewards", "/balance", "/rewards/file", "/rewards/bonuses.csv", "/rewards/toloker-check"):
            answer = toloker.get(path)
            assert answer.status_code == 303, path
            assert answer.headers["location"].startswith("/sign-in"), path
        # A form posted with the Toloker's own CSRF token pays nothing either.
        csrf = hidden_value(toloker.get("/toloker/messages").text)
        refused = toloker.post("/rewards/pay", data={"csrf_token": csrf, "user_id": worker, "amount": "1"})
        assert refused.status_code in (303, 403)
        assert toloker.get("/toloker/bonuses").status_code == 200
    with requester_http(server_url, web_requester) as requester:
        answer = requester.get("/toloker/bonuses")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/toloker/sign-in?next=/toloker/bonuses"
        assert requester.get("/balance").status_code == 200
    with httpx.Client(base_url=server_url, headers={"Authorization": f"OAuth {web_requester.token}"}) as api:
        assert api.get("/api/v1/user-bonuses").json()["items"] == []


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ('<img src=x onerror="alert(2)">', '<img alt="">'),  # an unnamed image: decorative
        ('<img alt="chart" src="https://tracker.example/p.gif">', '<img alt="chart">'),
        ('<img alt="chart"><img src=x>', '<img alt=""><img alt="">'),  # one unnamed: all decorative
        ('<b title="<img x>">t</b>', '<b title="&lt;img x&gt;">t</b>'),  # not an image
    ],
)
def test_shown_images_always_have_alt_text(stored: str, shown: str) -> None:
    """A bonus message (or any message) with an image and no alt text passes axe's image-alt."""
    assert str(message_html(stored)) == shown
