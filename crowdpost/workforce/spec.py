"""Toloka objects we store but do not interpret (`spec` columns) and how they go back out.

Pure value helpers (no SQL, no HTTP) used by the services and by `schemas.py`."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from crowdpost.errors import ValidationFailed, field_error
from crowdpost.kit.wirecheck import MAX_FREE_FORM_DEPTH


def _number(value: Decimal) -> Any:
    if value.is_finite() and value == value.to_integral_value() and abs(value) < 2**53:
        return int(value)
    as_float = float(value)
    # Beyond a double's range the number is kept as its text rather than as Infinity.
    return as_float if math.isfinite(as_float) else str(value)


def _too_deep(where: str, limit: int) -> ValidationFailed:
    problem = field_error("VALUE_GREATER_THAN_MAX", f"free-form values nest at most {limit} levels", limit)
    return ValidationFailed({where or "body": problem})


def nesting_path(value: Any, limit: int = MAX_FREE_FORM_DEPTH) -> str | None:
    """The relative path of the first container nested deeper than `limit` below `value`
    (`value` itself is level 0), or None. Iterative: any depth is safe."""
    stack: list[tuple[Any, int, str]] = [(value, 0, "")]
    while stack:
        node, depth, where = stack.pop()
        if depth > limit:
            return where
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, item in items:
            if isinstance(item, dict | list | tuple):
                stack.append((item, depth + 1, f"{where}.{key}" if where else str(key)))
    return None


def plain_json(value: Any, *, path: str = "", limit: int = MAX_FREE_FORM_DEPTH) -> Any:
    """`value` with every Decimal made an int or float, so a JSON column can store it.

    Numbers in these objects (rewards per assignment, overlaps, answers) are not money we
    account for; Toloka's clients read them as floats anyway. Containers may nest `limit`
    levels below `value` (a free-form field of a project, `metadata: [[...]]`, gets 32);
    deeper is a 400 naming the path under `path`. Built iteratively, never recursing."""
    holder: list[Any] = [None]
    stack: list[tuple[Any, Any, Any, int, str]] = [(value, holder, 0, 0, path)]
    while stack:
        src, target, slot, depth, where = stack.pop()
        if isinstance(src, dict):
            if depth > limit:
                raise _too_deep(where, limit)
            out: dict[str, Any] = {}
            target[slot] = out
            for key, item in src.items():
                name = str(key)
                out[name] = None  # keeps the key order; filled when popped
                stack.append((item, out, name, depth + 1, f"{where}.{name}" if where else name))
        elif isinstance(src, list | tuple):
            if depth > limit:
                raise _too_deep(where, limit)
            seq: list[Any] = [None] * len(src)
            target[slot] = seq
            for index, item in enumerate(src):
                stack.append((item, seq, index, depth + 1, f"{where}.{index}" if where else str(index)))
        elif isinstance(src, Decimal):
            target[slot] = _number(src)
        else:
            target[slot] = src
    return holder[0]
