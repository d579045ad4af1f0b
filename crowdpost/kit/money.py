"""Exact money: integer micro-units in storage, Decimal at the edges, never float.

Rewards go down to $0.001 and fees are percentages of them, so the stored unit is a
millionth of a dollar; that keeps every amount the API accepts (and a fee of any
whole-hundredth percent of it) exact in a BIGINT.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal
from typing import Protocol

MICROS = 1_000_000
_QUANTUM = Decimal(1).scaleb(-6)


# A BIGINT holds 9.2e18 micros: at most 12 digits before the point (< $10**13).
MAX_MICROS = 2**63 - 1
_MAX_ADJUSTED = 12
_ASCII_DIGITS = bytes(range(48, 58)).ljust(256, b"?")


class MoneyError(ValueError):
    """The value is not an exact, finite amount of money at micro precision."""


def _significant(amount: Decimal) -> tuple[bytes, int]:
    """(digits as bytes 0-9, exponent) with trailing zeros dropped: read as written, no
    Decimal context (which would round past 28 digits), C-speed however long."""
    _, digits, exponent = amount.as_tuple()
    assert isinstance(exponent, int)
    raw = bytes(digits)
    kept = raw.rstrip(b"\x00") or raw[:1]
    return kept, exponent + (len(raw) - len(kept))


def to_micros(amount: Decimal) -> int:
    """Exact conversion; raises MoneyError instead of rounding.

    Bounded before any arithmetic: the digits are read as they are (no Decimal context,
    which would round past 28 digits or overflow past an exponent of 999,999), so
    `1e999999999`, `1e-999999999` and a 40-digit amount are refused in constant time
    (linear in the digits written)."""
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise MoneyError("amount must be a finite decimal number")
    if amount.is_zero():
        if amount.is_signed():
            raise MoneyError("amount must not be negative zero")
        return 0
    if amount.adjusted() > _MAX_ADJUSTED:
        raise MoneyError(f"amount is too large (at most {_MAX_ADJUSTED} digits before the point)")
    digits, exponent = _significant(amount)
    if exponent < -6:
        raise MoneyError("amount has more than 6 decimal places")
    # Now at most 19 digits and 0 <= exponent + 6 <= 18: small integers.
    micros: int = int(digits.translate(_ASCII_DIGITS)) * 10 ** (exponent + 6)
    if micros > MAX_MICROS:
        raise MoneyError("amount is too large")
    return -micros if amount.is_signed() else micros


def from_micros(micros: int) -> Decimal:
    """A Decimal with the fewest digits that still say exactly `micros` (at least 2 places)."""
    value = (Decimal(micros) / MICROS).quantize(_QUANTUM)
    normalized = value.normalize()
    if normalized.as_tuple().exponent > -2:  # type: ignore[operator]
        return value.quantize(Decimal("0.01"))
    return normalized


def decimal_places(amount: Decimal) -> int:
    """Places after the point that are not trailing zeros, exactly (no context rounding)."""
    if not amount.is_finite() or amount.is_zero():
        return 0
    _, exponent = _significant(amount)
    return max(0, -exponent)


def percent_of(micros: int, percent: Decimal) -> int:
    """A fee: `percent` % of `micros`, rounded up to the next micro-unit (never lost)."""
    return int((Decimal(micros) * percent / 100).to_integral_value(rounding=ROUND_CEILING))


class _Amounts(Protocol):
    @property
    def total_micros(self) -> int: ...
    @property
    def fee_micros(self) -> int: ...
    @property
    def balance_micros(self) -> int: ...


class Priced:
    """A payment priced before it is made: what it costs (the amounts and the fee) and the
    balance it leaves, for a class with `total_micros`, `fee_micros` and `balance_micros`."""

    __slots__ = ()

    @property
    def cost_micros(self: _Amounts) -> int:
        return self.total_micros + self.fee_micros

    @property
    def balance_after_micros(self: _Amounts) -> int:
        return self.balance_micros - self.total_micros - self.fee_micros
