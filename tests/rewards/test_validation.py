"""Item checks without a database: exact amounts, the message rules, duplicates."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crowdpost.rewards.validation import (
    AmountRules,
    BonusDraft,
    DuplicateBonuses,
    check_amount,
    check_item,
    check_no_duplicates,
)

RULES = AmountRules(Decimal("0.001"), Decimal("100"), Decimal("0"))


@pytest.mark.parametrize(
    ("value", "micros"),
    [
        (Decimal("0.001"), 1_000),
        (Decimal("0.007"), 7_000),
        (Decimal("99.999"), 99_999_000),
        (Decimal("1.0000"), 1_000_000),  # trailing zeros are not extra places
        (Decimal("1E+1"), 10_000_000),
        (Decimal("1E-3"), 1_000),
        (2, 2_000_000),
        ("2.250", 2_250_000),
    ],
)
def test_exact_amounts_become_micros(value: Any, micros: int) -> None:
    assert check_amount(value, RULES) == micros


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (0.5, "FLOAT_EXPECTED"),  # a float has already lost the exact value
        (True, "FLOAT_EXPECTED"),
        ("1.5 ", "FLOAT_EXPECTED"),
        ("NaN", "FLOAT_EXPECTED"),
        (Decimal("NaN"), "FLOAT_EXPECTED"),
        (Decimal("Infinity"), "FLOAT_EXPECTED"),
        (Decimal("0.0009"), "VALUE_LESS_THAN_MIN"),
        (Decimal("-0.5"), "VALUE_LESS_THAN_MIN"),
        (Decimal("100.0001"), "VALUE_GREATER_THAN_MAX"),
        (Decimal("1E+999999"), "VALUE_GREATER_THAN_MAX"),
        (Decimal("1.0001"), "INVALID_VALUE"),
        (Decimal("0.00100001"), "INVALID_VALUE"),
    ],
)
def test_inexact_or_out_of_range_amounts_are_errors(value: Any, code: str) -> None:
    problem = check_amount(value, RULES)

    assert isinstance(problem, dict)
    assert problem["code"] == code


@given(st.decimals(min_value=Decimal("0.001"), max_value=Decimal(100), places=3))
def test_every_three_place_amount_in_range_is_exact(amount: Decimal) -> None:
    micros = check_amount(amount, RULES)

    assert isinstance(micros, int)
    assert Decimal(micros) / 1_000_000 == amount


def test_message_and_without_message_must_agree() -> None:
    texts = {"public_title": {"EN": "t"}, "public_message": {"EN": "m"}}
    silent = {"user_id": "u", "amount": Decimal(1), "without_message": True}

    assert isinstance(check_item(0, {"user_id": "u", "amount": Decimal(1), **texts}, RULES), BonusDraft)
    assert isinstance(check_item(0, silent, RULES), BonusDraft)
    assert check_item(0, {**silent, "public_message": {"EN": "m"}}, RULES) == {
        "public_message": {
            "code": "VALUE_NOT_ALLOWED",
            "message": "public_message must be null when without_message is true",
            "params": [],
        }
    }
    missing = check_item(0, {"user_id": "u", "amount": Decimal(1), "without_message": False}, RULES)
    assert isinstance(missing, dict)
    assert set(missing) == {"public_title", "public_message"}


def test_repeated_texts_are_checked_each_time() -> None:
    good = {"user_id": "u", "amount": Decimal(1), "public_title": {"EN": "t"}, "public_message": {"EN": "m"}}
    bad = {**good, "public_title": {"EN": " "}}

    assert isinstance(check_item(0, good, RULES), BonusDraft)
    assert isinstance(check_item(1, good, RULES), BonusDraft)
    assert set(check_item(2, bad, RULES)) == {"public_title"}  # type: ignore[arg-type]
    assert isinstance(check_item(3, good, RULES), BonusDraft)


def test_unstorable_characters_are_item_errors() -> None:
    good = {"user_id": "u", "amount": Decimal(1), "public_title": {"EN": "t"}, "public_message": {"EN": "m"}}
    poisoned = [
        {**good, "user_id": "u\x00"},
        {**good, "private_comment": "a\x00b"},
        {**good, "public_title": {"EN": "t\x00"}},
        {**good, "public_message": {"EN": "lone \ud800 surrogate"}},
    ]

    found = [check_item(n, item, RULES) for n, item in enumerate(poisoned)]

    assert [{f: e["code"] for f, e in problems.items()} for problems in found] == [  # type: ignore[union-attr]
        {"user_id": "CHARACTER_NOT_ALLOWED"},
        {"private_comment": "CHARACTER_NOT_ALLOWED"},
        {"public_title": "CHARACTER_NOT_ALLOWED"},
        {"public_message": "CHARACTER_NOT_ALLOWED"},
    ]
    assert isinstance(check_item(9, {**good, "private_comment": "Grüße ✓"}, RULES), BonusDraft)


def test_drafts_carry_sanitized_texts() -> None:
    item = {
        "user_id": "u",
        "amount": Decimal(1),
        "public_title": {"EN": "<b>Thanks</b> &lt;script&gt;x()&lt;/script&gt;", "RU": "a < b"},
        "public_message": {"EN": '<b>Well</b> done<script>x()</script><img src=x onerror="y()">'},
    }

    draft = check_item(0, item, RULES)

    assert isinstance(draft, BonusDraft)
    assert draft.public_title == {"EN": "Thanks ", "RU": "a < b"}
    assert draft.public_message == {"EN": '<b>Well</b> done<img src="x">'}


def test_item_errors_name_every_bad_field() -> None:
    item = {"user_id": 5, "assignment_id": "x", "private_comment": 1, "without_message": "yes"}

    problems = check_item(0, item, RULES)

    assert isinstance(problems, dict)
    assert {field: error["code"] for field, error in problems.items()} == {
        "user_id": "STRING_EXPECTED",
        "amount": "VALUE_REQUIRED",
        "assignment_id": "ENTITY_DOES_NOT_EXIST",
        "private_comment": "STRING_EXPECTED",
        "without_message": "BOOLEAN_EXPECTED",
    }
    assert check_item(0, [], RULES) == {
        "item": {"code": "OBJECT_EXPECTED", "message": "each bonus must be a JSON object", "params": []}
    }


def test_duplicates_compare_amounts_and_texts_exactly() -> None:
    base = {"user_id": "u", "amount": Decimal("1.5"), "public_title": {"EN": "t", "RU": "т"}}

    check_no_duplicates([base, {**base, "amount": Decimal("1.51")}, {**base, "user_id": "v"}])
    check_no_duplicates([base, {**base, "public_title": {"EN": "other"}}, {**base, "private_comment": "x"}])
    with pytest.raises(DuplicateBonuses) as caught:
        check_no_duplicates([base, {**base, "amount": Decimal("1.50"), "public_title": {"RU": "т", "EN": "t"}}])

    assert caught.value.status_code == 409
    assert caught.value.extra["user_id"]["code"] == "ENTITY_CONFLICT"
    check_no_duplicates([{"user_id": "u", "amount": [1]}, {"user_id": "u", "amount": [1]}, 7, None])
