"""`make screenshots`: the requester's pages as a person sees them, from the demo data.

Starts `crowdpost serve --demo` (development, SQLite in a temporary var dir, a free port on
127.0.0.1), signs in as the demo requester through the sign-in form, and writes
docs/screenshots/<page>-<desktop|phone>.png of: sign-in, Inbox, a thread, an appeal, compose
with a filter and its dry run, Rewards -> Pay one Toloker (checked, with its cost) and Pay a
group with its cost, search results, Pay from a file (a small CSV with bad rows: the preview),
that file's operation once finished, the balance statement; then the demo Toloker's Inbox, a
conversation and bonuses (signed in with the demo Toloker token), and the operator's news page
with a preview (signed in with the operator token the script gives the server), at 1280 px and
375 px width.

Debian's Chromium drives the pages (`make browser` installs it; never `playwright install`).
The API, with the demo tokens, only picks *which* thread to open, which Tolokers go in the
file, and waits for the file's operation to finish; every picture is the page.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, FilePayload, Page, sync_playwright

from crowdpost.accounts.exposure import DEMO_PASSWORD
from crowdpost.accounts.tokens import DEMO_REQUESTER_TOKEN, DEMO_TOLOKER_TOKEN
from crowdpost.demo import DEMO_EMAIL, DEMO_TOLOKER_ID

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
# The same flags as the page tests (tests/web/browser.py): no traffic to any other host.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
START_TIMEOUT_S = 120  # migrations and the demo data come first
OPERATION_TIMEOUT_S = 120  # the file's few rows, paid by the server's embedded worker
# The operator token the demo server is started with (a fresh one each run; loopback only).
ADMIN_TOKEN = secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Width:
    name: str
    viewport: dict[str, int]
    mobile: bool


WIDTHS = (
    Width("desktop", {"width": 1280, "height": 900}, mobile=False),
    Width("phone", {"width": 375, "height": 800}, mobile=True),
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def crowdpost_command() -> list[str]:
    """The venv's `crowdpost` beside this interpreter, else the CLI through `-c`."""
    script = Path(sys.executable).with_name("crowdpost")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from crowdpost.cli import app; app()"]


@contextlib.contextmanager
def demo_server(var_dir: Path, log_path: Path) -> Iterator[str]:
    """`crowdpost serve --demo` on a free loopback port; yields its base URL once ready."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "CROWDPOST_ENVIRONMENT": "development",
        "CROWDPOST_VAR_DIR": str(var_dir),
        "CROWDPOST_DATABASE_URL": "",  # SQLite under the var dir
        "CROWDPOST_PUBLIC_URL": base_url,
        "CROWDPOST_LOG_JSON": "false",
        "CROWDPOST_ADMIN_TOKEN": ADMIN_TOKEN,
    }
    command = [*crowdpost_command(), "serve", "--host", "127.0.0.1", "--port", str(port), "--demo"]
    with log_path.open("wb") as log:
        # our own CLI with fixed arguments
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=var_dir)  # noqa: S603
        try:
            _wait_ready(process, base_url, log_path)
            yield base_url
        finally:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_ready(process: subprocess.Popen[bytes], base_url: str, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"crowdpost serve exited with {process.returncode}:\n{log_path.read_text()}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                return
        time.sleep(0.2)  # polling a starting process; nothing else to wait on
    raise SystemExit(f"crowdpost serve was not ready within {START_TIMEOUT_S} s:\n{log_path.read_text()}")


@dataclass(frozen=True)
class Picks:
    """Which demo threads, words and Tolokers the pictures show (chosen through the API)."""

    thread_id: str
    appeal_id: str
    search_words: str
    toloker_thread_id: str
    workers: list[str]  # Tolokers who worked for the demo requester, the demo Toloker first


def requester_api(base_url: str) -> httpx.Client:
    headers = {"Authorization": f"OAuth {DEMO_REQUESTER_TOKEN}"}
    return httpx.Client(base_url=f"{base_url}/api/v1", headers=headers, timeout=30)


def pick_threads(base_url: str) -> Picks:
    with requester_api(base_url) as api:
        response = api.get("/message-threads", params={"folder": "INBOX", "limit": 300})
        response.raise_for_status()
        inbox: list[dict[str, Any]] = response.json()["items"]
        response = api.get("/assignments", params={"limit": 300})
        response.raise_for_status()
        assignments: list[dict[str, Any]] = response.json()["items"]
    # An open appeal shows its deadline and "Accept responses": not yet answered by the platform.
    appeals = sorted(
        (t for t in inbox if t.get("appeal_deadline")),
        key=lambda t: any(m.get("from", {}).get("role") == "SYSTEM" for m in t.get("messages", [])),
    )
    # A conversation with a Toloker, several messages if there is one.
    replies = sorted(
        (t for t in inbox if not t.get("appeal_deadline") and _with_toloker(t)),
        key=lambda t: len(t.get("messages", [])),
        reverse=True,
    )
    if not appeals or not replies:
        raise SystemExit("the demo data has no appeal or no Toloker conversation in the Inbox")
    topic = replies[0]["topic"]
    words = (topic.get("EN") or next(iter(topic.values()))).split()
    workers = list(dict.fromkeys([DEMO_TOLOKER_ID, *(a["user_id"] for a in assignments)]))
    return Picks(
        thread_id=replies[0]["id"],
        appeal_id=appeals[0]["id"],
        search_words=max(words, key=len),
        toloker_thread_id=pick_toloker_thread(base_url),
        workers=workers,
    )


def pick_toloker_thread(base_url: str) -> str:
    """The demo Toloker's longest conversation (their own replies in it)."""
    headers = {"Authorization": f"OAuth {DEMO_TOLOKER_TOKEN}"}
    with httpx.Client(base_url=f"{base_url}/api/toloker/v1", headers=headers, timeout=30) as api:
        response = api.get("/message-threads", params={"limit": 300})
        response.raise_for_status()
        threads: list[dict[str, Any]] = response.json()["items"]
    if not threads:
        raise SystemExit("the demo Toloker has no message thread")
    return str(max(threads, key=lambda t: len(t.get("messages", [])))["id"])


def _with_toloker(thread: dict[str, Any]) -> bool:
    return any(person.get("role") == "USER" for person in thread.get("interlocutors", []))


def sign_in(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/sign-in")
    page.get_by_label("E-mail").fill(DEMO_EMAIL)
    page.get_by_label("Password", exact=True).fill(DEMO_PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    if "/sign-in" in page.url:
        raise SystemExit(f"the demo requester could not sign in (still on {page.url})")


def compose_with_filter(page: Page, base_url: str) -> None:
    """Compose to a Group of Tolokers (language and country filters) and wait for its dry run."""
    page.goto(f"{base_url}/messages/compose")
    page.get_by_label("Group of Tolokers").check()
    add = page.get_by_role("button", name="+ Add filter")
    for index, (key, value) in enumerate((("Languages", "EN"), ("Country", "GB"))):
        add.click()
        row = page.locator("[data-groups] [data-row]").nth(index)
        row.get_by_label("Filter").select_option(label=key)
        row.get_by_label("Condition").select_option(label="is")
        row.get_by_label("Value").fill(value)
    page.get_by_label("Subject", exact=True).fill("New guidelines for the sentiment project")
    page.get_by_label("Message text", exact=True).fill(
        "We updated the examples in the instructions. Please read them before your next task."
    )
    page.get_by_label("Allows replies").check()
    page.locator("[data-preview-summary]").get_by_text("will receive this").wait_for()


def rewards_group(page: Page, base_url: str) -> None:
    """Rewards -> Pay a group: everyone who started at least 2 tasks, $0.50 each, with its cost."""
    page.goto(f"{base_url}/rewards/group")
    page.get_by_label("Everyone who started at least N of your tasks").check()
    page.get_by_label("Amount, US dollars").fill("0.5")
    page.get_by_label("Title", exact=True).fill("Thank you")
    page.get_by_label("Message", exact=True).fill("Thanks for the careful work this month.")
    page.locator("#cost-after").wait_for()
    page.wait_for_timeout(700)  # the preview asked for 500 ms after the last key


def pay_one_checked(page: Page, base_url: str) -> None:
    """Rewards -> Pay one Toloker: the demo Toloker checked as typed, an assignment, a message, and
    "Check cost" pressed (a plain form post) so the cost and the balance after show."""
    page.goto(f"{base_url}/rewards")
    page.locator("#user_id").fill(DEMO_TOLOKER_ID)  # the past-bonuses filter has the same label
    page.locator("#user_id-check [data-check=ok]").wait_for()
    page.locator("#assignment_id option").nth(1).wait_for(state="attached")
    page.get_by_label("Assignment (optional)").select_option(index=1)
    page.get_by_label("Amount, US dollars").fill("0.75")
    page.get_by_label("Title", exact=True).fill("Thank you for the careful labels")
    page.get_by_label("Message", exact=True).fill("Your answers on the street-sign pool were the most accurate.")
    with page.expect_navigation():
        page.get_by_role("button", name="Check cost", exact=True).click()
    page.get_by_test_id("cost").wait_for()


def bonus_csv(workers: list[str]) -> bytes:
    """Ten rows: seven good ones (the demo Toloker first) and three bad ones, on lines 4, 7, 10."""
    rows: list[list[str]] = [["user_id", "amount", "assignment_id", "title", "message", "private_comment"]]
    good = iter(workers)
    amounts = iter(["1.50", "0.50", "0.50", "0.75", "0.25", "1.00", "0.50"])
    title, text = "December accuracy bonus", "Thank you: your answers this month were among the most accurate."
    for line in range(2, 12):
        if line == 4:
            rows.append(["nobody-worked-here-0042", "0.50", "", title, text, "typo in the ID"])
        elif line == 7:
            rows.append([next(good), "1,5O", "", title, text, "amount typed by hand"])
        elif line == 10:
            rows.append([next(good), "250", "", title, text, "above the limit"])
        else:
            rows.append([next(good), next(amounts), "", title, text, "december-accuracy"])
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode()


def upload_file(page: Page, base_url: str, content: bytes) -> str:
    """Pay from a file: upload the CSV; returns the URL of its preview."""
    page.goto(f"{base_url}/rewards/file")
    upload: FilePayload = {"name": "december-bonuses.csv", "mimeType": "text/csv", "buffer": content}
    page.get_by_label("CSV file").set_input_files(files=[upload])
    with page.expect_navigation():
        page.get_by_role("button", name="Upload and preview").click()
    if "/rewards/file/" not in page.url:
        raise SystemExit(f"the CSV was not taken (still on {page.url})")
    return page.url


def pay_file(page: Page, base_url: str, preview_url: str) -> str:
    """Pays the file's good rows from its preview; waits (through the API) until the operation
    has finished and returns the URL of its page."""
    page.goto(preview_url)
    with page.expect_navigation():
        page.get_by_role("button", name="Pay ").click()
    href = page.get_by_role("link", name="See its progress").get_attribute("href")
    if not href:
        raise SystemExit("the file's page names no operation after paying")
    operation_id = href.rsplit("/", 1)[-1]
    deadline = time.monotonic() + OPERATION_TIMEOUT_S
    with requester_api(base_url) as api:
        while time.monotonic() < deadline:
            response = api.get(f"/operations/{operation_id}")
            response.raise_for_status()
            if response.json()["status"] in ("SUCCESS", "FAIL"):
                return f"{base_url}{href}"
            time.sleep(0.3)  # the embedded worker pays it; nothing else to wait on
    raise SystemExit(f"operation {operation_id} did not finish within {OPERATION_TIMEOUT_S} s")


def toloker_sign_in(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/toloker/sign-in")
    page.get_by_label("Your API token").fill(DEMO_TOLOKER_TOKEN)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in", exact=True).click()
    if "/sign-in" in page.url:
        raise SystemExit(f"the demo Toloker could not sign in (still on {page.url})")


def admin_news(page: Page, base_url: str) -> None:
    """The operator's news page: a message to every requester, with its preview."""
    page.goto(f"{base_url}/admin/news")
    page.get_by_label("Subject").fill("Scheduled maintenance on Sunday")
    page.get_by_label("Message text").fill(
        "<p>The platform is read-only on <b>Sunday from 02:00 to 03:00 UTC</b>.</p>\n"
        "<ul>\n  <li>Bonuses paid before then are not affected.</li>\n"
        "  <li>Messages wait and go out after.</li>\n</ul>"
    )
    with page.expect_navigation():
        page.get_by_role("button", name="Preview").click()
    page.locator("#preview-title").wait_for()


def admin_sign_in(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/admin/sign-in")
    page.get_by_label("Operator token").fill(ADMIN_TOKEN)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in", exact=True).click()
    if "/sign-in" in page.url:
        raise SystemExit(f"the operator could not sign in (still on {page.url})")


def shoot(page: Page, out: Path, name: str, width: Width) -> Path:
    path = out / f"{name}-{width.name}.png"
    # A full-page shot draws sticky elements where the last scroll left them (the header in
    # the middle of a filled form): at the top, with sticky ones laid out in place for the shot.
    page.evaluate("window.scrollTo({top: 0, left: 0, behavior: 'instant'})")
    page.evaluate(_UNSTICK)
    page.screenshot(path=str(path), full_page=True, animations="disabled")
    page.evaluate(_RESTICK)
    return path


# Through the CSSOM (a script evaluated by the driver; the pages' CSP forbids inline styles).
_UNSTICK = """() => { for (const el of document.querySelectorAll('*')) {
  if (getComputedStyle(el).position === 'sticky') { el.dataset.shotSticky = '1'; el.style.position = 'static'; }
} }"""
_RESTICK = """() => { for (const el of document.querySelectorAll('[data-shot-sticky]')) {
  el.style.position = ''; delete el.dataset.shotSticky;
} }"""


@contextlib.contextmanager
def browser_page(browser: Browser, width: Width) -> Iterator[Page]:
    """One browser context (its own cookies) at this width."""
    context = browser.new_context(
        viewport={"width": width.viewport["width"], "height": width.viewport["height"]},
        is_mobile=width.mobile,
        has_touch=width.mobile,
        locale="en-GB",
        timezone_id="UTC",
        color_scheme="light",
    )
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()


class Shots:
    """One page per width, side by side: each step is played and shot at every width before the
    next one, so what a step changes (read marks, a payment) shows the same at both widths."""

    def __init__(self, pages: list[tuple[Width, Page]], out: Path, written: list[Path]) -> None:
        self.pages = pages
        self.out = out
        self.written = written

    def each(self, name: str, action: Callable[[Page], object]) -> None:
        for width, page in self.pages:
            action(page)
            self.written.append(shoot(page, self.out, name, width))


def take_all(browser: Browser, base_url: str, out: Path, picks: Picks) -> list[Path]:
    written: list[Path] = []
    with contextlib.ExitStack() as stack:
        pages = [(width, stack.enter_context(browser_page(browser, width))) for width in WIDTHS]
        shots = Shots(pages, out, written)
        shots.each("sign-in", lambda page: page.goto(f"{base_url}/sign-in"))
        for _width, page in pages:
            sign_in(page, base_url)
        shots.each("inbox", lambda page: page.goto(f"{base_url}/messages?folder=INBOX"))
        shots.each("thread", lambda page: page.goto(f"{base_url}/messages/{picks.thread_id}"))
        shots.each("appeal", lambda page: page.goto(f"{base_url}/messages/{picks.appeal_id}"))
        shots.each("compose-filter", lambda page: compose_with_filter(page, base_url))
        shots.each("rewards-one", lambda page: pay_one_checked(page, base_url))
        shots.each("rewards-group", lambda page: rewards_group(page, base_url))
        shots.each("search", lambda page: search(page, base_url, picks.search_words))
        first = pages[0][1]
        preview_url = upload_file(first, base_url, bonus_csv(picks.workers))
        shots.each("rewards-file", lambda page: page.goto(preview_url))
        operation_url = pay_file(first, base_url, preview_url)
        shots.each("rewards-operation", lambda page: page.goto(operation_url))
        shots.each("balance", lambda page: page.goto(f"{base_url}/balance"))
    with contextlib.ExitStack() as stack:
        pages = [(width, stack.enter_context(browser_page(browser, width))) for width in WIDTHS]
        shots = Shots(pages, out, written)
        for _width, page in pages:
            toloker_sign_in(page, base_url)
        shots.each("toloker-inbox", lambda page: page.goto(f"{base_url}/toloker/messages"))
        shots.each("toloker-thread", lambda page: page.goto(f"{base_url}/toloker/messages/{picks.toloker_thread_id}"))
        shots.each("toloker-bonuses", lambda page: page.goto(f"{base_url}/toloker/bonuses"))
    with contextlib.ExitStack() as stack:
        pages = [(width, stack.enter_context(browser_page(browser, width))) for width in WIDTHS]
        shots = Shots(pages, out, written)
        for _width, page in pages:
            admin_sign_in(page, base_url)
        shots.each("admin-news", lambda page: admin_news(page, base_url))
    return written


def search(page: Page, base_url: str, words: str) -> None:
    page.goto(f"{base_url}/messages")
    page.get_by_role("searchbox").fill(words)
    with page.expect_navigation():
        page.get_by_role("button", name="Search").click()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots", help="where the PNGs go")
    args = parser.parse_args(argv)
    if not os.access(CHROMIUM, os.X_OK):
        print(f"{CHROMIUM} is missing: run `make browser` (as root) first", file=sys.stderr)
        return 2
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="crowdpost-screenshots-") as tmp:
        var_dir = Path(tmp)
        with demo_server(var_dir, var_dir / "serve.log") as base_url, sync_playwright() as playwright:
            picks = pick_threads(base_url)
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                written = take_all(browser, base_url, out, picks)
            finally:
                browser.close()
    for path in written:
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
