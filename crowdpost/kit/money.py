"""Exact money: integer micro-units in storage, Decimal at the edges, never float.

Rewards go down to $0.001 and fees are percentages of them, so the stored unit is a
millionth of a dollar; that keeps every amount the API accepts (and a fee of any
whole-hundredth percent of it) exact in a BIGINT.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal, InvalidOperation

MICROS = 1_000_000
_QUANTUM = Decimal(1).scaleb(-6)


class MoneyError(ValueError):
    """The value is not an exact, finite amount of money at micro precision."""


def to_micros(amount: Decimal) -> int:
    """Exact conversion; raises MoneyError instead of rounding."""
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise MoneyError("amount must be a finite decimal number")
    try:
        scaled = amount.scaleb(6)
        if scaled != scaled.to_integral_value():
            raise MoneyError("amount has more than 6 decimal places")
        return int(scaled)
    except InvalidOperation as exc:
        raise MoneyError("amount is not a valid number") from exc


def from_micros(micros: int) -> Decimal:
    """A Decimal with the fewest digits that still say exactly `micros` (at least 2 places)."""
    value = (Decimal(micros) / MICROS).quantize(_QUANTUM)
    normalized = value.normalize()
    if normalized.as_tuple().exponent > -2:  # type: ignore[operator]
        return value.quantize(Decimal("0.01"))
    return normalized


def decimal_places(amount: Decimal) -> int:
    exponent = amount.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def percent_of(micros: int, percent: Decimal) -> int:
    """A fee: `percent` % of `micros`, rounded up to the next micro-unit (never lost)."""
    return int((Decimal(micros) * percent / 100).to_integral_value(rounding=ROUND_CEILING))
