"""/rewards/file: pay from a CSV in Chromium (issue 13).

- [x] 1,000 rows with 7 bad ones: exactly those 7 listed with their lines and reasons, the good
      rows' count, total, fee and balance after; pay; the worker finishes the operation; the
      same file again pays nothing (balance and ledger unchanged) and says so (both backends)
- [x] keyboard only: choose the file, upload, pay (SQLite)
- [x] axe on the upload page and the preview (SQLite)
- [x] an XSS corpus in cells stays inert in the preview; formula cells in the failed-rows CSV
      are escaped (SQLite)
- [x] another requester's file is a 404 (preview, pay, failed.csv); CSRF refusals change nothing
- [x] the upload's own body cap: a declared body over it is refused before it is read, while a
      body over the page cap (but under the file cap) reaches the handler
"""

from __future__ import annotations

import csv
import io
import socket
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import FilePayload, Page, expect
from sqlalchemy import func, select

from crowdpost.db import Database
from crowdpost.models import BonusFile, Operation
from crowdpost.worker.loop import run_pending
from tests.fixtures.factories import Admin, RequesterInfo
from tests.rewards.helpers import Crew, balance_of, bonus_count, ledger_kinds, make_crew
from tests.web.browser import (
    WebRequester,
    assert_accessible,
    create_web_requester,
    hidden_value,
    page_client,
    sign_in,
    sign_in_http,
    tab_to,
)

HEADER = "user_id,amount,assignment_id,title,message,private_comment"


def _crew_of(db: Database, admin: Admin, who: WebRequester, size: int) -> Crew:
    return make_crew(db, admin, RequesterInfo(id=who.id, token=who.token), size=size)


def _good_rows(crew: Crew, count: int) -> list[str]:
    people = len(crew.user_ids)
    return [f"{crew.user_ids[n % people]},0.01,,Thanks,Good work,row {n}" for n in range(count)]


def _csv_payload(name: str, content: bytes) -> FilePayload:
    return {"name": name, "mimeType": "text/csv", "buffer": content}


def _upload(page: Page, server_url: str, name: str, content: bytes) -> None:
    page.goto(f"{server_url}/rewards/file")
    page.set_input_files("#file", files=[_csv_payload(name, content)])
    page.get_by_role("button", name="Upload and preview").click()


def _operations(db: Database, requester_id: str) -> int:
    with db.transaction(write=False) as session:
        return int(
            session.execute(
                select(func.count()).select_from(Operation).where(Operation.requester_id == int(requester_id))
            ).scalar_one()
        )


def test_thousand_rows_seven_bad_paid_once(
    page: Page, server_url: str, db: Database, admin: Admin, web_requester: WebRequester
) -> None:
    crew = _crew_of(db, admin, web_requester, 40)
    rows = _good_rows(crew, 993)
    other_assignment = crew.assignment_ids[1]
    bad = {
        5: "no-such-toloker,0.01,,Thanks,Good work,x",
        100: f"{crew.user_ids[0]},0,,Thanks,Good work,zero",
        200: f"{crew.user_ids[0]},abc,,Thanks,Good work,text",
        300: f"{crew.user_ids[0]},1.0001,,Thanks,Good work,places",
        400: f"{crew.user_ids[0]},1000,,Thanks,Good work,too much",
        500: f"{crew.user_ids[0]},0.01,{other_assignment},Thanks,Good work,not his",
        600: rows[0],  # the same bonus as line 2
    }
    lines = [HEADER]
    good = iter(rows)
    for line in range(2, 1002):
        lines.append(bad.get(line) or next(good))
    assert len(lines) == 1001
    content = ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")

    sign_in(page, server_url, web_requester.email, web_requester.password)
    _upload(page, server_url, "june.csv", content)

    expect(page.locator("#good-count")).to_have_text("993")
    expect(page.locator("#bad-count")).to_have_text("7")
    cells = page.locator(".rewards-file__bad tbody tr td:first-child")
    expect(cells).to_have_count(7)
    assert cells.all_inner_texts() == [str(n) for n in sorted(bad)]
    problems = page.locator(".rewards-file__bad tbody").inner_text()
    assert "same bonus as line 2" in problems
    assert "no such Toloker" in problems
    assert "at least" in problems
    assert "amount must be a number such as 1.50" in problems  # line 200, "abc"
    assert "JSON" not in problems
    expect(page.locator("#total")).to_have_text("$9.93")
    expect(page.locator("#balance-after")).to_have_text("$90.07")
    assert bonus_count(db, web_requester.id) == 0  # the preview pays nothing

    page.get_by_role("button", name="Pay 993 rows (skip the bad ones)").click()
    expect(page.get_by_text("Payment started for 993 rows.")).to_be_visible()
    assert run_pending(db) >= 1
    page.reload()
    expect(page.get_by_role("status")).to_contain_text("SUCCESS")
    progress = page.get_by_role("link", name="See its progress")
    assert "/rewards/operations/" in (progress.get_attribute("href") or "")
    assert bonus_count(db, web_requester.id) == 993
    assert balance_of(db, web_requester.id) == Decimal("90.07")
    ledger = ledger_kinds(db, web_requester.id)

    # The failed rows as CSV: the 7 bad lines (the duplicate never reached the operation).
    href = page.get_by_role("link", name="Download the rows not paid (CSV)").get_attribute("href")
    with page_client(server_url) as client:
        assert sign_in_http(client, web_requester.email, web_requester.password).status_code == 303
        # The operation's failed-items CSV (kit/csv_export: UTF-8 with a byte order mark).
        failed = list(csv.reader(io.StringIO(client.get(href or "").content.decode("utf-8-sig"))))
    assert failed[0][0] == "line"
    assert sorted(int(r[0]) for r in failed[1:]) == sorted(set(bad) - {600})

    # The same file again: found, says it was paid, pays nothing.
    _upload(page, server_url, "june-again.csv", content)
    expect(page.get_by_text("This file was already paid.")).to_be_visible()
    expect(page.get_by_role("button", name="Pay 993 rows (skip the bad ones)")).to_have_count(0)
    with page_client(server_url) as client:
        assert sign_in_http(client, web_requester.email, web_requester.password).status_code == 303
        shown = client.get(urlsplit(page.url).path)
        again = client.post(f"{urlsplit(page.url).path}/pay", data={"csrf_token": hidden_value(shown.text)})
        assert again.status_code == 303
    run_pending(db)
    assert bonus_count(db, web_requester.id) == 993
    assert balance_of(db, web_requester.id) == Decimal("90.07")
    assert ledger_kinds(db, web_requester.id) == ledger
    assert _operations(db, web_requester.id) == 1


XSS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(2)>',
    "<svg onload=alert(3)>",
    "javascript:alert(4)",
]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_keyboard_axe_xss_and_formula_cells(
    page: Page, server_url: str, db: Database, admin: Admin, web_requester: WebRequester
) -> None:
    crew = _crew_of(db, admin, web_requester, 2)
    uid = crew.user_ids[0]
    lines = [HEADER, f"{crew.user_ids[1]},0.5,,Thanks,Well done,ok"]
    lines += [
        f'"{x.replace(chr(34), chr(34) * 2)}",0.01,,"{x.replace(chr(34), chr(34) * 2)}",m,{n}'
        for n, x in enumerate(XSS)
    ]
    lines += [f"{uid},0.01,,=HYPERLINK(1),+cmd,@sum", f"{uid},-1,,T,M,=2+2"]
    content = ("\r\n".join(lines) + "\r\n").encode("utf-8")

    sign_in(page, server_url, web_requester.email, web_requester.password)
    page.goto(f"{server_url}/rewards/file")
    assert_accessible(page)
    # Keyboard only: Tab to the file input, choose the file (the chooser is the browser's),
    # Tab to the button, Enter.
    tab_to(page, page.locator("#file"))
    page.locator("#file").set_input_files(files=[_csv_payload("x.csv", content)])
    tab_to(page, page.get_by_role("button", name="Upload and preview"))
    page.keyboard.press("Enter")
    expect(page.locator("#good-count")).to_have_text("2")
    assert_accessible(page)
    assert page.locator(".rewards-file__bad img, .rewards-file__bad svg, .rewards-file__bad script").count() == 0
    pay = page.get_by_role("button", name="Pay 2 rows (skip the bad ones)")
    tab_to(page, pay)
    page.keyboard.press("Enter")
    expect(page.get_by_text("Payment started for 2 rows.")).to_be_visible()
    run_pending(db)
    page.reload()
    href = page.get_by_role("link", name="Download the rows not paid (CSV)").get_attribute("href")
    with page_client(server_url) as client:
        assert sign_in_http(client, web_requester.email, web_requester.password).status_code == 303
        body = client.get(href or "")
        # The file's own failed.csv is the operation's.
        moved = client.get(f"{urlsplit(page.url).path}/failed.csv")
        assert (moved.status_code, moved.headers["location"]) == (303, href)
    assert body.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(body.text)))
    for row in rows[1:]:
        for cell in row:
            assert cell[:1] not in ("=", "+", "-", "@"), row
    assert [rows[-1][2], rows[-1][4]] == ["'-1", "'=2+2"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_other_requesters_and_csrf(server_url: str, db: Database, admin: Admin, web_requester: WebRequester) -> None:
    crew = _crew_of(db, admin, web_requester, 1)
    content = f"{HEADER}\r\n{crew.user_ids[0]},0.01,,,,\r\n".encode()
    with page_client(server_url) as client:
        assert sign_in_http(client, web_requester.email, web_requester.password).status_code == 303
        token = hidden_value(client.get("/rewards/file").text)
        refused = client.post("/rewards/file", files={"file": ("a.csv", content, "text/csv")})
        assert refused.status_code == 403
        wrong = client.post(
            "/rewards/file", data={"csrf_token": "nope"}, files={"file": ("a.csv", content, "text/csv")}
        )
        assert wrong.status_code == 403
        with db.transaction(write=False) as session:
            assert session.execute(select(func.count()).select_from(BonusFile)).scalar_one() == 0
        stored = client.post(
            "/rewards/file", data={"csrf_token": token}, files={"file": ("a.csv", content, "text/csv")}
        )
        assert stored.status_code == 303
        file_url = stored.headers["location"]
        assert client.post(f"{file_url}/pay").status_code == 403
        assert client.post(f"{file_url}/pay", data={"csrf_token": "nope"}).status_code == 403
    assert _operations(db, web_requester.id) == 0

    stranger = create_web_requester(admin)
    with page_client(server_url) as client:
        assert sign_in_http(client, stranger.email, stranger.password).status_code == 303
        token = hidden_value(client.get("/rewards/file").text)
        for path in (file_url, f"{file_url}/failed.csv", "/rewards/file/99999999", "/rewards/file/x"):
            assert client.get(path).status_code == 404, path
        assert client.post(f"{file_url}/pay", data={"csrf_token": token}).status_code == 404
    assert _operations(db, web_requester.id) == 0
    assert _operations(db, stranger.id) == 0
    assert bonus_count(db) == 0


def _raw_post(server_url: str, path: str, length: int) -> bytes:
    """Declares `length` body bytes and sends none: the answer must come before any is read."""
    parts = urlsplit(server_url)
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=30) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: multipart/form-data; boundary=x\r\n"
            f"Content-Length: {length}\r\nConnection: close\r\n\r\n".encode()
        )
        return sock.recv(256)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_upload_cap_is_checked_before_reading(server_url: str, web_requester: WebRequester) -> None:
    cap = 16 * 1024 * 1024
    assert _raw_post(server_url, "/rewards/file", cap + 1).startswith(b"HTTP/1.1 413")
    # Over the page cap (4 MB) but under the file cap: it reaches the handler (CSRF refuses it).
    big = b"x" * (5 * 1024 * 1024)
    with page_client(server_url) as client:
        assert sign_in_http(client, web_requester.email, web_requester.password).status_code == 303
        assert client.post("/rewards/file", files={"file": ("a.csv", big, "text/csv")}).status_code == 403
        # Every other page keeps the page cap.
        assert client.post("/rewards/file/1/pay", content=big).status_code == 413
