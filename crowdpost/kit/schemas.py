"""Field types shared by wire models, the page model of every list, and `with_set` for views."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, Field, StringConstraints, WithJsonSchema

from crowdpost.kit.money import to_micros
from crowdpost.kit.timefmt import to_naive_utc

LanguageCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}(-[A-Z]{2,4})?$", max_length=8)]
# Toloka's language -> text objects: {"EN": "...", "RU": "..."}.
LangText = Annotated[dict[LanguageCode, str], Field(min_length=1)]


def _naive_utc(value: datetime) -> datetime:
    return to_naive_utc(value)  # DateOutOfRange is a ValueError: pydantic names the field


# A datetime in naive UTC, refused (400 naming the field) when an offset pushes it past year 1 or 9999.
UtcDateTime = Annotated[datetime, AfterValidator(_naive_utc)]

# Response fields as WireJSONResponse writes them, so /openapi.json describes what is sent
# (tests/security/test_schemathesis.py checks responses against it): a Decimal is an exact
# JSON number, a datetime is Toloka's naive UTC `YYYY-MM-DDThh:mm:ss.sss`, which has no
# offset and so is not an RFC 3339 `date-time`.
WireDecimal = Annotated[Decimal, WithJsonSchema({"type": "number"})]
WireDateTime = Annotated[
    datetime,
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?$",
            "description": "UTC, without an offset",
        }
    ),
]


def _exact_micros(value: Decimal) -> Decimal:
    to_micros(value)  # MoneyError is a ValueError: pydantic names the field
    return value


# An amount that converts to micro-units exactly: finite, no negative zero, at most 6 places,
# less than $10**13. Checked on the digits as written, before any arithmetic (kit.money).
MicrosDecimal = Annotated[Decimal, AfterValidator(_exact_micros)]


ItemT = TypeVar("ItemT")


class ListPage(BaseModel, Generic[ItemT]):
    """Every list's answer, `{"items": [...], "has_more": bool}` (`kit.pagination`). A list's
    response model subclasses it with its item view (`class SkillPage(ListPage[SkillView])`),
    so /openapi.json names each page as before."""

    items: list[ItemT]
    has_more: bool


def with_set(view: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """`view` with each of `fields` that is set (not None) added after its keys, in order: a
    wire object leaves an unset optional field out rather than sending null."""
    for name, value in fields.items():
        if value is not None:
            view[name] = value
    return view
