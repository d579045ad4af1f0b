"""Toloka's list query parameters, as FastAPI dependencies: `limit`, `sort`,
`id_gt/gte/lt/lte`, `created_gt/gte/lt/lte` (`list_params`, `PagingDep`) and the extra time
ranges a list declares (`time_ranges`). They answer `kit.pagination.ListParams` and
`TimeRanges`, which the services and repositories take without knowing HTTP.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Query
from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

from crowdpost.dependencies import SettingsDep
from crowdpost.errors import ValidationFailed
from crowdpost.kit.pagination import RANGE_OPS, ListParams, TimeRanges, parse_sort
from crowdpost.kit.timefmt import to_naive_utc


def _iso_datetime(raw: Any) -> Any:
    """`datetime.fromisoformat`, as the workforce lists have always parsed their time filters
    (it accepts `20240101`, FastAPI's parser accepts `1700000000`: each keeps its own)."""
    if not isinstance(raw, str):
        return raw
    try:
        return datetime.fromisoformat(raw.strip())
    except ValueError:
        raise PydanticCustomError("datetime_parsing", "expected YYYY-MM-DDThh:mm:ss") from None


IsoDateTime = Annotated[datetime, BeforeValidator(_iso_datetime)]


def _bounds(name: str, values: Sequence[datetime | None]) -> dict[str, datetime]:
    """`{op: naive UTC}` for the `<name>_gt/gte/lt/lte` given; DateOutOfRange names the parameter."""
    return {op: to_naive_utc(v, f"{name}_{op}") for op, v in zip(RANGE_OPS, values, strict=True) if v is not None}


def time_ranges(*fields: str, iso_only: bool = True) -> Callable[..., TimeRanges]:
    """A dependency declaring `<field>_gt/gte/lt/lte` as typed query parameters for each field
    named (so /openapi.json lists them), answering `{field: {op: naive UTC datetime}}` for the
    fields given; a far datetime is a DateOutOfRange naming its parameter. They are parsed by
    `datetime.fromisoformat` (the workforce lists), or with `iso_only=False` by FastAPI's
    datetime parser (the operations list; `created_*`, in `list_params`, too): what each
    accepted and each error message stay as they were."""
    annotation = (IsoDateTime if iso_only else datetime) | None

    def dependency(**values: datetime | None) -> TimeRanges:
        ranges = {name: _bounds(name, [values[f"{name}_{op}"] for op in RANGE_OPS]) for name in fields}
        return {name: bounds for name, bounds in ranges.items() if bounds}

    dependency.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(f"{name}_{op}", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation)
            for name in fields
            for op in RANGE_OPS
        ]
    )
    return dependency


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
    created_range = _bounds("created", (created_gt, created_gte, created_lt, created_lte))
    return ListParams(limit=limit, sort=parse_sort(sort), id_range=id_range, created_range=created_range)


PagingDep = Annotated[ListParams, Depends(list_params)]
