"""The cap on bulk (FILTER, ALL) messages per Toloker per requester per 7 days: who it leaves
out, what the dry run predicts, and `ignore_cap`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select, text, update

from crowdpost.db import Database
from crowdpost.kit.timefmt import utcnow
from crowdpost.models import RecipientOutcome
from tests.fixtures.factories import Admin, RequesterInfo, create_project_and_pool
from tests.messaging.helpers import compose_body, crew
from tests.messaging.test_outcomes import COMPOSE, by_user, recipients, send

CAP = 3  # the default setting


def country(code: str | list[str]) -> dict[str, Any]:
    if isinstance(code, list):
        return {"or": [country(one) for one in code]}
    return {"category": "profile", "key": "country", "operator": "EQ", "value": code}


def bulk_sends(client: httpx.Client, to: str, times: int) -> None:
    for n in range(times):
        send(client, compose_body("FILTER", recipients_filter=country(to), text={"EN": f"news {to} {n}"}))


@dataclass
class History:
    capped: str  # 3 bulk messages from this requester this week
    other_requesters: str  # 3 bulk messages this week, from another requester
    direct: str  # 3 direct messages from this requester this week
    last_week: str  # 3 bulk messages from this requester 8 days ago
    two: str  # 2 bulk messages from this requester this week
    fresh: str  # nothing


def make_history(
    client: httpx.Client, server_url: str, admin: Admin, db: Database, requester: RequesterInfo
) -> History:
    _, _, people = crew(
        db,
        admin,
        requester.id,
        [{"country": c} for c in ("FR", "ES", "GB", "DE", "IT", "GB")],
    )
    history = History(*people)
    bulk_sends(client, "FR", CAP)
    bulk_sends(client, "DE", CAP)
    bulk_sends(client, "IT", CAP - 1)
    for n in range(CAP):
        send(client, compose_body(recipients_ids=[history.direct], text={"EN": f"direct {n}"}))
    with db.transaction() as session:  # the DE sends happened 8 days ago
        session.execute(
            update(RecipientOutcome)
            .where(RecipientOutcome.user_id == history.last_week)
            .values(created=RecipientOutcome.created - timedelta(days=8))
        )
    other = admin.create_requester()
    _, pool = create_project_and_pool(db, other.id)
    admin.add_assignments([{"user_id": history.other_requesters, "pool_id": pool, "status": "SUBMITTED"}])
    with httpx.Client(base_url=server_url, headers={"Authorization": f"OAuth {other.token}"}) as theirs:
        bulk_sends(theirs, "ES", CAP)
    return history


def test_the_cap_leaves_out_exactly_the_tolokers_over_it_as_the_dry_run_said(
    requester_http: httpx.Client, server_url: str, admin: Admin, db: Database, requester: RequesterInfo
) -> None:
    h = make_history(requester_http, server_url, admin, db, requester)
    body = compose_body("ALL", text={"EN": "to everyone"})

    dry = requester_http.post(COMPOSE, json=body, params={"dry_run": "true"}).json()
    thread = send(requester_http, body)

    assert dry["excluded"]["capped"] == 1
    assert "3 bulk" in dry["excluded"]["capped_reason"]
    assert dry["recipients_count"] == 5
    assert by_user(recipients(requester_http, thread["id"])) == {
        h.capped: "LEFT_OUT_CAPPED",
        h.other_requesters: "DELIVERED",
        h.direct: "DELIVERED",
        h.last_week: "DELIVERED",
        h.two: "DELIVERED",
        h.fresh: "DELIVERED",
    }
    assert thread["outcomes"]["LEFT_OUT_CAPPED"] == dry["excluded"]["capped"]
    assert thread["outcomes"]["DELIVERED"] == dry["recipients_count"]
    # The ALL send was the IT Toloker's third bulk message this week: the next leaves them out too.
    again = requester_http.post(
        COMPOSE, json=compose_body("FILTER", recipients_filter=country(["FR", "IT"])), params={"dry_run": "true"}
    ).json()
    assert (again["excluded"]["capped"], again["recipients_count"]) == (2, 0)


def test_ignore_cap_works_for_filter_and_is_refused_for_all(
    requester_http: httpx.Client, server_url: str, admin: Admin, db: Database, requester: RequesterInfo
) -> None:
    _, _, (capped, fresh) = crew(db, admin, requester.id, [{"country": "FR"}, {"country": "GB"}])
    bulk_sends(requester_http, "FR", CAP)
    body = compose_body("FILTER", recipients_filter=country(["FR", "GB"]), text={"EN": "urgent"})

    dry = requester_http.post(COMPOSE, json=body, params={"dry_run": "true"}).json()
    dry_ignoring = requester_http.post(COMPOSE, json=body, params={"dry_run": "true", "ignore_cap": "true"}).json()
    ignoring = send(requester_http, body, ignore_cap="true")
    everyone = requester_http.post(COMPOSE, json=compose_body("ALL"), params={"ignore_cap": "true"})
    everyone_dry = requester_http.post(
        COMPOSE, json=compose_body("ALL"), params={"ignore_cap": "true", "dry_run": "true"}
    )

    assert (dry["recipients_count"], dry["excluded"]["capped"]) == (1, 1)
    assert (dry_ignoring["recipients_count"], dry_ignoring["excluded"]["capped"]) == (2, 0)
    assert by_user(recipients(requester_http, ignoring["id"])) == {capped: "DELIVERED", fresh: "DELIVERED"}
    for refused in (everyone, everyone_dry):
        assert refused.status_code == 400
        assert refused.json()["code"] == "VALIDATION_ERROR"
        assert refused.json()["payload"]["ignore_cap"]["code"] == "VALUE_NOT_ALLOWED"
        assert "FILTER" in refused.json()["message"]
    # The refused ALL used no quota: the day's one ALL send still goes out.
    assert requester_http.post(COMPOSE, json=compose_body("ALL")).status_code == 201


def test_direct_messages_and_replies_are_never_capped(
    requester_http: httpx.Client, admin: Admin, db: Database, requester: RequesterInfo
) -> None:
    _, _, (worker,) = crew(db, admin, requester.id, [{"country": "FR"}])
    bulk_sends(requester_http, "FR", CAP)
    direct = send(requester_http, compose_body(recipients_ids=[worker], text={"EN": "just you"}))
    assert by_user(recipients(requester_http, direct["id"])) == {worker: "DELIVERED"}
    bulk = requester_http.post(COMPOSE, json=compose_body("FILTER", recipients_filter=country("FR")))
    assert bulk.status_code == 400  # over the cap, nobody is left to receive it
    assert "bulk cap" in bulk.json()["message"]


def test_the_planner_setting_a_bulk_send_changes_is_put_back(db: Database, requester: RequesterInfo) -> None:
    """PostgreSQL: the send turns nested loops off for its cap statements only (`set_config`
    local to the transaction) and puts the setting back; the rest of the request plans as usual."""
    from crowdpost.messaging.repository import BulkCap, count_capped
    from crowdpost.models import RequesterToloker

    with db.transaction(write=False) as session:
        members = select(RequesterToloker.user_id).where(RequesterToloker.requester_id == int(requester.id))
        assert count_capped(session, int(requester.id), members, BulkCap.week(CAP, utcnow())) == 0
        if session.get_bind().dialect.name == "postgresql":
            assert session.execute(text("SELECT current_setting('enable_nestloop')")).scalar_one() == "on"
