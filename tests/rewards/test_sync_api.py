"""`POST /user-bonuses` in synchronous mode, through a live server, on both backends."""

from __future__ import annotations

from decimal import Decimal

import httpx

from crowdpost.app import create_app
from crowdpost.config import Settings
from crowdpost.db import Database
from tests.fixtures.factories import Admin
from tests.fixtures.live_server import serve_in_thread
from tests.rewards.helpers import (
    BONUSES,
    Crew,
    auth_client,
    balance_of,
    bonus,
    bonus_count,
    codes,
    ledger_kinds,
    make_crew,
    paid_total,
    post_bonuses,
)


def test_single_bonus_is_paid_and_returned(client: httpx.Client, crew: Crew, db: Database) -> None:
    body = bonus(crew.user_ids[0], "1.50", private_comment="Good job!", assignment_id=crew.assignment_ids[0])

    response = post_bonuses(client, body)

    assert response.status_code == 201, response.text
    paid = response.json()
    assert paid["user_id"] == crew.user_ids[0]
    assert paid["amount"] == 1.5
    assert '"amount":1.50' in response.text  # exact decimal on the wire
    assert paid["private_comment"] == "Good job!"
    assert paid["public_title"] == {"EN": "Thank you"}
    assert paid["without_message"] is False
    assert paid["assignment_id"] == crew.assignment_ids[0]
    assert len(paid["id"]) == 12
    assert paid["created"]
    assert balance_of(db, crew.requester.id) == Decimal("98.50")
    assert client.get(f"{BONUSES}/{paid['id']}").json() == paid


def test_amounts_floats_cannot_represent_are_exact(
    client: httpx.Client, crew: Crew, db: Database, admin: Admin
) -> None:
    admin.deposit(crew.requester.id, "400")
    amounts = ["0.001", "0.007", "99.999", "0.1", "100"]
    items = [bonus(uid, amount) for amount in amounts for uid in crew.user_ids[:2]]

    response = post_bonuses(client, items)

    assert response.status_code == 201, response.text
    for wire in ["0.001", "0.007", "99.999", "0.10", "100.00"]:
        assert response.text.count(f'"amount":{wire},') == 2
    assert paid_total(db, crew.requester.id) == Decimal("400.214")
    assert balance_of(db, crew.requester.id) == Decimal("500") - Decimal("400.214")


def test_bad_amounts_are_rejected_never_rounded(client: httpx.Client, crew: Crew, db: Database) -> None:
    expected = {
        "0.0009": "VALUE_LESS_THAN_MIN",
        "0": "VALUE_LESS_THAN_MIN",
        "-1": "VALUE_LESS_THAN_MIN",
        "100.001": "VALUE_GREATER_THAN_MAX",
        "1E+3": "VALUE_GREATER_THAN_MAX",
        "1.0005": "INVALID_VALUE",
        "0.0011": "INVALID_VALUE",
        '"1.5x"': "FLOAT_EXPECTED",
        "true": "FLOAT_EXPECTED",
        '"1e2"': "FLOAT_EXPECTED",
        "[1]": "FLOAT_EXPECTED",
        '{"v": 1}': "FLOAT_EXPECTED",
        '" 1.5"': "FLOAT_EXPECTED",
        "null": "VALUE_REQUIRED",
        '"2.25"': None,  # a plain numeric string is exact too
        "1E-3": None,
    }
    uid = crew.user_ids[0]
    raw = ", ".join(f'{{"user_id": "{uid}", "amount": {a}, "without_message": true}}' for a in expected)
    headers = {"Content-Type": "application/json"}

    strict = client.post(BONUSES, content=f"[{raw}]", headers=headers)
    lenient = client.post(BONUSES, content=f"[{raw}]", headers=headers, params={"skip_invalid_items": "true"})

    assert strict.status_code == 400, strict.text
    assert strict.json()["code"] == "VALIDATION_ERROR"
    assert len(strict.json()["payload"]) == len(expected) - 2
    assert lenient.status_code == 201, lenient.text
    errors = lenient.json()["validation_errors"]
    for index, code in enumerate(expected.values()):
        if code is None:
            assert str(index) in lenient.json()["items"]
        else:
            assert errors[str(index)]["amount"]["code"] == code, index
            assert errors[str(index)]["amount"]["message"]
    assert '"params":[0.001]' in lenient.text
    assert paid_total(db, crew.requester.id) == Decimal("2.251")


def test_message_rules(client: httpx.Client, crew: Crew, db: Database) -> None:
    uid = crew.user_ids[0]
    items = [
        {"user_id": uid, "amount": Decimal(1), "without_message": True},  # ok
        {"user_id": uid, "amount": Decimal(2), "without_message": True, "public_title": {"EN": "x"}},
        {"user_id": uid, "amount": Decimal(3)},  # a message is required unless without_message
        bonus(uid, "4", public_title={"english": "x"}),
        bonus(uid, "5", public_message="plain text"),
        bonus(uid, "6", without_message="no"),
        bonus(uid, "7", public_title={"TR": "Teşekkürler"}, public_message={"ID": "Terima kasih", "FR": "Merci"}),
    ]

    response = post_bonuses(client, items, skip_invalid_items=True)

    assert response.status_code == 201, response.text
    result = response.json()
    assert sorted(result["items"]) == ["0", "6"]
    assert result["items"]["0"]["without_message"] is True
    assert "public_title" not in result["items"]["0"]
    assert result["items"]["6"]["public_message"] == {"ID": "Terima kasih", "FR": "Merci"}
    errors = result["validation_errors"]
    assert codes(errors["1"]) == {"public_title": "VALUE_NOT_ALLOWED"}
    assert codes(errors["2"]) == {"public_title": "VALUE_REQUIRED", "public_message": "VALUE_REQUIRED"}
    assert codes(errors["3"]) == {"public_title": "PATTERN_MISMATCH"}
    assert codes(errors["4"]) == {"public_message": "OBJECT_EXPECTED"}
    assert codes(errors["5"]) == {"without_message": "BOOLEAN_EXPECTED"}
    assert paid_total(db, crew.requester.id) == Decimal(8)


def test_invalid_items_pay_nothing_unless_skipped(client: httpx.Client, crew: Crew, db: Database) -> None:
    items = [bonus(crew.user_ids[0], "1"), bonus(crew.user_ids[1], "0.0001"), bonus("nobody", "1")]

    strict = post_bonuses(client, items)

    assert strict.status_code == 400
    body = strict.json()
    assert body["code"] == "VALIDATION_ERROR"
    assert sorted(body["payload"]) == ["1", "2"]
    assert body["payload"]["1"]["amount"]["code"] == "VALUE_LESS_THAN_MIN"
    assert body["payload"]["2"]["user_id"]["code"] == "ENTITY_DOES_NOT_EXIST"
    assert bonus_count(db) == 0
    assert balance_of(db, crew.requester.id) == Decimal(100)

    items[2] = bonus(crew.user_ids[2], "2")
    lenient = post_bonuses(client, items, skip_invalid_items=True)

    assert lenient.status_code == 201
    result = lenient.json()
    assert sorted(result["items"]) == ["0", "2"]
    assert result["items"]["2"]["user_id"] == crew.user_ids[2]
    assert list(result["validation_errors"]) == ["1"]
    assert result["validation_errors"]["1"]["amount"]["code"] == "VALUE_LESS_THAN_MIN"
    assert paid_total(db, crew.requester.id) == Decimal(3)


def test_more_than_100_items_is_413_and_pays_nothing(client: httpx.Client, crew: Crew, db: Database) -> None:
    items = [bonus(crew.user_ids[i % 3], "0.01", private_comment=str(i)) for i in range(101)]

    response = post_bonuses(client, items)

    assert response.status_code == 413
    assert response.json()["code"] == "PAYLOAD_TOO_LARGE"
    assert bonus_count(db) == 0
    assert post_bonuses(client, items[:100]).status_code == 201


def test_duplicate_bonus_in_one_request_is_409_with_the_seed_body(
    client: httpx.Client, crew: Crew, db: Database
) -> None:
    items = [bonus(crew.user_ids[0], "1.5"), bonus(crew.user_ids[1], "1.5"), bonus(crew.user_ids[0], "1.50")]

    response = post_bonuses(client, items, skip_invalid_items=True)

    assert response.status_code == 409
    body = response.json()
    assert body["user_id"]["code"] == "ENTITY_CONFLICT"
    assert "same amount, title, message and comment" in body["user_id"]["message"]
    assert body["request_id"]
    assert body["code"] == "CONFLICT_STATE"
    assert body["message"]
    assert bonus_count(db) == 0
    items[2]["private_comment"] = "another reason"
    assert post_bonuses(client, items).status_code == 201


def test_references_are_checked_for_the_whole_batch(
    client: httpx.Client, crew: Crew, admin: Admin, db: Database
) -> None:
    other = make_crew(db, admin, admin.create_requester(), size=1)
    stranger = admin.create_toloker()  # never started a task of this requester
    items = [
        bonus(crew.user_ids[0], "1", assignment_id=crew.assignment_ids[1]),  # someone else's
        bonus(crew.user_ids[0], "2", assignment_id=other.assignment_ids[0]),  # another requester's
        bonus(crew.user_ids[0], "3", assignment_id="not-an-id"),
        bonus(crew.user_ids[0], "4", assignment_id=crew.assignment_ids[0]),
        bonus(stranger, "5"),
        bonus(other.user_ids[0], "6"),  # works for another requester only
        bonus(crew.user_ids[1], "7"),  # gets the query's default assignment
    ]

    response = post_bonuses(client, items, skip_invalid_items=True, assignment_id=crew.assignment_ids[1])

    result = response.json()
    assert sorted(result["items"]) == ["3", "6"]
    assert result["items"]["6"]["assignment_id"] == crew.assignment_ids[1]
    assert {k: codes(v) for k, v in result["validation_errors"].items()} == {
        "0": {"assignment_id": "ENTITY_DOES_NOT_EXIST"},
        "1": {"assignment_id": "ENTITY_DOES_NOT_EXIST"},
        "2": {"assignment_id": "ENTITY_DOES_NOT_EXIST"},
        # the default assignment is not theirs either
        "4": {"user_id": "ENTITY_DOES_NOT_EXIST", "assignment_id": "ENTITY_DOES_NOT_EXIST"},
        "5": {"user_id": "ENTITY_DOES_NOT_EXIST", "assignment_id": "ENTITY_DOES_NOT_EXIST"},
    }
    assert paid_total(db, crew.requester.id) == Decimal(11)


def test_balance_must_cover_the_total(admin: Admin, db: Database, server_url: str) -> None:
    requester = admin.create_requester(balance="2.50")
    crew = make_crew(db, admin, requester)
    items = [bonus(crew.user_ids[0], "1"), bonus(crew.user_ids[1], "2"), bonus(crew.user_ids[2], "1.5")]
    with auth_client(server_url, requester.token) as client:
        strict = post_bonuses(client, items)
        balance_after_strict = balance_of(db, requester.id)
        lenient = post_bonuses(client, items, skip_invalid_items=True)

    assert strict.status_code == 409
    assert strict.json()["code"] == "NOT_ENOUGH_BALANCE"
    assert balance_after_strict == Decimal("2.50")
    result = lenient.json()
    assert lenient.status_code == 201
    assert sorted(result["items"]) == ["0", "2"]  # in order, each item that still fits
    assert result["validation_errors"]["1"]["amount"]["code"] == "NOT_ENOUGH_BALANCE"
    assert balance_of(db, requester.id) == Decimal(0)


def test_fee_is_its_own_ledger_row(admin: Admin, db: Database, settings: Settings) -> None:
    requester = admin.create_requester(balance="10")
    crew = make_crew(db, admin, requester)
    with (
        serve_in_thread(create_app(settings.model_copy(update={"bonus_fee_percent": Decimal("20")}), db)) as url,
        auth_client(url, requester.token) as client,
    ):
        ok = post_bonuses(client, [bonus(crew.user_ids[0], "0.005"), bonus(crew.user_ids[1], "3")])
        too_much = post_bonuses(client, bonus(crew.user_ids[2], "5.5"))  # 5.5 + 1.1 > 6.394

    assert ok.status_code == 201, ok.text
    assert ledger_kinds(db, requester.id) == [
        ("DEPOSIT", Decimal("10.00")),
        ("BONUS", Decimal("-3.005")),
        ("FEE", Decimal("-0.601")),
    ]
    assert too_much.json()["code"] == "NOT_ENOUGH_BALANCE"
    assert balance_of(db, requester.id) == Decimal("6.394")


def test_malformed_bodies_are_validation_errors(client: httpx.Client, crew: Crew, db: Database) -> None:
    cases = [(b"", "VALUE_REQUIRED"), (b"[]", "ARRAY_SIZE_LESS_THAN_MIN"), (b'"x"', "OBJECT_EXPECTED")]
    for content, code in cases:
        headers = {"Content-Type": "application/json"} if content else {}
        response = client.post(BONUSES, content=content, headers=headers)
        assert response.status_code == 400, content
        assert response.json()["payload"]["body"]["code"] == code

    not_objects = client.post(BONUSES, content=b"[1, null]", headers={"Content-Type": "application/json"})
    bad_id = post_bonuses(client, bonus(crew.user_ids[0], "1"), operation_id="a/b")
    broken = client.post(BONUSES, content=b"[{", headers={"Content-Type": "application/json"})

    assert not_objects.json()["payload"]["1"]["item"]["code"] == "OBJECT_EXPECTED"
    assert bad_id.json()["payload"]["operation_id"]["code"] == "PATTERN_MISMATCH"
    assert broken.status_code == 400
    assert broken.json()["code"] == "VALIDATION_ERROR"
    assert bonus_count(db) == 0


def test_sync_retry_with_operation_id_replays_and_pays_once(client: httpx.Client, crew: Crew, db: Database) -> None:
    items = [bonus(crew.user_ids[0], "1"), bonus(crew.user_ids[1], "0")]

    first = post_bonuses(client, items, operation_id="op-sync-1", skip_invalid_items=True)
    again = post_bonuses(client, items, operation_id="op-sync-1", skip_invalid_items=True)
    single = post_bonuses(client, bonus(crew.user_ids[2], "2"), operation_id="op-sync-2")
    single_again = post_bonuses(client, bonus(crew.user_ids[2], "2"), operation_id="op-sync-2")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert list(first.json()["items"]) == ["0"]
    assert single_again.json() == single.json()
    assert paid_total(db, crew.requester.id) == Decimal(3)
    operation = client.get("/api/v1/operations/op-sync-1").json()
    assert operation["type"] == "USER_BONUS.BATCH_CREATE"
    assert operation["status"] == "SUCCESS"
    assert operation["details"] == {
        "total_count": 2,
        "valid_count": 1,
        "not_valid_count": 1,
        "success_count": 1,
        "failed_count": 0,
    }
    log = client.get("/api/v1/operations/op-sync-1/log").json()
    assert [entry["success"] for entry in log] == [True, False]
    assert log[0]["output"] == {"user_bonus_id": first.json()["items"]["0"]["id"]}
    assert log[1]["output"]["amount"]["code"] == "VALUE_LESS_THAN_MIN"
