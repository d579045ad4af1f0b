"""List endpoints of the workforce API: extra `<field>_gt/gte/lt/lte` datetime filters and
one `fetch_page` that applies the shared paging parameters (see kit.pagination)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from fastapi import Request
from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute, Session

from crowdpost.errors import ValidationFailed, field_error
from crowdpost.kit.pagination import RANGE_OPS, ListParams, apply_id_range, apply_range, apply_sort, page
from crowdpost.kit.timefmt import to_naive_utc

TimeRanges = dict[str, dict[str, datetime]]


def time_ranges(*fields: str) -> Callable[[Request], TimeRanges]:
    """A dependency reading e.g. `submitted_gte=2024-01-01T00:00:00` for each field named."""

    def dependency(request: Request) -> TimeRanges:
        ranges: TimeRanges = {}
        for name in fields:
            for op in RANGE_OPS:
                raw = request.query_params.get(f"{name}_{op}")
                if raw is None:
                    continue
                try:
                    parsed = datetime.fromisoformat(raw.strip())
                except ValueError as exc:
                    raise ValidationFailed(
                        {f"{name}_{op}": field_error("INVALID_DATE_TIME_SYNTAX", "expected YYYY-MM-DDThh:mm:ss")}
                    ) from exc
                # DateOutOfRange (year 1 or 9999 with an offset) is a 400 naming the parameter.
                ranges.setdefault(name, {})[op] = to_naive_utc(parsed, f"{name}_{op}")
        return ranges

    return dependency


def fetch_page(
    session: Session,
    stmt: Select[Any],
    params: ListParams,
    *,
    id_column: InstrumentedAttribute[Any],
    sort_fields: Mapping[str, InstrumentedAttribute[Any]],
    ranges: Mapping[str, Mapping[str, datetime]] | None = None,
) -> tuple[Sequence[Any], bool]:
    """One page of ORM rows (`limit + 1` fetched) and `has_more`."""
    stmt = apply_id_range(stmt, id_column, params.id_range)
    if "created" in sort_fields:
        stmt = apply_range(stmt, sort_fields["created"], params.created_range)
    for name, rng in (ranges or {}).items():
        stmt = apply_range(stmt, sort_fields[name], dict(rng))
    stmt = apply_sort(stmt, params.sort, dict(sort_fields), id_column).limit(params.limit + 1)
    return page(session.execute(stmt).scalars().all(), params.limit)
