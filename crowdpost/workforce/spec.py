"""Toloka objects we store but do not interpret (`spec` columns) and how they go back out."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any


def plain_json(value: Any) -> Any:
    """`value` with every Decimal made an int or float, so a JSON column can store it.

    Numbers in these objects (rewards per assignment, overlaps, answers) are not money we
    account for; Toloka's clients read them as floats anyway."""
    if isinstance(value, Decimal):
        if value.is_finite() and value == value.to_integral_value() and abs(value) < 2**53:
            return int(value)
        as_float = float(value)
        # Beyond a double's range the number is kept as its text rather than as Infinity.
        return as_float if math.isfinite(as_float) else str(value)
    if isinstance(value, dict):
        return {str(k): plain_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain_json(v) for v in value]
    return value
