"""kit.wirecheck: what every decoded request is checked for, and that the check cannot crash."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from crowdpost.errors import ValidationFailed
from crowdpost.kit import jsonwire
from crowdpost.kit.wirecheck import MAX_BODY_DEPTH, body_may_hold_unstorable, check_body, check_params
from crowdpost.workforce.spec import plain_json


def payload(value: Any, **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(ValidationFailed) as caught:
        check_body(value, **kwargs)
    result: dict[str, Any] = caught.value.payload
    return result


def deep(levels: int) -> Any:
    value: Any = "leaf"
    for _ in range(levels):
        value = [value]
    return value


def test_nul_and_lone_surrogates_are_named_by_path_in_values_and_keys() -> None:
    body = [{"ok": "fine"}, {"public_title": {"EN": "a\x00b"}, "x": ["\udfff"]}, {"k\ud800": 1}]

    found = payload(body)

    assert set(found) == {"1.public_title.EN", "1.x.0", "2.k\ufffd"}
    assert found["1.public_title.EN"]["params"] == [1]
    assert "U+0000" in found["1.public_title.EN"]["message"]
    assert "U+DFFF" in found["1.x.0"]["message"]
    assert found["2.k\ufffd"]["message"].startswith("the key: ")


def test_a_scalar_body_is_named_body_and_good_text_passes() -> None:
    assert list(payload("\x00")) == ["body"]
    check_body({"EN": "emoji \U0001f600, U+FFFD \ufffd, tab\t", "n": [1, Decimal("0.1"), None, True]})


def test_strings_false_skips_only_the_character_search() -> None:
    check_body({"a": "\x00"}, strings=False)
    assert list(payload({"a": "\x00", "n": Decimal("1e999")}, strings=False)) == ["n"]


def test_raw_bodies_without_risky_escapes_skip_the_search() -> None:
    assert body_may_hold_unstorable(b'{"a": "\\u0000"}')
    assert body_may_hold_unstorable(b'{"a": "\\uD800"}')
    assert body_may_hold_unstorable(b'{"a": "\\udfff"}')
    assert not body_may_hold_unstorable(b'{"a": "\\u00e9 \\u4e2d \\n"}')
    # What `loads` can produce from a body the pre-check passes holds no unstorable character.
    check_body(jsonwire.loads(b'{"a": "\\u00e9 \\ue000 \\uffff"}'))


@pytest.mark.parametrize(
    "number", [Decimal("1e999999999"), Decimal("-1e400"), Decimal("1e-999999999"), Decimal("0e999999999"), 10**400]
)
def test_numbers_beyond_a_double_are_refused(number: Any) -> None:
    assert payload({"amount": number})["amount"]["code"] == "VALUE_OUT_OF_BOUNDS"


@pytest.mark.parametrize("number", [Decimal("1e308"), Decimal("-4.9e-324"), Decimal(0), 2**63, -(10**300)])
def test_numbers_a_double_holds_pass(number: Any) -> None:
    check_body({"amount": number})


def test_depth_is_checked_without_recursion() -> None:
    check_body(deep(MAX_BODY_DEPTH))  # exactly the limit
    # The outer list is the body (level 1), its item "0" level 2: level 101 is 100 steps in.
    assert list(payload(deep(MAX_BODY_DEPTH + 1))) == ["0" + ".0" * (MAX_BODY_DEPTH - 1)]
    # Far past the interpreter's recursion limit: still a clean refusal.
    assert len(payload(deep(200_000))) == 1


def test_params_name_the_parameter() -> None:
    with pytest.raises(ValidationFailed) as caught:
        check_params([("user_id", "a\x00"), ("ok", "fine"), ("k\x00", "v")])
    assert set(caught.value.payload) == {"user_id", "k\ufffd"}


def test_plain_json_refuses_deep_free_form_values_iteratively() -> None:
    assert plain_json({"a": deep(32)}) == {"a": deep(32)}
    with pytest.raises(ValidationFailed) as caught:
        plain_json({"a": deep(33)})
    assert list(caught.value.payload) == ["a" + ".0" * 32]
    with pytest.raises(ValidationFailed):
        plain_json(deep(100_000))


def test_plain_json_keeps_order_and_makes_numbers_plain() -> None:
    value = {"b": [Decimal("1.5"), Decimal("2"), Decimal("1e400")], "a": ({"x": None},)}
    out = plain_json(value)
    assert list(out) == ["b", "a"]
    assert out == {"b": [1.5, 2, "1E+400"], "a": [{"x": None}]}
