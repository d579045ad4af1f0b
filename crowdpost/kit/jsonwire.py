"""JSON on the wire: numbers parse as Decimal and Decimals render as exact numbers.

The standard library would turn `0.1` into a float on the way in and FastAPI's
encoder would turn a Decimal into a float on the way out; both lose money.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

import simplejson
from pydantic import BaseModel

from crowdpost.kit.timefmt import format_datetime


class JsonBodyError(ValueError):
    """The body is not a UTF-8 JSON document."""


def _reject_constant(name: str) -> Any:
    raise JsonBodyError(f"{name} is not a JSON number")


def loads(raw: bytes) -> Any:
    """Strict JSON: UTF-8 only, Decimal numbers, no NaN/Infinity."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JsonBodyError(f"body is not valid UTF-8 (byte {exc.start})") from exc
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        return json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise JsonBodyError(f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    except JsonBodyError:
        raise
    except ValueError as exc:  # an integer literal past Python's 4,300-digit conversion limit
        raise JsonBodyError(f"malformed JSON: {exc}") from exc
    except RecursionError as exc:
        raise JsonBodyError("JSON nested too deeply") from exc


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="python", by_alias=True, exclude_none=True)
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(content: Any) -> bytes:
    return simplejson.dumps(
        content,
        use_decimal=True,
        default=_default,
        ensure_ascii=False,
        separators=(",", ":"),
        allow_nan=False,
    ).encode("utf-8")
