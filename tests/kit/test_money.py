"""Money is exact: micro-units in storage, Decimal at the edges."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crowdpost.kit import jsonwire
from crowdpost.kit.money import MoneyError, decimal_places, from_micros, percent_of, to_micros


@pytest.mark.parametrize(
    ("text", "micros"),
    [("0.001", 1000), ("0.007", 7000), ("99.999", 99_999_000), ("0.1", 100_000), ("1E+1", 10_000_000)],
)
def test_to_micros_is_exact(text: str, micros: int) -> None:
    assert to_micros(Decimal(text)) == micros


@pytest.mark.parametrize("text", ["0.0000001", "NaN", "Infinity", "1E-7"])
def test_to_micros_refuses_instead_of_rounding(text: str) -> None:
    with pytest.raises(MoneyError):
        to_micros(Decimal(text))


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_round_trip(micros: int) -> None:
    assert to_micros(from_micros(micros)) == micros


def test_from_micros_shows_at_least_cents() -> None:
    assert str(from_micros(1_500_000)) == "1.50"
    assert str(from_micros(1000)) == "0.001"
    assert str(from_micros(100_000_000)) == "100.00"


def test_fee_rounds_up_to_a_micro() -> None:
    assert percent_of(1000, Decimal("33.3")) == 333
    assert percent_of(1001, Decimal("50")) == 501


def test_wire_numbers_are_exact_both_ways() -> None:
    parsed = jsonwire.loads(b'{"amount": 0.1, "big": 12345678901234567890.123456789}')
    assert parsed["amount"] == Decimal("0.1")
    assert parsed["big"] == Decimal("12345678901234567890.123456789")
    assert jsonwire.dumps({"a": Decimal("0.30")}) == b'{"a":0.30}'


@pytest.mark.parametrize("raw", [b"{", b'{"a": NaN}', b"\xff\xfe", b'{"a": Infinity}'])
def test_malformed_json_is_refused(raw: bytes) -> None:
    with pytest.raises(jsonwire.JsonBodyError):
        jsonwire.loads(raw)


@pytest.mark.parametrize(
    "text",
    [
        "1e999999999",  # Overflow in Decimal arithmetic before (a 500)
        "1e-999999999",  # rounded to 0 before
        "123456789012345678901234567890",  # rounded to 28 digits before
        "1.0000000000000000000000000000001",  # rounded to 1 before
        "-0",
        "-0.00",
        "9223372036854.775808",  # one micro past a BIGINT
        "1" + "0" * 5000,
    ],
)
def test_to_micros_refuses_absurd_amounts_without_arithmetic(text: str) -> None:
    with pytest.raises(MoneyError):
        to_micros(Decimal(text))


@pytest.mark.parametrize(
    ("text", "micros"),
    [
        ("9223372036854.775807", 2**63 - 1),
        ("-9223372036854.775807", -(2**63 - 1)),
        ("0E+999999999", 0),
        ("0E-999999999", 0),
        ("1." + "0" * 100_000, 1_000_000),
        ("1234500000E-9", 1_234_500),
    ],
)
def test_to_micros_is_exact_at_the_edges(text: str, micros: int) -> None:
    assert to_micros(Decimal(text)) == micros


@pytest.mark.parametrize(
    ("text", "places"),
    [("0.0010000000000000000000000000001", 31), ("1.500", 1), ("1e-999999999", 999_999_999), ("1E+5", 0)],
)
def test_decimal_places_counts_exactly(text: str, places: int) -> None:
    assert decimal_places(Decimal(text)) == places
