"""/rewards "Pay one Toloker", finished: the Toloker ID checked as typed, the assignment chosen
from that Toloker's assignments, "+ Add language".

- HTTP, both backends: the check fragment (GET /rewards/toloker-check) says what the compose
  form's To field says (unknown or never worked for you, banned, fine, not an ID) and lists
  only this requester's assignments of that Toloker; without JavaScript "Check cost" shows the
  same and fills the select; "+ Add language" / "Remove" re-render the pairs; a bonus in two
  languages reaches the Toloker in theirs, for the chosen assignment.
- Chromium, SQLite: typing the ID fills the message and the select through htmx; screenshots
  of the form at 1280 and 375 px (/tmp/shots/payone-*.png), axe on both.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from crowdpost.db import Database
from tests.fixtures.factories import Admin
from tests.messaging.helpers import toloker_client
from tests.web.browser import (
    PHONE,
    WebRequester,
    assert_accessible,
    create_web_requester,
    hidden_value,
    page_client,
    sign_in,
    sign_in_http,
    tolokers_who_worked,
)
from tests.web.conftest import NewPage

SHOTS = Path("/tmp/shots")


@pytest.fixture
def client(server_url: str, web_requester: WebRequester) -> Iterator[httpx.Client]:
    with page_client(server_url) as signed_in:
        assert sign_in_http(signed_in, web_requester.email, web_requester.password).status_code == 303
        yield signed_in


def _ban(server_url: str, token: str, user_id: str) -> None:
    with httpx.Client(base_url=f"{server_url}/api/v1", headers={"Authorization": f"OAuth {token}"}) as api:
        answer = api.put("/user-restrictions", json={"scope": "ALL_PROJECTS", "user_id": user_id})
    assert answer.status_code in (200, 201), answer.text


def _option_values(html: str) -> list[str]:
    select = re.search(r'<select[^>]*id="assignment_id".*?</select>', html, re.S)
    assert select, "no assignment select"
    return re.findall(r'<option value="([^"]*)"', select.group(0))


def _check_state(html: str) -> str | None:
    found = re.search(r'data-check="(\w+)"', html)
    return found.group(1) if found else None


def test_the_toloker_id_is_checked_and_the_assignments_listed(
    client: httpx.Client, server_url: str, web_requester: WebRequester, admin: Admin, db: Database
) -> None:
    crew = tolokers_who_worked(db, admin, web_requester.id, 2, started=2)
    worker, banned = crew.toloker_ids
    _ban(server_url, web_requester.token, banned)
    other = create_web_requester(admin)
    their_crew = tolokers_who_worked(db, admin, other.id, 1)
    (theirs,) = their_crew.toloker_ids
    # The worker also worked for the other requester: that assignment is not offered here.
    (foreign_assignment,) = admin.add_assignments(
        [{"user_id": worker, "pool_id": their_crew.pool_id, "status": "SUBMITTED"}]
    )
    stranger = admin.create_toloker()

    def check(user_id: str) -> httpx.Response:
        answer = client.get("/rewards/toloker-check", params={"user_id": user_id}, headers={"HX-Request": "true"})
        assert answer.status_code == 200
        return answer

    ok = check(worker)
    assert _check_state(ok.text) == "ok"
    assert "2 assignments" in ok.text
    assert 'hx-swap-oob="true"' in ok.text
    mine = [v for v in _option_values(ok.text) if v]
    assert len(mine) == 2
    assert foreign_assignment not in mine
    assert _check_state(check(banned).text) == "banned"
    for unknown in (theirs, stranger, "nobody-at-all"):
        answer = check(unknown)
        assert _check_state(answer.text) == "unknown"
        assert _option_values(answer.text) == [""]  # nothing to choose
    assert _check_state(check("not an id!").text) == "malformed"
    assert _check_state(check("").text) is None

    # Without JavaScript: "Check cost" shows the same message and fills the select.
    page_html = client.get("/rewards").text
    form = {
        "csrf_token": hidden_value(page_html),
        "form_token": hidden_value(page_html, "form_token"),
        "user_id": worker,
        "amount": "1.5",
        "lang": "EN",
        "title": "Thanks",
        "message": "Good work",
        "action": "check",
    }
    checked = client.post("/rewards/pay", data=form)
    assert checked.status_code == 200
    assert _check_state(checked.text) == "ok"
    assert _option_values(checked.text) == ["", *mine]
    unknown_page = client.post("/rewards/pay", data={**form, "user_id": theirs})
    assert _check_state(unknown_page.text) == "unknown"
    # Blank texts: the ID's and the amount's problems are listed with them, in one answer.
    every = client.post("/rewards/pay", data={**form, "action": "pay", "user_id": theirs, "amount": "abc", "title": ""})
    assert every.status_code == 400
    for field in ("user_id", "amount", "title-0"):
        assert f'id="{field}-error"' in every.text, field
    # Paying for another requester's assignment of the same Toloker is refused beside the field.
    refused = client.post("/rewards/pay", data={**form, "action": "pay", "assignment_id": foreign_assignment})
    assert refused.status_code == 400
    assert 'id="assignment_id-error"' in refused.text
    assert _option_values(refused.text) == ["", foreign_assignment, *mine]  # kept, so it can be seen


def test_add_language_and_pay_in_two_languages(
    client: httpx.Client, server_url: str, web_requester: WebRequester, admin: Admin, db: Database
) -> None:
    crew = tolokers_who_worked(db, admin, web_requester.id, [{"languages": ["FR"], "country": "FR"}])
    (toloker,) = crew.toloker_ids
    page_html = client.get("/rewards").text
    assert page_html.count('name="title"') == 1
    base = {
        "csrf_token": hidden_value(page_html),
        "form_token": hidden_value(page_html, "form_token"),
        "user_id": toloker,
        "amount": "0.75",
    }
    added = client.post("/rewards/pay", data={**base, "lang": "EN", "title": "Thanks", "action": "add_language"})
    assert added.status_code == 200
    assert added.text.count('name="title"') == 2
    assert 'value="Thanks"' in added.text  # what was typed stays
    second_lang = re.search(r'<select[^>]*id="lang-1".*?selected>', added.text, re.S)
    assert second_lang
    assert 'value="ES"' in second_lang.group(0)
    more = client.post("/rewards/pay", data={**base, "lang": ["EN", "ES"], "action": "add_language"})
    assert more.text.count('name="title"') == 3
    removed = client.post(
        "/rewards/pay",
        data={**base, "lang": ["EN", "ES", "DE"], "title": ["a", "b", "c"], "action": "remove_language:1"},
    )
    assert removed.text.count('name="title"') == 2
    assert 'value="c"' in removed.text
    assert 'value="b"' not in removed.text

    same = client.post(
        "/rewards/pay",
        data={**base, "lang": ["EN", "EN"], "title": ["Hi", "Hi"], "message": ["m", "m"], "action": "pay"},
    )
    assert same.status_code == 400
    assert "not already written in" in same.text

    assignment = [v for v in _option_values(client.post("/rewards/pay", data={**base, "action": "check"}).text) if v]
    paid = client.post(
        "/rewards/pay",
        data={
            **base,
            "assignment_id": assignment[0],
            "lang": ["EN", "FR"],
            "title": ["Thanks", "Merci"],
            "message": ["Good work", "Bon travail"],
        },
    )
    assert paid.status_code == 303, paid.text
    with toloker_client(server_url, admin, toloker) as api:
        (bonus,) = api.get("/bonuses").json()["items"]
    assert (bonus["title"], bonus["message"], bonus["assignment_id"]) == ("Merci", "Bon travail", assignment[0])


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_check_as_typed_in_chromium(
    page: Page, new_page: NewPage, server_url: str, web_requester: WebRequester, admin: Admin, db: Database
) -> None:
    crew = tolokers_who_worked(db, admin, web_requester.id, 1, started=3)
    (worker,) = crew.toloker_ids
    SHOTS.mkdir(exist_ok=True)
    phone = new_page(viewport=PHONE, is_mobile=True)
    for shown, width in ((page, "1280"), (phone, "375")):
        sign_in(shown, server_url, web_requester.email, web_requester.password)
        shown.goto(f"{server_url}/rewards")
        user_id = shown.get_by_label("Toloker ID", exact=True).first
        user_id.press_sequentially("nobody-here", delay=10)
        expect(shown.locator("#user_id-check")).to_contain_text("Unknown, or never worked for you")
        user_id.fill(worker)
        expect(shown.locator("#user_id-check")).to_contain_text("Worked for you")
        select = shown.get_by_label("Assignment (optional)")
        expect(select.locator("option")).to_have_count(4)  # "No assignment" and three
        select.select_option(index=1)
        shown.get_by_label("Amount, US dollars").fill("1")
        assert_accessible(shown)
        shown.screenshot(path=str(SHOTS / f"payone-{width}.png"), full_page=True)
    # One payment through the browser, the chosen assignment on the bonus page.
    chosen = page.get_by_label("Assignment (optional)").input_value()
    page.get_by_label("Without message").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Pay", exact=True).click()
    expect(page.get_by_role("main")).to_contain_text(chosen)
