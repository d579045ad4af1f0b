"""One implementation of Toloka list parameters for every list endpoint.

`limit` (default 50, max 300), `sort` (`a,-b`), `id_gt/gte/lt/lte`,
`created_gt/gte/lt/lte`, and the `{"items": [...], "has_more": bool}` answer.
Endpoints declare which sort fields and extra range fields they allow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi import Query
from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute

from crowdpost.config import SettingsDep
from crowdpost.errors import ValidationFailed
from crowdpost.kit import ids
from crowdpost.kit.timefmt import to_naive_utc

RANGE_OPS = ("gt", "gte", "lt", "lte")


@dataclass(frozen=True)
class SortKey:
    name: str
    descending: bool


@dataclass
class ListParams:
    limit: int
    sort: list[SortKey]
    id_range: dict[str, str] = field(default_factory=dict)
    created_range: dict[str, datetime] = field(default_factory=dict)


def list_params(
    settings: SettingsDep,
    limit: int | None = Query(None, description="Page size, default 50, max 300"),
    sort: str | None = Query(None, description="Comma-separated fields, `-` for descending"),
    id_gt: str | None = Query(None),
    id_gte: str | None = Query(None),
    id_lt: str | None = Query(None),
    id_lte: str | None = Query(None),
    created_gt: datetime | None = Query(None),
    created_gte: datetime | None = Query(None),
    created_lt: datetime | None = Query(None),
    created_lte: datetime | None = Query(None),
) -> ListParams:
    """FastAPI dependency shared by every list endpoint."""
    if limit is None:
        limit = settings.page_limit_default
    if limit < 1 or limit > settings.page_limit_max:
        raise ValidationFailed(
            {
                "limit": {
                    "code": "VALUE_OUT_OF_BOUNDS",
                    "message": f"limit must be between 1 and {settings.page_limit_max}",
                    "params": [1, settings.page_limit_max],
                }
            }
        )
    id_range = {op: v for op, v in zip(RANGE_OPS, (id_gt, id_gte, id_lt, id_lte), strict=True) if v is not None}
    created_range = {
        op: to_naive_utc(v, f"created_{op}")
        for op, v in zip(RANGE_OPS, (created_gt, created_gte, created_lt, created_lte), strict=True)
        if v is not None
    }
    return ListParams(limit=limit, sort=parse_sort(sort), id_range=id_range, created_range=created_range)


def parse_sort(sort: str | None) -> list[SortKey]:
    if not sort:
        return []
    keys = []
    for raw in sort.split(","):
        name = raw.strip()
        descending = name.startswith("-")
        name = name.lstrip("-+").strip()
        if not name:
            raise ValidationFailed({"sort": {"code": "INVALID_VALUE", "message": "empty sort field", "params": [sort]}})
        keys.append(SortKey(name, descending))
    return keys


def apply_range(stmt: Select[Any], column: InstrumentedAttribute[Any], rng: dict[str, Any]) -> Select[Any]:
    """`<column> <op> <value>` for each of gt/gte/lt/lte present."""
    for op, value in rng.items():
        if op == "gt":
            stmt = stmt.where(column > value)
        elif op == "gte":
            stmt = stmt.where(column >= value)
        elif op == "lt":
            stmt = stmt.where(column < value)
        else:
            stmt = stmt.where(column <= value)
    return stmt


def apply_id_range(stmt: Select[Any], column: InstrumentedAttribute[Any], rng: dict[str, str]) -> Select[Any]:
    """Text-ordered id bounds over an integer primary key (see kit.ids)."""
    for op, text in rng.items():
        if op == "gt":
            stmt = stmt.where(column >= ids.bound_gt(text))
        elif op == "gte":
            stmt = stmt.where(column >= ids.bound_gte(text))
        elif op == "lt":
            stmt = stmt.where(column < ids.bound_lt(text))
        else:
            stmt = stmt.where(column < ids.bound_lte(text))
    return stmt


def apply_sort(
    stmt: Select[Any],
    keys: Sequence[SortKey],
    allowed: dict[str, InstrumentedAttribute[Any]],
    tiebreak: InstrumentedAttribute[Any],
) -> Select[Any]:
    """ORDER BY the requested keys, always ending on the id so pages are stable."""
    order = []
    names = set()
    for key in keys:
        column = allowed.get(key.name)
        if column is None:
            raise ValidationFailed(
                {
                    "sort": {
                        "code": "INVALID_VALUE",
                        "message": f"cannot sort by {key.name!r}; allowed: {', '.join(sorted(allowed))}",
                        "params": sorted(allowed),
                    }
                }
            )
        names.add(key.name)
        order.append(column.desc() if key.descending else column.asc())
    if "id" not in names:
        order.append(tiebreak.asc())
    return stmt.order_by(*order)


def page(rows: Sequence[Any], limit: int) -> tuple[list[Any], bool]:
    """Split a `limit + 1` fetch into the page and `has_more`."""
    return list(rows[:limit]), len(rows) > limit
