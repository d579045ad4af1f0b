"""Malformed but plausible input is a 400 naming the field, never a 500 (or a hang).

The review found 6 of 19 such inputs answered 500: far datetimes in `created_*` filters,
free-form fields nested ~500 levels (RecursionError), admin amounts like `1e999999999`,
assignment rewards with more than 6 decimals. Each attack below is sent to a live server,
on SQLite and PostgreSQL, and must get a 400 VALIDATION_ERROR whose payload names the field,
with nothing written.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from crowdpost.db import Database
from crowdpost.models import Assignment, LedgerEntry, Project, Requester, Toloker
from tests.fixtures.factories import Admin, RequesterInfo
from tests.messaging.helpers import crew, toloker_client

FAR_DATETIMES = ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"]
JSON = {"Content-Type": "application/json"}


def field_of(response: httpx.Response, *path: str) -> dict[str, Any]:
    """The field error of a 400 VALIDATION_ERROR at `path`: a dotted key (`0.reward`, as the
    request decoder names it) or nested by item (`{"0": {"reward": ...}}`, as bulk checks do)."""
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR", body
    payload = body["payload"]
    dotted = ".".join(path)
    if dotted in payload:
        error: dict[str, Any] = payload[dotted]
    else:
        assert path[0] in payload, body
        assert ".".join(path[1:]) in payload[path[0]], body
        error = payload[path[0]][".".join(path[1:])]
    assert error["code"], body
    assert error["message"], body
    return error


def count(db: Database, model: Any) -> int:
    with db.transaction(write=False) as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def nested(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


# ----------------------------------------------------------------------------------------- datetimes


REQUESTER_LISTS = [
    "/api/v1/skills",
    "/api/v1/user-skills",
    "/api/v1/user-restrictions",
    "/api/v1/projects",
    "/api/v1/pools",
    "/api/v1/assignments",
    "/api/v1/user-bonuses",
    "/api/v1/message-threads",
]


@pytest.mark.parametrize("value", FAR_DATETIMES)
def test_far_datetimes_in_created_filters_are_400_naming_the_parameter(
    requester_http: httpx.Client, server_url: str, admin: Admin, db: Database, requester: RequesterInfo, value: str
) -> None:
    """`created_gt=0001-01-01T00:00:00+05:00` (and 9999-12-31 at -05:00) overflowed while
    converting to UTC. On every list endpoint, requester's and Toloker's, each created_*
    parameter is now a 400 naming it."""
    _, _, (worker,) = crew(db, admin, requester.id, [{}])
    with toloker_client(server_url, admin, worker) as toloker:
        for op in ("gt", "gte", "lt", "lte"):
            name = f"created_{op}"
            for path in REQUESTER_LISTS:
                assert field_of(requester_http.get(path, params={name: value}), name)["code"] == "DATE_OUT_OF_RANGE"
            for path in ("/bonuses", "/message-threads"):
                assert field_of(toloker.get(path, params={name: value}), name)["code"] == "DATE_OUT_OF_RANGE"
    # The other datetime filters of the workforce and operations lists too.
    for path, name in (
        ("/api/v1/assignments", "submitted_gte"),
        ("/api/v1/user-skills", "modified_lt"),
        ("/api/v1/pools", "last_started_gt"),
        ("/api/v1/operations", "submitted_gt"),
        ("/api/v1/operations", "finished_lte"),
    ):
        assert field_of(requester_http.get(path, params={name: value}), name)["code"] == "DATE_OUT_OF_RANGE"


def test_far_datetimes_in_bodies_are_400_naming_the_field(
    requester_http: httpx.Client, admin: Admin, db: Database, requester: RequesterInfo
) -> None:
    """An imported assignment created at year 1 +05:00 and a ban expiring at 9999-12-31 -05:00:
    400 naming `0.created` / `will_expire`, nothing written."""
    _, pool_id, (worker,) = crew(db, admin, requester.id, [{}], started=0)
    assignment = {"user_id": worker, "pool_id": pool_id, "created": FAR_DATETIMES[0]}

    imported = admin.http.post("/api/admin/v1/assignments", json=[assignment])
    ban = requester_http.put(
        "/api/v1/user-restrictions", json={"scope": "ALL_PROJECTS", "user_id": worker, "will_expire": FAR_DATETIMES[1]}
    )

    field_of(imported, "0", "created")
    field_of(ban, "will_expire")
    assert count(db, Assignment) == 0


# ----------------------------------------------------------------------------------------- nesting


def test_free_form_fields_nested_500_levels_are_400(requester_http: httpx.Client, db: Database) -> None:
    """A project and a pool whose free-form `metadata` nests 500 levels (a RecursionError and
    a 500 before): 400 naming a path under `metadata`; nothing stored."""
    project = requester_http.post("/api/v1/projects", json={"public_name": "P", "metadata": nested(500)})
    assert field_of(project, *("metadata" + ".0" * 99).split("."))["code"] == "VALUE_GREATER_THAN_MAX"
    real = requester_http.post("/api/v1/projects", json={"public_name": "P"}).json()["id"]
    pool = requester_http.post(
        "/api/v1/pools", json={"project_id": real, "private_name": "p", "public_instructions": {"x": nested(500)}}
    )
    assert field_of(pool, *("public_instructions.x" + ".0" * 98).split("."))["code"] == "VALUE_GREATER_THAN_MAX"
    assert count(db, Project) == 1
    assert requester_http.get("/api/v1/pools").json()["items"] == []


def test_free_form_fields_nested_past_32_levels_are_400_and_32_fit(
    requester_http: httpx.Client, admin: Admin, db: Database, requester: RequesterInfo
) -> None:
    """Free-form values we store nest at most 32 levels: 33 is a 400 naming where it goes too
    deep (projects, skills, imported solutions); 32 is stored and read back as sent."""
    too_deep = requester_http.post("/api/v1/projects", json={"public_name": "P", "metadata": nested(33)})
    skill = requester_http.post("/api/v1/skills", json={"name": "S", "extra": nested(33)})
    _, pool_id, (worker,) = crew(db, admin, requester.id, [{}], started=0)
    solution = {"output_values": {"answer": nested(32)}}
    imported = admin.http.post(
        "/api/admin/v1/assignments", json=[{"user_id": worker, "pool_id": pool_id, "solutions": [solution]}]
    )
    fits = requester_http.post("/api/v1/projects", json={"public_name": "P", "metadata": nested(32)})

    assert field_of(too_deep, *("metadata" + ".0" * 32).split("."))["code"] == "VALUE_GREATER_THAN_MAX"
    assert field_of(skill, *("extra" + ".0" * 32).split("."))["code"] == "VALUE_GREATER_THAN_MAX"
    field_of(imported, "0", "solutions.0")
    assert count(db, Assignment) == 0
    assert fits.status_code == 201, fits.text
    assert requester_http.get(f"/api/v1/projects/{fits.json()['id']}").json()["metadata"] == nested(32)


def test_bodies_nested_past_100_levels_are_400_naming_the_path(admin: Admin) -> None:
    """Any body nesting more than 100 levels is refused where it is decoded, with the path;
    a 100,000-level body is refused by the parser (no RecursionError reaches anyone)."""
    deep = admin.http.post("/api/admin/v1/tolokers", json=[{"languages": nested(150)}])
    huge = admin.http.post("/api/admin/v1/tolokers", content=b"[" * 100_000 + b"]" * 100_000, headers=JSON)

    assert field_of(deep, *("0.languages" + ".0" * 98).split("."))["code"] == "VALUE_GREATER_THAN_MAX"
    assert field_of(huge, "body")["code"] == "JSON_EXPECTED"


# ----------------------------------------------------------------------------------------- amounts


ABSURD_NUMBERS = [b"1e999999999", b"-1e999999999", b"1e-999999999", b"1E+400"]
ABSURD_TEXTS = ["1e999999999", "NaN", "Infinity", "-Infinity", "-0", "1e-999999999", "0.0000001"]


def _raw_amount(field: str, literal: bytes, **rest: Any) -> bytes:
    """A body with `field` written as the exact JSON number `literal` (no client rounds it)."""
    extra = b"".join(b',"%s":"%s"' % (k.encode(), str(v).encode()) for k, v in rest.items())
    return b'{"%s":%s%s}' % (field.encode(), literal, extra)


def test_absurd_deposits_are_400_and_credit_nothing(admin: Admin, db: Database, requester: RequesterInfo) -> None:
    """Admin deposits of 1e999999999 (a decimal Overflow and a 500 before), NaN, Infinity,
    -0, 1e-999999999 (silently 0 before), more than 6 decimals, as JSON numbers and as
    strings: 400 naming `amount`; the balance and the ledger are unchanged."""
    path = f"/api/admin/v1/requesters/{requester.id}/deposits"
    ledger = count(db, LedgerEntry)

    for literal in ABSURD_NUMBERS:
        field_of(admin.http.post(path, content=_raw_amount("amount", literal), headers=JSON), "amount")
    for text in ABSURD_TEXTS:
        field_of(admin.http.post(path, json={"amount": text}), "amount")
    not_json = admin.http.post(path, content=b'{"amount": NaN}', headers=JSON)

    assert field_of(not_json, "body")["code"] == "JSON_EXPECTED"
    assert admin.http.get(f"/api/admin/v1/requesters/{requester.id}").json()["balance"] == Decimal("100.00")
    assert count(db, LedgerEntry) == ledger


def test_absurd_opening_balances_are_400_and_create_nobody(admin: Admin, db: Database) -> None:
    """A new requester's opening balance of 1e999999999 and friends: 400 naming `balance`,
    and no requester is created."""
    before = count(db, Requester)
    for literal in ABSURD_NUMBERS:
        body = _raw_amount("balance", literal, public_name="Rich")
        field_of(admin.http.post("/api/admin/v1/requesters", content=body, headers=JSON), "balance")
    for text in [t for t in ABSURD_TEXTS if t != "-0"]:  # "-0" is a zero opening balance
        field_of(admin.http.post("/api/admin/v1/requesters", json={"public_name": "R", "balance": text}), "balance")
    assert count(db, Requester) == before


def test_absurd_bonus_amounts_are_400_and_pay_nothing(
    requester_http: httpx.Client, admin: Admin, db: Database, requester: RequesterInfo
) -> None:
    """Bonuses of 1e999999999 and friends, one object and in a list: 400 naming `amount` /
    `0.amount`; the balance is unchanged."""
    _, _, (worker,) = crew(db, admin, requester.id, [{}])
    one: bytes | dict[str, object]
    for literal in ABSURD_NUMBERS:
        one = _raw_amount("amount", literal, user_id=worker, without_message="true").replace(b'"true"', b"true")
        field_of(requester_http.post("/api/v1/user-bonuses", content=one, headers=JSON), "amount")
        listed = b"[" + one + b"]"
        field_of(requester_http.post("/api/v1/user-bonuses", content=listed, headers=JSON), "0", "amount")
    for text in ABSURD_TEXTS:
        one = {"user_id": worker, "amount": text, "without_message": True}
        field_of(requester_http.post("/api/v1/user-bonuses", json=one), "amount")
    assert requester_http.get("/api/v1/requester").json()["balance"] == Decimal("100.00")
    assert requester_http.get("/api/v1/user-bonuses").json()["items"] == []


def test_assignment_rewards_beyond_micros_or_absurd_are_400_and_import_nothing(
    admin: Admin, db: Database, requester: RequesterInfo
) -> None:
    """An imported assignment reward with 7 decimals (a 500 before), -0.0, NaN or
    1e999999999: 400 naming the item's `reward`; nothing is imported (all or nothing)."""
    _, pool_id, (worker,) = crew(db, admin, requester.id, [{}], started=0)
    good = b'{"user_id":"%s","pool_id":"%s"}' % (worker.encode(), pool_id.encode())

    def with_reward(literal: bytes) -> bytes:
        return b"[" + good + b"," + good[:-1] + b',"reward":' + literal + b"}]"

    for literal in (b"0.0000001", b"0.1234567", b"-0.0", b'"0.0000001"', b'"NaN"', b'"1e999999999"'):
        response = admin.http.post("/api/admin/v1/assignments", content=with_reward(literal), headers=JSON)
        field_of(response, "1", "reward")
    for literal in ABSURD_NUMBERS:
        response = admin.http.post("/api/admin/v1/assignments", content=with_reward(literal), headers=JSON)
        field_of(response, "1", "reward")
    exact = admin.http.post("/api/admin/v1/assignments", content=with_reward(b"0.123456"), headers=JSON)

    assert exact.status_code == 201, exact.text
    assert count(db, Assignment) == 2


# ----------------------------------------------------------------------------------------- other numbers


def test_numbers_no_column_can_hold_are_400_naming_the_field(admin: Admin, db: Database) -> None:
    """Toloker imports with a city of 2**40 (a 32-bit column), a birth date of 1e300 seconds
    (int() of 1e999999999 used to build a billion-digit integer), an OS version of
    123456789.1 (NUMERIC(12,4)) or an integer of 5,000 digits: 400 naming the field."""
    for person, field in (
        ({"city": 2**40}, "city"),
        ({"region_by_ip": -1}, "region_by_ip"),
        ({"date_of_birth": "1e300"}, "date_of_birth"),
        ({"os_version": "123456789.1"}, "os_version"),
        ({"os_version": "14.12345"}, "os_version"),
    ):
        field_of(admin.http.post("/api/admin/v1/tolokers", json=[{"languages": ["EN"], **person}]), "0", field)
    born = b'[{"date_of_birth": 1e300}]'
    field_of(admin.http.post("/api/admin/v1/tolokers", content=born, headers=JSON), "0", "date_of_birth")
    absurd = b'[{"date_of_birth": 1e999999999}]'
    assert (
        field_of(admin.http.post("/api/admin/v1/tolokers", content=absurd, headers=JSON), "0", "date_of_birth")["code"]
        == "VALUE_OUT_OF_BOUNDS"
    )
    digits = b'[{"city": ' + b"7" * 5000 + b"}]"
    assert (
        field_of(admin.http.post("/api/admin/v1/tolokers", content=digits, headers=JSON), "body")["code"]
        == "JSON_EXPECTED"
    )
    assert count(db, Toloker) == 0


def test_free_form_numbers_beyond_a_double_are_400(requester_http: httpx.Client, db: Database) -> None:
    """A project whose free-form field holds 1e400 or 1e-999999999: 400 naming the field."""
    for literal in (b"1e400", b"-1e400", b"1e-999999999"):
        body = b'{"public_name": "P", "overlap": {"max": %s}}' % literal
        error = field_of(requester_http.post("/api/v1/projects", content=body, headers=JSON), "overlap", "max")
        assert error["code"] == "VALUE_OUT_OF_BOUNDS"
    assert count(db, Project) == 0
