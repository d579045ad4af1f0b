"""One implementation of Toloka list parameters and paging for every list endpoint.

`limit` (default 50, max 300), `sort` (`a,-b`), `id_gt/gte/lt/lte`,
`created_gt/gte/lt/lte`, and the `{"items": [...], "has_more": bool}` answer.
Endpoints read the parameters through `kit.list_query` (`PagingDep`, and `time_ranges` for
extra time ranges), which answers the `ListParams` and `TimeRanges` defined here; repositories
page with `paginate`. The pages' Newest / Older lists page with `page_before`. Nothing here
knows HTTP, so services and repositories take these types without loading FastAPI.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute, Session

from crowdpost.errors import ValidationFailed
from crowdpost.kit import ids

RANGE_OPS = ("gt", "gte", "lt", "lte")
RowT = TypeVar("RowT")


@dataclass(frozen=True)
class SortKey:
    name: str
    descending: bool


TimeRanges = dict[str, dict[str, datetime]]


@dataclass
class ListParams:
    limit: int
    sort: list[SortKey]
    id_range: dict[str, str] = field(default_factory=dict)
    created_range: dict[str, datetime] = field(default_factory=dict)


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


def where_equal(stmt: Select[Any], *given: tuple[InstrumentedAttribute[Any], Any]) -> Select[Any]:
    """`<column> = <value>` for each (column, value) whose value is not None: a list's
    optional equality filters, in the order given."""
    for column, value in given:
        if value is not None:
            stmt = stmt.where(column == value)
    return stmt


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


def list_answer(rows: Iterable[RowT], has_more: bool, view: Callable[[RowT], Any]) -> dict[str, Any]:
    """The `{"items": [...], "has_more": bool}` answer of every list endpoint, each row as
    `view` shows it: one place says what a list answers."""
    return {"items": [view(row) for row in rows], "has_more": has_more}


def page_before(
    session: Session, stmt: Select[Any], id_column: InstrumentedAttribute[int], before_id: int | None, limit: int
) -> tuple[list[Any], int | None]:
    """The pages' paging (Older / Newest links): `stmt`'s rows below `before_id`, newest
    first, at most `limit`, and the `before_id` of the next page (None at the end)."""
    if before_id is not None:
        stmt = stmt.where(id_column < before_id)
    rows = session.execute(stmt.order_by(id_column.desc()).limit(limit + 1)).scalars().all()
    shown = list(rows[:limit])
    return shown, (getattr(shown[-1], id_column.key) if len(rows) > limit else None)


def paginate(
    session: Session,
    stmt: Select[Any],
    params: ListParams,
    *,
    id_column: InstrumentedAttribute[Any],
    sort_fields: Mapping[str, InstrumentedAttribute[Any]],
    ranges: Mapping[str, Mapping[str, datetime]] | None = None,
    text_ids: bool = False,
    whole_rows: bool = False,
) -> tuple[list[Any], bool]:
    """One page of `stmt`'s rows and `has_more`: the paging of every list endpoint.

    Adds, in this order, the id bounds (integer ranges on the primary key behind our
    fixed-width ids, or plain text comparisons with `text_ids` for client-chosen ids),
    `created_*` when `created` is a sort field, each extra time range on the sort field of
    that name, then ORDER BY (ending on the id) and LIMIT `limit + 1`. The page holds ORM
    objects, or with `whole_rows` the rows of a statement that selects several things."""
    if text_ids:
        stmt = apply_range(stmt, id_column, params.id_range)
    else:
        stmt = apply_id_range(stmt, id_column, params.id_range)
    if "created" in sort_fields:
        stmt = apply_range(stmt, sort_fields["created"], params.created_range)
    for name, rng in (ranges or {}).items():
        stmt = apply_range(stmt, sort_fields[name], dict(rng))
    stmt = apply_sort(stmt, params.sort, dict(sort_fields), id_column).limit(params.limit + 1)
    result = session.execute(stmt)
    return page(result.all() if whole_rows else result.scalars().all(), params.limit)
