"""Public ids sort as text in creation order, and text bounds select the same rows."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from crowdpost.kit import ids

id_numbers = st.integers(min_value=0, max_value=10**ids.WIDTH - 1)
bounds = st.one_of(
    id_numbers.map(ids.format_id),
    st.text(alphabet="0123456789abz/:-", max_size=ids.WIDTH + 2),
)


@given(st.lists(id_numbers, min_size=2, max_size=20))
def test_text_order_is_numeric_order(numbers: list[int]) -> None:
    assert sorted(numbers) == sorted(numbers, key=ids.format_id)


@given(id_numbers, bounds)
def test_bounds_match_string_comparison(n: int, bound: str) -> None:
    text = ids.format_id(n)
    assert (text > bound) == (n >= ids.bound_gt(bound))
    assert (text >= bound) == (n >= ids.bound_gte(bound))
    assert (text < bound) == (n < ids.bound_lt(bound))
    assert (text <= bound) == (n < ids.bound_lte(bound))


def test_digit_boundary_keeps_order() -> None:
    # toloka-kit computes min/max of ids as strings: "9" > "10" would lose rows.
    assert ids.format_id(9) < ids.format_id(10) < ids.format_id(100)


def test_parse_rejects_foreign_ids() -> None:
    assert ids.parse_id(ids.format_id(42)) == 42
    assert ids.parse_id("42") is None
    assert ids.parse_id("00000000004x") is None
    assert ids.parse_id("٠٠٠٠٠٠٠٠٠٠٤٢") is None  # non-ASCII digits
