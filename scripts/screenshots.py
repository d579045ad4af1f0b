"""`make screenshots`: the requester's pages as a person sees them, from the demo data.

Starts `crowdpost serve --demo` (development, SQLite in a temporary var dir, a free port on
127.0.0.1), signs in as the demo requester through the sign-in form, and writes
docs/screenshots/<page>-<desktop|phone>.png of: sign-in, Inbox, a thread, an appeal, compose
with a filter and its dry run, Rewards -> Pay a group with its cost, and search results, at
1280 px and 375 px width.

Debian's Chromium drives the pages (`make browser` installs it; never `playwright install`).
The API, with the demo token, only picks *which* thread to open; every picture is the page.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, Page, sync_playwright

from crowdpost.accounts.exposure import DEMO_PASSWORD
from crowdpost.accounts.tokens import DEMO_REQUESTER_TOKEN
from crowdpost.demo import DEMO_EMAIL

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
    }
    env.pop("CROWDPOST_ADMIN_TOKEN", None)  # the development default works on loopback
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
    """Which demo threads and words the pictures show (chosen through the API)."""

    thread_id: str
    appeal_id: str
    search_words: str


def pick_threads(base_url: str) -> Picks:
    headers = {"Authorization": f"OAuth {DEMO_REQUESTER_TOKEN}"}
    with httpx.Client(base_url=f"{base_url}/api/v1", headers=headers, timeout=30) as api:
        response = api.get("/message-threads", params={"folder": "INBOX", "limit": 300})
        response.raise_for_status()
        inbox: list[dict[str, Any]] = response.json()["items"]
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
    return Picks(thread_id=replies[0]["id"], appeal_id=appeals[0]["id"], search_words=max(words, key=len))


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


def shoot(page: Page, out: Path, name: str, width: Width) -> Path:
    path = out / f"{name}-{width.name}.png"
    # From the top: filling a form scrolls, and a sticky header would be drawn mid-page.
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(path), full_page=True, animations="disabled")
    return path


def take_all(browser: Browser, base_url: str, out: Path, picks: Picks) -> list[Path]:
    written = []
    for width in WIDTHS:
        context = browser.new_context(
            viewport={"width": width.viewport["width"], "height": width.viewport["height"]},
            is_mobile=width.mobile,
            has_touch=width.mobile,
            locale="en-GB",
            timezone_id="UTC",
            color_scheme="light",
        )
        context.set_default_timeout(15_000)
        page = context.new_page()
        try:
            page.goto(f"{base_url}/sign-in")
            written.append(shoot(page, out, "sign-in", width))
            sign_in(page, base_url)
            page.goto(f"{base_url}/messages?folder=INBOX")
            written.append(shoot(page, out, "inbox", width))
            page.goto(f"{base_url}/messages/{picks.thread_id}")
            written.append(shoot(page, out, "thread", width))
            page.goto(f"{base_url}/messages/{picks.appeal_id}")
            written.append(shoot(page, out, "appeal", width))
            compose_with_filter(page, base_url)
            written.append(shoot(page, out, "compose-filter", width))
            rewards_group(page, base_url)
            written.append(shoot(page, out, "rewards-group", width))
            page.goto(f"{base_url}/messages")
            page.get_by_role("searchbox").fill(picks.search_words)
            with page.expect_navigation():
                page.get_by_role("button", name="Search").click()
            written.append(shoot(page, out, "search", width))
        finally:
            context.close()
    return written


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
