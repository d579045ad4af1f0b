"""Public ids: fixed-width decimal strings whose text order is creation order.

toloka-kit compares ids as Python strings (it computes `min`/`max` of bonus ids and
pages with `id_gt`), so every id we emit must sort lexicographically in the same
order as the integer primary key behind it. Twelve digits do that up to 10**12 rows.

Clients may send any string as an `id_gt`-style bound. `bound_*` translate a text
bound into the integer range that matches it under string comparison, so the SQL
stays a plain integer comparison on the primary key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from crowdpost.errors import DoesNotExist

T = TypeVar("T")

WIDTH = 12
_LIMIT = 10**WIDTH


def format_id(n: int) -> str:
    return f"{n:0{WIDTH}d}"


def format_optional_id(n: int | None) -> str | None:
    """`format_id` of an id a row may lack (None stays None)."""
    return format_id(n) if n is not None else None


def parse_id(text: str) -> int | None:
    """The integer behind a public id, or None when the text is not one of ours."""
    if len(text) != WIDTH or not text.isdigit() or not text.isascii():
        return None
    return int(text)


def id_filter(text: str | None) -> int | None:
    """A list filter's id as its integer key: None when not given, -1 (matching nothing, not
    an error, like any filter) when the text is not one of our ids."""
    return (parse_id(text) or -1) if text is not None else None


def load_by_id(public_id: str, load: Callable[[int], T | None], missing: str) -> T:
    """`load(n)` for the integer behind a public id; DoesNotExist(missing) when the text is
    not one of our ids or `load` finds nothing (a 404 either way, so a malformed id and an
    unknown one answer alike)."""
    number = parse_id(public_id)
    row = load(number) if number is not None else None
    if row is None:
        raise DoesNotExist(missing)
    return row


def _scale(digits: int) -> int:
    """10 ** (WIDTH - digits): how many ids share a prefix of `digits` characters."""
    return int(10 ** (WIDTH - digits))


def _first_greater(text: str) -> int:
    """Smallest n such that format_id(n) > text in string order; may be 10**WIDTH."""
    for i, ch in enumerate(text[:WIDTH]):
        if not ("0" <= ch <= "9"):
            prefix = int(text[:i]) if i else 0
            # Past the prefix, a character above '9' beats every digit and one below
            # loses to every digit.
            return (prefix + 1) * _scale(i) if ch > "9" else prefix * _scale(i)
    if len(text) < WIDTH:
        # Every id starting with these digits is longer, hence greater.
        return int(text) * _scale(len(text)) if text else 0
    # The first WIDTH characters are a whole id; anything longer with it as prefix is greater.
    return int(text[:WIDTH]) + 1


def bound_gt(text: str) -> int:
    """Integer lower bound (inclusive) for ids > text."""
    return _first_greater(text)


def bound_gte(text: str) -> int:
    """Integer lower bound (inclusive) for ids >= text."""
    n = parse_id(text)
    return n if n is not None else _first_greater(text)


def bound_lt(text: str) -> int:
    """Integer upper bound (exclusive) for ids < text."""
    return bound_gte(text)


def bound_lte(text: str) -> int:
    """Integer upper bound (exclusive) for ids <= text."""
    return bound_gt(text)


def in_range(n: int) -> bool:
    return bool(0 <= n < _LIMIT)
