"""Rewards -> Pay a group (/rewards/group), over HTTP and in Chromium, on both backends.

- [x] the compose form's filter builder (skill + language) pays exactly the matching Tolokers;
      the preview's count, total, fee and balance after are what the API then pays (exact, with
      a fee); banned Tolokers are left out and counted
      (test_filter_started_and_pool_groups_pay_what_the_preview_says)
- [x] one async USER_BONUS.BATCH_CREATE operation: 303 to /rewards/operations/{id}; the API's
      operation reaches SUCCESS and its user-bonuses list one bonus per recipient
- [x] the same form submitted twice pays once (same operation, same bonuses)
- [x] "everyone who started at least N of your tasks" and "Tolokers of one pool", after it
- [x] refusals pay nothing and say why: no CSRF token, another requester's pool, a balance that
      does not cover it, a group larger than one async batch (the limit named in the preview)
      (test_refusals_pay_nothing)
- [x] without JavaScript (every HTTP test here posts as a browser without JS does): + Add filter,
      Remove, + Add group re-render the page; Preview shows the cost; Pay pays
- [x] in Chromium (test_in_chromium_live_preview_accessible): the live (htmx) preview, a problem
      beside its field, axe-core at 1280 and 375 px, screenshots /tmp/shots/group-*.png
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from crowdpost.config import Settings
from crowdpost.db import Database
from crowdpost.models import Operation
from crowdpost.rewards import group_bonus
from crowdpost.worker.loop import run_pending
from tests.fixtures.factories import Admin, create_project_and_pool, settings_for
from tests.rewards.helpers import balance_of, bonus_count
from tests.web.browser import (
    WebRequester,
    assert_accessible,
    create_web_requester,
    hidden_value,
    page_client,
    preview_settled,
    sign_in,
    sign_in_http,
    tolokers_who_worked,
)

SHOTS = Path("/tmp/shots")
FEE = Decimal("2.5")
SUMMARY = "[data-preview-summary]"


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    """A fee, so the preview's fee and the ledger's are both non-zero and must agree."""
    return settings_for(db_url, tmp_path, bonus_fee_percent=FEE)


@dataclass(frozen=True)
class Team:
    """`fit` (3 Tolokers) have the skill >= 80 and speak EN; `banned` too, but is banned;
    `slow` speaks EN with 50; `french` has 95 but speaks FR. All started 2 tasks in `pool_id`."""

    fit: list[str]
    banned: str
    slow: str
    french: str
    skill_id: str
    pool_id: str


def _api(server_url: str, who: WebRequester) -> httpx.Client:
    return httpx.Client(base_url=f"{server_url}/api/v1", headers={"Authorization": f"OAuth {who.token}"}, timeout=30)


@pytest.fixture
def team(db: Database, admin: Admin, server_url: str, web_requester: WebRequester) -> Team:
    en, fr = {"languages": ["EN"], "country": "GB"}, {"languages": ["FR"], "country": "FR"}
    crew = tolokers_who_worked(db, admin, web_requester.id, [en, en, en, en, en, fr])
    *fit, banned, slow, french = crew.toloker_ids
    with _api(server_url, web_requester) as api:
        skill = api.post("/skills", json={"name": "Good answers", "hidden": True})
        assert skill.status_code == 201, skill.text
        skill_id = skill.json()["id"]
        for uid, value in ((fit[0], 90), (fit[1], 85), (fit[2], 80), (banned, 95), (slow, 50), (french, 95)):
            answer = api.put("/user-skills", json={"skill_id": skill_id, "user_id": uid, "value": value})
            assert answer.status_code in (200, 201), answer.text
        ban = api.put("/user-restrictions", json={"scope": "ALL_PROJECTS", "user_id": banned})
        assert ban.status_code in (200, 201), ban.text
    return Team(fit, banned, slow, french, skill_id, crew.pool_id)


@contextlib.contextmanager
def _signed_in(server_url: str, who: WebRequester) -> Iterator[httpx.Client]:
    with page_client(server_url) as client:
        assert sign_in_http(client, who.email, who.password).status_code == 303
        yield client


def _fresh_form(client: httpx.Client) -> dict[str, Any]:
    """What a fresh /rewards/group carries: its CSRF token and its one-time form token."""
    shown = client.get("/rewards/group")
    assert shown.status_code == 200, shown.text
    return {"csrf_token": hidden_value(shown.text), "form_token": hidden_value(shown.text, "form_token")}


def _filter_fields(skill_id: str) -> dict[str, Any]:
    """One group, two rows: the skill at least 80 AND speaks EN (the builder's field names)."""
    return {
        "audience": "FILTER",
        "match": "and",
        "group": ["g0"],
        "group_match": ["and"],
        "row": ["r0", "r1"],
        "row_group": ["g0", "g0"],
        "key": [f"skill:{skill_id}", "languages"],
        "op": ["GTE", "EQ"],
        "value": ["80", "EN"],
    }


def _bonus_fields(amount: str) -> dict[str, Any]:
    return {"amount": amount, "lang": ["EN"], "title": ["Thank you"], "message": ["Great work this week"]}


def _operations(db: Database, requester_id: str) -> int:
    with db.transaction(write=False) as session:
        query = select(func.count()).select_from(Operation).where(Operation.requester_id == int(requester_id))
        return int(session.execute(query).scalar_one())


def _finish(db: Database, api: httpx.Client, operation_id: str) -> dict[str, Any]:
    """Runs the worker until the API says the operation is over; answers the operation."""
    for _ in range(20):
        run_pending(db)
        answer = api.get(f"/operations/{operation_id}")
        assert answer.status_code == 200, answer.text
        operation: dict[str, Any] = answer.json()
        if operation["status"] in ("SUCCESS", "FAIL"):
            return operation
    raise AssertionError(f"operation {operation_id} never finished")


def _paid(api: httpx.Client) -> dict[str, list[dict[str, Any]]]:
    """The API's bonuses, by Toloker."""
    items = api.get("/user-bonuses", params={"limit": 300}).json()["items"]
    found: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        found.setdefault(item["user_id"], []).append(item)
    return found


def _pay(client: httpx.Client, form: dict[str, Any]) -> str:
    """Posts Pay; answers the operation id the 303 names."""
    answer = client.post("/rewards/group", data={**form, "action": "pay"})
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    assert location == f"/rewards/operations/{form['form_token']}"
    return location.rsplit("/", 1)[-1]


def _text(html: str) -> str:
    """The page's words, whitespace collapsed (for phrases that span lines of the template)."""
    return " ".join(html.split())


def _build_without_javascript(client: httpx.Client) -> None:
    """The builder's buttons without JavaScript: each posts the form, which comes back changed
    (the whole page, not the htmx fragment), with what was typed kept."""
    form = {**_fresh_form(client), "audience": "STARTED", "amount": "1.5", "group": ["g0"]}
    added = client.post("/rewards/group/preview", data={**form, "action": "add_filter:g0"})
    assert added.status_code == 200
    assert 'id="key-r0"' in added.text  # a new row in group 1
    assert 'id="audience-filter" name="audience" value="FILTER" checked' in _text(added.text)
    assert 'value="1.5"' in added.text
    row = {"row": ["r0"], "row_group": ["g0"], "key": ["languages"], "op": ["EQ"], "value": [""]}
    removed = client.post("/rewards/group/preview", data={**form, **row, "action": "remove_filter:r0"})
    assert 'id="key-r0"' not in removed.text
    grouped = client.post("/rewards/group/preview", data={**form, **row, "action": "add_group"})
    assert 'id="key-r1"' in grouped.text
    assert "Group 2" in grouped.text
    # + Add language: a second title and message, in a language not used yet; Remove takes it away.
    texts = {"lang": ["EN"], "title": ["Thanks"], "message": ["Well done"]}
    more = client.post("/rewards/group/preview", data={**form, **texts, "action": "add_language"})
    assert 'id="title-1"' in more.text
    assert '<option value="ES" selected>' in more.text  # the first language not used yet
    assert 'value="Thanks"' in more.text
    two = {"lang": ["EN", "EN"], "title": ["Thanks", "Merci"], "message": ["Well done", "Bravo"]}
    same = client.post("/rewards/group/preview", data={**form, **two, "action": "check"})
    assert "Choose a language the message is not already written in." in same.text
    fewer = client.post("/rewards/group/preview", data={**form, **two, "action": "remove_language:1"})
    assert 'id="title-1"' not in fewer.text


def test_filter_started_and_pool_groups_pay_what_the_preview_says(
    server_url: str, db: Database, admin: Admin, web_requester: WebRequester, team: Team
) -> None:
    with _signed_in(server_url, web_requester) as client, _api(server_url, web_requester) as api:
        _build_without_javascript(client)
        form = {**_fresh_form(client), **_filter_fields(team.skill_id), **_bonus_fields("0.333")}
        form.update(lang=["EN", "FR"], title=["Thank you", "Merci"], message=["Great work", "Bon travail"])
        preview = client.post("/rewards/group/preview", data={**form, "action": "check"})
        assert preview.status_code == 200
        shown = _text(preview.text)
        # 3 x 0.333 = 0.999; fee 2.5% = 0.024975; 100 - 1.023975 = 98.976025 (exact, never a float)
        assert "3 Tolokers will be paid; 1 banned left out" in shown
        for element, value in (
            ("cost-total", "$0.999"),
            ("cost-fee", "$0.024975"),
            ("cost-cost", "$1.023975"),
            ("cost-after", "$98.976025"),
        ):
            assert f'id="{element}">{value}</dd>' in preview.text, element
        assert bonus_count(db, web_requester.id) == 0  # the preview pays nothing

        operation_id = _pay(client, form)
        again = client.post("/rewards/group", data={**form, "action": "pay"})  # a double submit
        assert again.status_code == 303
        assert again.headers["location"] == f"/rewards/operations/{operation_id}"

        operation = _finish(db, api, operation_id)
        assert operation["type"] == "USER_BONUS.BATCH_CREATE"
        assert operation["status"] == "SUCCESS", operation
        assert operation["details"]["success_count"] == 3
        paid = _paid(api)
        assert sorted(paid) == sorted(team.fit)  # exactly the matching ones: not banned, slow or french
        assert all(len(bonuses) == 1 for bonuses in paid.values())  # one each, the double submit paid once
        for (bonus,) in paid.values():
            assert Decimal(str(bonus["amount"])) == Decimal("0.333")
            assert bonus["public_title"] == {"EN": "Thank you", "FR": "Merci"}
            assert bonus["public_message"] == {"EN": "Great work", "FR": "Bon travail"}
        assert balance_of(db, web_requester.id) == Decimal("98.976025")
        assert _operations(db, web_requester.id) == 1

    # Everyone who started at least N tasks, and the Tolokers of one pool, over the same team.
    _pay_started_and_pool(server_url, db, admin, web_requester, team)


def _pay_started_and_pool(server_url: str, db: Database, admin: Admin, web_requester: WebRequester, team: Team) -> None:
    en = {"languages": ["EN"]}
    once, other_banned = tolokers_who_worked(db, admin, web_requester.id, [en, en], started=1).toloker_ids
    with _api(server_url, web_requester) as api:
        ban = api.put("/user-restrictions", json={"scope": "ALL_PROJECTS", "user_id": other_banned})
        assert ban.status_code in (200, 201), ban.text
    with _signed_in(server_url, web_requester) as client, _api(server_url, web_requester) as api:
        # Everyone who started at least 2 tasks: the team but `banned`; `once` started one.
        started = {**_fresh_form(client), "audience": "STARTED", "min_started": "2", **_bonus_fields("1")}
        preview = client.post("/rewards/group/preview", data={**started, "action": "check"})
        assert "5 Tolokers will be paid; 1 banned left out" in _text(preview.text)
        assert _finish(db, api, _pay(client, started))["status"] == "SUCCESS"
        assert sorted(_paid(api)) == sorted([*team.fit, team.slow, team.french])
        assert sum(len(b) for b in _paid(api).values()) == 3 + 5

        # The Tolokers of one pool (chosen from the requester's pools, listed in the form).
        shown = client.get("/rewards/group").text
        assert f'<option value="{team.pool_id}"' in shown
        pool = {**_fresh_form(client), "audience": "POOL", "pool_id": team.pool_id, **_bonus_fields("0.5")}
        pool["without_message"], pool["title"], pool["message"] = "true", [""], [""]
        preview = client.post("/rewards/group/preview", data={**pool, "action": "check"})
        assert "5 Tolokers will be paid; 1 banned left out" in _text(preview.text)
        assert _finish(db, api, _pay(client, pool))["status"] == "SUCCESS"
        paid = _paid(api)
        assert not {once, other_banned, team.banned} & set(paid)
        for uid, first in [(uid, [Decimal("0.333")]) for uid in team.fit] + [(team.slow, []), (team.french, [])]:
            amounts = sorted(Decimal(str(b["amount"])) for b in paid[uid])
            assert amounts == sorted([*first, Decimal("0.5"), Decimal("1")]), uid
            assert any(b["without_message"] for b in paid[uid])


def test_refusals_pay_nothing(
    server_url: str,
    db: Database,
    admin: Admin,
    web_requester: WebRequester,
    team: Team,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    other = create_web_requester(admin)
    _, foreign_pool = create_project_and_pool(db, other.id)
    with _signed_in(server_url, web_requester) as client:
        form = {**_fresh_form(client), **_filter_fields(team.skill_id), **_bonus_fields("1")}
        # Without the CSRF token (a cross-site post): refused before anything is read.
        assert client.post("/rewards/group", data={**form, "csrf_token": "", "action": "pay"}).status_code == 403

        # Another requester's pool: a clear error beside the pool, in the preview and at Pay.
        foreign = {**form, "audience": "POOL", "pool_id": foreign_pool}
        preview = client.post("/rewards/group/preview", data={**foreign, "action": "check"})
        assert "This pool is not one of yours" in preview.text
        refused = client.post("/rewards/group", data={**foreign, "action": "pay"})
        assert refused.status_code == 400
        assert "This pool is not one of yours" in refused.text

        # A group larger than one async batch: the preview names the limit; Pay refuses it whole.
        monkeypatch.setattr(group_bonus, "MAX_RECIPIENTS", 2)
        preview = client.post("/rewards/group/preview", data={**form, "action": "check"})
        assert "one payment takes at most 2 (the largest async batch)" in _text(preview.text)
        too_many = client.post("/rewards/group", data={**form, "action": "pay"})
        assert too_many.status_code == 413
        assert "one payment takes at most 2" in _text(too_many.text)
        monkeypatch.undo()

    # A balance that does not cover it: said on the page; nothing paid, nothing reserved.
    poor = create_web_requester(admin, balance="2.00")
    crew = tolokers_who_worked(db, admin, poor.id, [{"languages": ["EN"]}] * 3)
    with _signed_in(server_url, poor) as client:
        form = {**_fresh_form(client), "audience": "POOL", "pool_id": crew.pool_id, **_bonus_fields("1")}
        preview = client.post("/rewards/group/preview", data={**form, "action": "check"})
        assert 'id="cost-after">Not enough money</dd>' in preview.text
        answer = client.post("/rewards/group", data={**form, "action": "pay"})
        assert answer.status_code == 409
        assert "Not enough money: paying this group costs 3.075 and the balance is 2.00" in _text(answer.text)
        # The same token works once there is money: nothing was kept under it.
        admin.deposit(poor.id, "10.00")
        assert _pay(client, form) == form["form_token"]

    run_pending(db)
    assert bonus_count(db, web_requester.id) == 0
    assert _operations(db, web_requester.id) == 0
    assert balance_of(db, web_requester.id) == Decimal("100.00")
    assert bonus_count(db, other.id) == 0
    assert bonus_count(db, poor.id) == 3
    assert balance_of(db, poor.id) == Decimal("12.00") - Decimal("3.075")


def _shot(page: Page, name: str) -> None:
    """/tmp/shots/<name>.png of the whole page, from the top (a sticky header would otherwise be
    drawn mid-page)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True, animations="disabled")


def test_in_chromium_live_preview_accessible(
    page: Page,
    phone_page: Page,
    server_url: str,
    web_requester: WebRequester,
    team: Team,
) -> None:
    sign_in(page, server_url, web_requester.email, web_requester.password)
    page.goto(f"{server_url}/rewards/group")
    expect(page.get_by_role("link", name="Pay a group")).to_have_attribute("aria-current", "page")
    page.get_by_role("button", name="+ Add filter").click()  # compose.js adds the row in place
    row = page.locator("[data-groups] [data-row]").nth(0)
    row.get_by_label("Filter").select_option(label="Good answers (hidden)")
    row.get_by_label("Condition").select_option(label="is at least")
    row.get_by_label("Value").fill("80")
    # The preview that value asks for swaps feedback beside the rows, which moves the button
    # below them: a click racing that swap once landed beside the button and added no row.
    preview_settled(page)
    page.get_by_role("button", name="+ Add filter").click()
    second = page.locator("[data-groups] [data-row]").nth(1)
    second.get_by_label("Filter").select_option(label="Languages")
    second.get_by_label("Value").fill("EN")
    page.get_by_label("Amount, US dollars").fill("1.25")
    expect(page.locator(SUMMARY)).to_have_text("3 Tolokers will be paid; 1 banned left out")
    expect(page.locator("#cost-after")).to_have_text("$96.15625")
    preview_settled(page)
    _shot(page, "group-desktop")
    assert_accessible(page)

    # A problem shows beside its field, live; axe with it on the page.
    page.get_by_label("Amount, US dollars").fill("1.2345")
    expect(page.locator("#amount-feedback")).to_contain_text("more than 3 decimal places")
    preview_settled(page)
    assert_accessible(page)

    # Pay without a message: refused, the problem at the top and beside the field, values kept.
    page.get_by_label("Amount, US dollars").fill("1.25")
    with page.expect_navigation():
        page.get_by_role("button", name="Pay the group").click()
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("Enter a title, or tick Without message.")
    expect(summary).to_contain_text("Enter a message, or tick Without message.")
    expect(page.locator("#title-0-feedback")).to_contain_text("Enter a title")
    expect(page.locator(SUMMARY)).to_have_text("3 Tolokers will be paid; 1 banned left out")
    preview_settled(page)
    _shot(page, "group-error")
    assert_accessible(page)

    # Pay: the browser lands on the operation's progress page.
    page.get_by_label("Title", exact=True).fill("Thanks")
    page.get_by_label("Message", exact=True).fill("For the careful answers")
    form_token = page.locator("input[name=form_token]").get_attribute("value")
    with page.expect_navigation():
        page.get_by_role("button", name="Pay the group").click()
    assert page.url == f"{server_url}/rewards/operations/{form_token}"

    sign_in(phone_page, server_url, web_requester.email, web_requester.password)
    phone_page.goto(f"{server_url}/rewards/group")
    phone_page.get_by_label("Tolokers of one pool").check()
    phone_page.get_by_label("Pool", exact=True).select_option(team.pool_id)
    phone_page.get_by_label("Amount, US dollars").fill("0.5")
    expect(phone_page.locator(SUMMARY)).to_have_text("5 Tolokers will be paid; 1 banned left out")
    preview_settled(phone_page)
    _shot(phone_page, "group-phone")
    assert_accessible(phone_page)
    width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the page scrolls sideways at 375 px ({width} px wide)"
