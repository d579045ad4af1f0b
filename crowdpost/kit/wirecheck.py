"""Request input every backend stores the same way, checked once where requests are decoded.

`WireRoute` runs `check_body` on every decoded JSON body and `check_params` on every
query and path parameter, before any model or domain code sees them:

- **Unstorable characters.** U+0000 (NUL) and lone surrogates (U+D800..U+DFFF not in a
  pair) in any string, object keys included. PostgreSQL refuses NUL in text and neither
  backend can store a lone surrogate as UTF-8, so the same request would be a 201 on one
  backend and a 500 on the other. A decoded JSON string can only hold them through a
  `\\u` escape (raw control characters and raw surrogates are invalid JSON/UTF-8), so a
  body without such an escape skips the per-string search entirely.
- **Nesting.** At most `MAX_BODY_DEPTH` levels; a filter of 32 nested groups (the filter
  engine's own cap, named by path there) needs 66, so 100 fits every Toloka body.
  Free-form objects we store (`spec`, solutions) are capped at `MAX_FREE_FORM_DEPTH` by
  `workforce.spec.plain_json`.
- **Numbers.** Within a double's range (|x| < 1e309, and no smaller than 1e-400 unless 0):
  `Decimal("1e999999999")` is a valid JSON number whose arithmetic can overflow, raise or
  build a billion-digit integer. No Toloka field holds anything beyond that range.

The walk is iterative (no recursion, whatever the depth) and linear in the value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from crowdpost.errors import ValidationFailed, field_error

MAX_BODY_DEPTH = 100
MAX_FREE_FORM_DEPTH = 32
MAX_ERRORS = 20
_MAX_ADJUSTED = 308
_MIN_ADJUSTED = -400
_INT_LIMIT = 10 ** (_MAX_ADJUSTED + 1)

# One character class, searched once: linear, nothing to backtrack.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# The only JSON escapes that can produce one (`\\\\u0000` matches too: harmless, it only
# means the strings get searched).
_RISKY_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def body_may_hold_unstorable(raw: bytes) -> bool:
    return _RISKY_ESCAPE.search(raw) is not None


def unstorable_problem(text: str) -> dict[str, Any] | None:
    """The field error for a string holding NUL or a lone surrogate, else None."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    position = found.start()
    if found.group() == "\x00":
        return field_error("INVALID_VALUE", f"U+0000 (NUL) at character {position} cannot be stored", position)
    return field_error(
        "INVALID_VALUE", f"a lone surrogate (U+{ord(found.group()):04X}) at character {position} is not text", position
    )


def printable_key(key: str) -> str:
    """A key fit to name in a path: unstorable characters replaced by U+FFFD."""
    return _UNSTORABLE.sub("\ufffd", key)


def number_problem(value: Any) -> dict[str, Any] | None:
    """The field error for a JSON number outside a double's range, else None."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            return field_error("VALUE_OUT_OF_BOUNDS", "the number must be finite")
        exponent = value.as_tuple().exponent if value.is_zero() else value.adjusted()
        assert isinstance(exponent, int)
        if _MIN_ADJUSTED <= exponent <= _MAX_ADJUSTED:
            return None
    elif isinstance(value, int) and not isinstance(value, bool):
        if -_INT_LIMIT < value < _INT_LIMIT:
            return None
    else:
        return None
    return field_error("VALUE_OUT_OF_BOUNDS", f"numbers must lie within 1e-400 and 1e{_MAX_ADJUSTED + 1} in magnitude")


def _path(trail: list[tuple[int, Any]], at: int, key: Any) -> str:
    parts: list[str] = [] if key is None else [str(key)]
    while at >= 0:
        parent, name = trail[at]
        parts.append(str(name))
        at = parent
    parts.reverse()
    return ".".join(parts[1:]) if len(parts) > 1 else "body"


def check_body(value: Any, *, strings: bool = True, root: str = "body") -> None:
    """ValidationFailed naming each bad path (`text.EN`, `0.public_title.EN`); else None.

    `strings=False` skips the character search (see `body_may_hold_unstorable`)."""
    errors: dict[str, Any] = {}
    # trail[i] = (parent trail index, key): enough to name a path only when one is needed.
    trail: list[tuple[int, Any]] = [(-1, root)]
    stack: list[tuple[Any, int, int]] = []  # (container, depth, trail index)
    search = _UNSTORABLE.search

    def fail(at: int, key: Any, problem: dict[str, Any]) -> bool:
        errors.setdefault(_path(trail, at, key), problem)
        return len(errors) >= MAX_ERRORS

    def bad_scalar(item: Any) -> dict[str, Any] | None:
        if type(item) is str:
            return unstorable_problem(item) if strings else None
        return number_problem(item)

    if type(value) in (dict, list):
        stack.append((value, 1, 0))
    else:
        problem = bad_scalar(value)
        if problem is not None:
            fail(-1, None, problem)
    while stack and len(errors) < MAX_ERRORS:
        node, depth, at = stack.pop()
        if depth > MAX_BODY_DEPTH:
            fail(
                at,
                None,
                field_error("VALUE_GREATER_THAN_MAX", f"JSON nests at most {MAX_BODY_DEPTH} levels", MAX_BODY_DEPTH),
            )
            continue
        items: Iterable[tuple[Any, Any]] = node.items() if type(node) is dict else enumerate(node)
        for key, item in items:
            name = key
            if strings and type(key) is str and search(key) is not None:
                problem = unstorable_problem(key)
                assert problem is not None
                name = printable_key(key)
                if fail(at, name, {**problem, "message": "the key: " + problem["message"]}):
                    break
            kind = type(item)
            # The common cases inline: this runs for every value of 100,000-item batches.
            if kind is str:
                if not strings or search(item) is None:
                    continue
            elif kind is dict or kind is list:
                trail.append((at, name))
                stack.append((item, depth + 1, len(trail) - 1))
                continue
            elif kind is int:
                if -_INT_LIMIT < item < _INT_LIMIT:
                    continue
            elif kind is Decimal:
                if item.is_finite() and not item.is_zero() and _MIN_ADJUSTED <= item.adjusted() <= _MAX_ADJUSTED:
                    continue
            else:
                continue
            problem = bad_scalar(item)
            if problem is not None and fail(at, name, problem):
                break
    if errors:
        raise ValidationFailed(errors, "The request holds input that cannot be stored: " + ", ".join(errors))


def check_params(params: Iterable[tuple[str, str]]) -> None:
    """The same character check for query and path parameters, named by parameter."""
    errors: dict[str, Any] = {}
    for name, value in params:
        for text, label in ((name, "the name: "), (value, "")):
            if isinstance(text, str):
                problem = unstorable_problem(text)
                if problem is not None:
                    errors.setdefault(printable_key(name), {**problem, "message": label + problem["message"]})
    if errors:
        raise ValidationFailed(errors, "The request holds input that cannot be stored: " + ", ".join(errors))
