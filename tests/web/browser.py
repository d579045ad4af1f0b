"""Helpers for the page tests: Chromium, the guard every page runs under, axe-core, sign-in,
and the test data a requester's pages show (Tolokers who worked, appeals, replies).

Fixtures live in tests/web/conftest.py; everything here is a plain function or class so that
the page tests, scripts/screenshots.py and benchmarks can share it.
"""

from __future__ import annotations

import contextlib
import itertools
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import httpx
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Dialog,
    Locator,
    Page,
    Playwright,
    Request,
    Response,
    Route,
    expect,
)
from playwright.sync_api import (
    TimeoutError as PlaywrightTimeoutError,
)

from crowdpost.db import Database
from crowdpost.web.form_token import COOKIE as FORM_TOKEN_COOKIE
from tests.fixtures.backends import missing_component
from tests.fixtures.factories import Admin
from tests.messaging.helpers import crew, toloker_client

CHROMIUM = "/usr/bin/chromium"
# Debian's Chromium, never `playwright install`; no background traffic to Google's hosts.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 800}
# The only host a page may talk to: the live test server binds loopback.
LOCAL_HOST = "127.0.0.1"
# A server's deliberate answer to a document request (a form re-rendered at 400, the CSRF 403,
# a cross-tenant 404, the lock-out 429) makes Chromium log "Failed to load resource"; that
# status is asserted by the test itself, so the guard lets it pass for main-frame documents.
_FAILED_LOAD = re.compile(r"^Failed to load resource: the server responded with a status of (\d{3})\b")


def launch_chromium(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


@dataclass
class Guard:
    """What must never happen on a page: a JS dialog, a console error, an uncaught exception,
    a request to another host. Attach it to every context a test opens; `problems()` lists
    what happened, and the conftest fails the test on any."""

    dialogs: list[str] = field(default_factory=list)
    console_errors: list[tuple[str, str]] = field(default_factory=list)  # (text, url)
    page_errors: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)
    # main-frame documents the server answered with a 4xx: (url, status)
    document_answers: set[tuple[str, int]] = field(default_factory=set)
    allowed: list[re.Pattern[str]] = field(default_factory=list)
    contexts: list[BrowserContext] = field(default_factory=list)

    def allow_console_error(self, pattern: str) -> None:
        """A console error this test provokes on purpose (a regex searched in its text)."""
        self.allowed.append(re.compile(pattern))

    def attach(self, context: BrowserContext) -> None:
        self.contexts.append(context)
        context.route("**/*", self._route)
        context.on("page", self._watch_page)
        context.on("response", self._response)
        for page in context.pages:
            self._watch_page(page)

    def _watch_page(self, page: Page) -> None:
        page.on("dialog", self._dialog)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.page_errors.append(f"{page.url}: {error}"))

    def _route(self, route: Route, request: Request) -> None:
        if urlsplit(request.url).hostname == LOCAL_HOST:
            route.continue_()
            return
        self.foreign_requests.append(f"{request.method} {request.url} (from {request.frame.url})")
        route.abort("blockedbyclient")

    def _response(self, response: Response) -> None:
        request = response.request
        if request.resource_type == "document" and 400 <= response.status < 500 and request.frame.parent_frame is None:
            self.document_answers.add((response.url, response.status))

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message!r} on {dialog.page.url if dialog.page else '?'}")
        dialog.dismiss()

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append((message.text, message.location.get("url", "")))

    def flush(self) -> None:
        """One round trip to every open page, so events the browser already sent are delivered."""
        for context in self.contexts:
            for page in context.pages:
                if not page.is_closed():
                    page.title()

    def _unexpected_console(self) -> list[str]:
        found = []
        for text, url in self.console_errors:
            status = _FAILED_LOAD.match(text)
            if status and (url, int(status.group(1))) in self.document_answers:
                continue
            if any(pattern.search(text) for pattern in self.allowed):
                continue
            found.append(f"{text} ({url})" if url else text)
        return found

    def problems(self) -> list[str]:
        return (
            [f"JS dialog: {d}" for d in self.dialogs]
            + [f"console error: {c}" for c in self._unexpected_console()]
            + [f"uncaught page error: {e}" for e in self.page_errors]
            + [f"request to another host: {r}" for r in self.foreign_requests]
        )


def new_guarded_page(
    browser: Browser,
    guard: Guard,
    *,
    viewport: dict[str, int] | None = None,
    is_mobile: bool = False,
    java_script_enabled: bool = True,
    base_url: str | None = None,
) -> Page:
    """A page in a fresh context (its own cookies) under `guard`. The caller closes the context."""
    size = viewport or DESKTOP
    context = browser.new_context(
        viewport={"width": size["width"], "height": size["height"]},
        is_mobile=is_mobile,
        has_touch=is_mobile,
        java_script_enabled=java_script_enabled,
        base_url=base_url,
        locale="en-GB",
        timezone_id="UTC",
    )
    # A ceiling, not a wait: a sign-in hashes with argon2id, which on a loaded 2-core CI
    # machine has taken over 10 s; a passing step returns as soon as it is done.
    context.set_default_timeout(30_000)
    expect.set_options(timeout=15_000)
    context.set_default_navigation_timeout(30_000)
    guard.attach(context)
    return context.new_page()


# --- accessibility ---------------------------------------------------------------------------

_BLOCKING_IMPACTS = ("serious", "critical")


_SETTLED = """() => !document.querySelector('.htmx-request, .htmx-added, .htmx-settling, .htmx-swapping')
    && document.getAnimations().every(
        (a) => a.playState !== 'running' || a.effect?.getComputedTiming().endTime === Infinity)"""


def settle(page: Page) -> None:
    """Waits (up to 10 s) until no htmx request is in flight and no finite transition runs: a
    preview faded while it reloads has, for that moment, too little contrast, and axe would
    report that moment. Endless animations (a spinner) never settle and are not waited for."""
    with contextlib.suppress(PlaywrightTimeoutError):  # then axe reports what it sees, as before
        page.wait_for_function(_SETTLED, timeout=10_000)


def preview_settled(page: Page) -> None:
    """No live preview on its way or due (a typed field asks for one 500 ms after the last
    key), none being swapped in, no fade running. Then axe does not measure the half-faded
    colours of a preview in flight, and a click does not land while a preview's notes move
    the control between its press and its release."""
    page.wait_for_timeout(700)  # the debounce: a preview due is then on its way
    settle(page)


def accessibility_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now (every impact)."""
    try:
        from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]
    except ImportError as exc:
        missing_component(f"axe-playwright-python is not installed (make install-dev): {exc}")
        raise  # missing_component skips or fails; this line is for the type checker
    settle(page)
    results = Axe().run(page)
    violations: list[dict[str, Any]] = results.response["violations"]
    return violations


def assert_accessible(page: Page) -> None:
    """Fails listing every serious or critical axe-core violation: rule, help, target selectors."""
    blocking = [v for v in accessibility_violations(page) if v.get("impact") in _BLOCKING_IMPACTS]
    if not blocking:
        return
    lines = [f"axe-core: {len(blocking)} serious/critical violation(s) on {page.url}"]
    for violation in blocking:
        lines.append(f"- {violation['id']} ({violation['impact']}): {violation['help']}")
        for node in violation.get("nodes", []):
            lines.append(f"    {' '.join(map(str, node.get('target', [])))}")
    raise AssertionError("\n".join(lines))


# --- requesters who sign in ------------------------------------------------------------------

_numbers = itertools.count(1)
DEFAULT_PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class WebRequester:
    """A requester with an e-mail and a password, created through the operator's API."""

    id: str
    token: str
    email: str
    password: str
    name: str


def set_password(admin: Admin, requester_id: str, password: str) -> None:
    response = admin.http.post(f"/api/admin/v1/requesters/{requester_id}/password", json={"password": password})
    assert response.status_code == 204, response.text


def create_web_requester(
    admin: Admin,
    *,
    balance: str = "100.00",
    name: str | None = None,
    email: str | None = None,
    password: str = DEFAULT_PASSWORD,
) -> WebRequester:
    number = next(_numbers)
    name = name or f"Web requester {number}"
    email = email or f"requester{number}@example.com"
    response = admin.http.post(
        "/api/admin/v1/requesters", json={"public_name": name, "balance": balance, "email": email}
    )
    assert response.status_code == 201, response.text
    data = response.json()
    set_password(admin, data["id"], password)
    return WebRequester(id=data["id"], token=data["token"], email=email, password=password, name=name)


SESSION_COOKIE = "crowdpost_session"


def fill_sign_in(page: Page, email: str, password: str) -> None:
    """Fills the sign-in form the page shows and submits it; waits for the page that follows."""
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()


def sign_in(page: Page, base_url: str, email: str, password: str) -> None:
    """Signs in through the sign-in form as a person does; waits for the page that follows."""
    page.goto(f"{base_url}/sign-in")
    fill_sign_in(page, email, password)


def session_cookie(page: Page) -> dict[str, Any] | None:
    """The browser's crowdpost_session cookie (name, value, httpOnly, secure, sameSite...), or None."""
    for cookie in page.context.cookies():
        if cookie.get("name") == SESSION_COOKIE:
            return dict(cookie)
    return None


def is_focused(page: Page, locator: Locator) -> bool:
    return bool(locator.evaluate("element => element === document.activeElement"))


def tab_to(page: Page, locator: Locator, *, max_presses: int = 40, key: str = "Tab") -> int:
    """Presses Tab (or `key`, e.g. "Shift+Tab") until `locator` has the focus, as a keyboard
    user does; fails when it never does. Answers how many presses it took."""
    for presses in range(1, max_presses + 1):
        page.keyboard.press(key)
        if is_focused(page, locator):
            return presses
    raise AssertionError(f"{locator} never got the focus in {max_presses} presses of {key}")


class _FieldParser(HTMLParser):
    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.values: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "input" and found.get("name") == self.name:
            self.values.append(found.get("value") or "")


def hidden_value(html: str, name: str = "csrf_token") -> str:
    """The value of the first <input name=...> in a page (the CSRF token by default)."""
    parser = _FieldParser(name)
    parser.feed(html)
    assert parser.values, f"no <input name={name!r}> in the page"
    return parser.values[0]


def post_sign_in(client: httpx.Client, data: dict[str, str], path: str = "/sign-in") -> httpx.Response:
    """Posts a sign-in form as a browser would: first GET the form (its pre-session CSRF
    token, in a cookie and a hidden field), then POST `data` with that token."""
    form = client.get(path, follow_redirects=False)
    token = hidden_value(form.text) if form.status_code == 200 else ""
    if "secure" in form.headers.get("set-cookie", "").lower():
        # An app whose public URL is https marks the cookie Secure; behind its TLS proxy the
        # browser sends it back, but this client talks plain HTTP to 127.0.0.1, so hand it on.
        client.cookies.set(FORM_TOKEN_COOKIE, form.cookies[FORM_TOKEN_COOKIE])
    return client.post(path, data={**data, "csrf_token": token}, follow_redirects=False)


def sign_in_http(client: httpx.Client, email: str, password: str) -> httpx.Response:
    """Signs `client` in through the form (no browser): answers the POST /sign-in response.
    On success the client holds the session cookie."""
    return post_sign_in(client, {"email": email, "password": password})


def page_client(base_url: str) -> httpx.Client:
    """A cookie-keeping client for page requests that does not follow redirects, so tests see them."""
    return httpx.Client(base_url=base_url, timeout=30, follow_redirects=False)


# --- what a requester's pages show -----------------------------------------------------------


@dataclass(frozen=True)
class Crew:
    """Tolokers who worked for a requester in one pool."""

    project_id: str
    pool_id: str
    toloker_ids: list[str]


def tolokers_who_worked(
    db: Database,
    admin: Admin,
    requester_id: str,
    profiles: list[dict[str, Any]] | int,
    *,
    started: int = 2,
) -> Crew:
    """Tolokers (one per profile, or that many default ones) who each started `started`
    tasks (SUBMITTED assignments) in a new project and pool of the requester."""
    people = [{} for _ in range(profiles)] if isinstance(profiles, int) else profiles
    project_id, pool_id, ids = crew(db, admin, requester_id, people, started=started)
    return Crew(project_id, pool_id, ids)


def rejected_assignment(admin: Admin, pool_id: str, toloker_id: str, *, days_ago: float = 1) -> str:
    """A REJECTED assignment of the Toloker, rejected `days_ago` days ago (appeals last 9 days)."""
    when = (datetime.now(UTC) - timedelta(days=days_ago)).replace(tzinfo=None).isoformat(timespec="milliseconds")
    (assignment_id,) = admin.add_assignments(
        [{"user_id": toloker_id, "pool_id": pool_id, "status": "REJECTED", "submitted": when, "rejected": when}]
    )
    return assignment_id


def open_appeal(server_url: str, admin: Admin, toloker_id: str, assignment_id: str, text: str) -> str:
    """The Toloker appeals the rejection through the Toloker API; answers the appeal thread's id."""
    with toloker_client(server_url, admin, toloker_id) as toloker:
        response = toloker.post(f"/assignments/{assignment_id}/appeal", json={"text": text})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def toloker_reply(server_url: str, admin: Admin, toloker_id: str, thread_id: str, text: str) -> str:
    """The Toloker replies to a thread through the Toloker API; answers the id of the thread
    the reply lands in (the Toloker's own thread with the requester)."""
    with toloker_client(server_url, admin, toloker_id) as toloker:
        response = toloker.post(f"/message-threads/{thread_id}/reply", json={"text": {"EN": text}})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def send_to_tolokers(
    server_url: str,
    token: str,
    toloker_ids: list[str],
    *,
    subject: str = "New instructions",
    text: str = "Please re-read the instructions.",
    answerable: bool = True,
) -> str:
    """A DIRECT message from the requester through the API; answers the Sent thread's id."""
    body = {
        "recipients_select_type": "DIRECT",
        "recipients_ids": toloker_ids,
        "topic": {"EN": subject},
        "text": {"EN": text},
        "answerable": answerable,
    }
    with httpx.Client(base_url=server_url, headers={"Authorization": f"OAuth {token}"}, timeout=30) as client:
        response = client.post("/api/v1/message-threads/compose", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])
