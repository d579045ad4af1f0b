"""Fixtures for the page tests: one Chromium per session, a fresh guarded context per page,
and a requester who signs in on the live server (both backends, through `server_url`).

Every page a test opens runs under a `Guard`: a JS dialog, a console error, an uncaught
exception or a request to a host other than 127.0.0.1 fails the test (checked right after the
test body, so it is a failure of that test, not an error of some later teardown).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections.abc import Callable, Generator, Iterator
from typing import Any

import pytest

from tests.fixtures.backends import IN_CI

# Without the playwright package no test here can even be imported: skip the directory
# locally, fail the collection in CI (as `missing_component` does for one test).
if importlib.util.find_spec("playwright") is None:
    _REASON = "the playwright package is not installed (make install-dev)"
    if IN_CI:
        pytest.fail(f"required test component unavailable in CI: {_REASON}", pytrace=False)
    pytest.skip(_REASON, allow_module_level=True)

from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from tests.fixtures.backends import missing_component
from tests.fixtures.factories import Admin
from tests.web.browser import (
    CHROMIUM,
    DESKTOP,
    PHONE,
    Guard,
    WebRequester,
    create_web_requester,
    launch_chromium,
    new_guarded_page,
    sign_in,
)


@pytest.fixture(scope="session")
def playwright_session() -> Iterator[Playwright | str]:
    """The Playwright driver, or why it cannot run (reported by `browser` in each test)."""
    try:
        driver = sync_playwright().start()
    except Exception as exc:
        yield f"the Playwright driver did not start: {exc}"
        return
    try:
        yield driver
    finally:
        driver.stop()


@pytest.fixture(scope="session")
def _chromium(playwright_session: Playwright | str) -> Iterator[Browser | str]:
    if isinstance(playwright_session, str):
        yield playwright_session
        return
    if not os.access(CHROMIUM, os.X_OK):
        yield f"{CHROMIUM} is missing (make browser installs Debian's chromium)"
        return
    try:
        chromium = launch_chromium(playwright_session)
    except Exception as exc:
        yield f"Chromium did not start: {exc}"
        return
    yield chromium
    chromium.close()


@pytest.fixture
def browser(_chromium: Browser | str) -> Browser:
    """The session's Chromium; skips locally (fails in CI) when it cannot run."""
    if isinstance(_chromium, str):
        missing_component(_chromium)
    assert not isinstance(_chromium, str)
    return _chromium


@pytest.fixture
def guard() -> Iterator[Guard]:
    """The guard of every page this test opens; closes their contexts afterwards."""
    watch = Guard()
    yield watch
    for context in watch.contexts:
        context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """After the test body: a guarded page's dialog, console error, page error or foreign
    request fails the test, listed with the test's own failure if it had one."""
    try:
        outcome = yield
    finally:
        watch = getattr(item, "funcargs", {}).get("guard")
        if isinstance(watch, Guard):
            with contextlib.suppress(Exception):  # a closed page has nothing left to deliver
                watch.flush()
            problems = watch.problems()
            if problems:
                pytest.fail("the page guard saw:\n" + "\n".join(f"- {p}" for p in problems), pytrace=False)
    return outcome


NewPage = Callable[..., Page]


@pytest.fixture
def new_page(browser: Browser, guard: Guard) -> NewPage:
    """`new_page(viewport=DESKTOP, is_mobile=False, java_script_enabled=True, base_url=None)`:
    one more guarded page in a context of its own (e.g. a second session)."""

    def make(**options: Any) -> Page:
        return new_guarded_page(browser, guard, **options)

    return make


@pytest.fixture
def page(new_page: NewPage) -> Page:
    """A desktop page (1280x900)."""
    return new_page(viewport=DESKTOP)


@pytest.fixture
def phone_page(new_page: NewPage) -> Page:
    """A phone page (375x800, mobile, touch)."""
    return new_page(viewport=PHONE, is_mobile=True)


@pytest.fixture
def js_disabled_page(new_page: NewPage) -> Page:
    """A desktop page with JavaScript disabled: every form must still work."""
    return new_page(viewport=DESKTOP, java_script_enabled=False)


@pytest.fixture
def web_requester(admin: Admin) -> WebRequester:
    """A requester with an e-mail and a password (set through the operator's API)."""
    return create_web_requester(admin)


@pytest.fixture
def signed_in_page(page: Page, server_url: str, web_requester: WebRequester) -> Page:
    """`page`, signed in as `web_requester` and showing /messages."""
    sign_in(page, server_url, web_requester.email, web_requester.password)
    assert page.url.startswith(f"{server_url}/messages"), page.url
    return page


@pytest.fixture
def signed_in_phone_page(phone_page: Page, server_url: str, web_requester: WebRequester) -> Page:
    """`phone_page`, signed in as `web_requester` and showing /messages."""
    sign_in(phone_page, server_url, web_requester.email, web_requester.password)
    assert phone_page.url.startswith(f"{server_url}/messages"), phone_page.url
    return phone_page
