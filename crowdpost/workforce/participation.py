"""Audiences by participation: the `assignment` category of recipient filters (our extension).

    {"category": "assignment", "key": "pool_id" | "project_id",
     "operator": "EQ" | "NE" | "IN" | "NOT_IN", "value": "12" | ["12", "13"],
     "status": ["ACCEPTED", ...], "min_count": 1, "since": "2026-11-01T00:00:00"}

`EQ`/`IN` select the Tolokers who have at least `min_count` (default 1) of the calling
requester's assignments in the given pools, or in the pools of the given projects, counted
together; with one of the given statuses (`status` omitted: any); created at or after `since`
(omitted: ever; naive is UTC, as every Toloka datetime). `NE`/`NOT_IN` are the exact
complement: "has no such assignments" (or fewer than `min_count`). `EQ`/`NE` take one id,
`IN`/`NOT_IN` one or a list (at most MAX_IDS). Ids are the public ids ("000000000012") or
the same number without the zeros ("12").

Tenant isolation: every statement here filters `assignments.requester_id`, and a project is
resolved through the requester's own `pools`, so the id of another requester's pool or
project selects nobody (as if it did not exist) rather than revealing who worked there.

`filters.py` parses the common fields (category, key, operator) and calls `parse` for the
rest; `condition` compiles a leaf into the filter's single statement.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import InstrumentedAttribute

from crowdpost.errors import ValidationFailed, field_error
from crowdpost.kit.timefmt import DateOutOfRange, to_naive_utc
from crowdpost.kit.unindexed import Unindexed
from crowdpost.models import Assignment, Pool
from crowdpost.workforce.profile import AssignmentStatus

CATEGORY = "assignment"
KEYS = ("pool_id", "project_id")
FIELDS = frozenset({"status", "min_count", "since"})
MAX_IDS = 100
MAX_MIN_COUNT = 1_000_000
STATUSES = tuple(s.value for s in AssignmentStatus)
_MAX_ID_DIGITS = 18  # ids fit a 64-bit integer on both backends
_MAX_SINCE_CHARS = 40  # an ISO datetime with offset and fraction is 32

UserIdColumn = ColumnElement[str] | InstrumentedAttribute[str]


@dataclass(frozen=True)
class Participation:
    """A parsed leaf's value: pool (or project) ids, sorted; statuses (empty: any)."""

    ids: tuple[int, ...]
    statuses: tuple[str, ...] = ()
    min_count: int = 1
    since: datetime | None = None


def _fail(path: str, code: str, message: str, *params: Any) -> ValidationFailed:
    # The same shape as filters._fail: the payload names the path, the message repeats it.
    return ValidationFailed({path: field_error(code, message, *params)}, f"Invalid filter at {path}: {message}")


# ---------------------------------------------------------------------------------------------- parsing


def parse(raw: dict[str, Any], key: str, *, many: bool, path: str) -> Participation:
    """The leaf's value and optional fields; `many` when the operator is IN/NOT_IN.
    Raises ValidationFailed naming the field (`<path>.value.1`, `<path>.status`, ...)."""
    return Participation(
        ids=_ids(raw.get("value"), key, many=many, path=f"{path}.value"),
        statuses=_statuses(raw.get("status"), f"{path}.status"),
        min_count=_min_count(raw.get("min_count"), f"{path}.min_count"),
        since=_since(raw.get("since"), f"{path}.since"),
    )


def _ids(raw: Any, key: str, *, many: bool, path: str) -> tuple[int, ...]:
    what = key.removesuffix("_id")
    if raw is None:
        raise _fail(path, "VALUE_REQUIRED", f"a {key} condition needs the {what} id")
    if not isinstance(raw, list):
        return (_id(raw, what, path),)
    if not many:
        raise _fail(path, "STRING_EXPECTED", f"EQ and NE take one {what} id; IN and NOT_IN take a list")
    if not raw:
        raise _fail(path, "ARRAY_SIZE_LESS_THAN_MIN", f"give at least one {what} id", 1)
    if len(raw) > MAX_IDS:
        raise _fail(path, "ARRAY_SIZE_GREATER_THAN_MAX", f"at most {MAX_IDS} {what} ids", MAX_IDS)
    return tuple(sorted({_id(item, what, f"{path}.{i}") for i, item in enumerate(raw)}))


def _id(raw: Any, what: str, path: str) -> int:
    text = str(raw) if isinstance(raw, int) and not isinstance(raw, bool) else raw
    if not isinstance(text, str) or not text.isascii() or not text.isdigit() or len(text) > _MAX_ID_DIGITS:
        raise _fail(path, "INVALID_VALUE", f'{raw!r} is not a {what} id (such as "12")', str(raw))
    return int(text)


def _statuses(raw: Any, path: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list):
        raise _fail(path, "ARRAY_EXPECTED", "status is a list of assignment statuses", *STATUSES)
    if not items:
        raise _fail(path, "ARRAY_SIZE_LESS_THAN_MIN", "give at least one status, or leave status out", 1)
    for i, item in enumerate(items):
        if item not in STATUSES:
            where = path if isinstance(raw, str) else f"{path}.{i}"
            raise _fail(where, "UNKNOWN_ENUM_VALUE", f"{item!r} is not an assignment status", *STATUSES)
    return tuple(sorted(set(items)))


def _min_count(raw: Any, path: str) -> int:
    if raw is None:
        return 1
    # JSON numbers arrive as exact Decimals: 2 and 2.0 are the same count (checked small first).
    whole = isinstance(raw, Decimal) and raw.is_finite() and raw.adjusted() < 19 and raw == raw.to_integral_value()
    value = int(raw) if whole else raw
    if not isinstance(value, int) or isinstance(value, bool):
        raise _fail(path, "INTEGER_EXPECTED", f"min_count is a whole number, not {raw!r}")
    if value < 1:
        raise _fail(path, "VALUE_LESS_THAN_MIN", "min_count is at least 1", 1)
    if value > MAX_MIN_COUNT:
        raise _fail(path, "VALUE_GREATER_THAN_MAX", f"min_count is at most {MAX_MIN_COUNT}", MAX_MIN_COUNT)
    return value


def _since(raw: Any, path: str) -> datetime | None:
    if raw is None:
        return None
    problem = _fail(path, "INVALID_DATE_TIME_SYNTAX", "since is a datetime such as 2026-11-01T00:00:00 (UTC)")
    # Length first: fromisoformat is linear, but there is no reason to hand it a megabyte.
    if not isinstance(raw, str) or len(raw) > _MAX_SINCE_CHARS:
        raise problem
    try:
        return to_naive_utc(datetime.fromisoformat(raw.strip()), path)
    except (ValueError, DateOutOfRange):
        raise problem from None


# ---------------------------------------------------------------------------------------------- compiling


def condition(
    found: Participation, key: str, *, negate: bool, requester_id: int, user_id: UserIdColumn, as_set: bool
) -> ColumnElement[bool]:
    """The leaf as one boolean term of the outer query, whose Toloker id is `user_id`.

    As a conjunct of the top-level "and" (`as_set`) a positive leaf is `user_id IN (SELECT
    user_id ... [GROUP BY user_id HAVING count(*) >= n])`: the set is read once from the
    covering `ix_assignments_requester_id_pool_id_user_id` (requester, pool, user, status,
    created), a pool's Tolokers in user_id order, so SQLite builds the set by appending and
    groups without a sort; the planner may drive the whole query from it. Anywhere else, and
    negated, it is a per-Toloker `[NOT] EXISTS` probe: one seek of the covering
    `ix_assignments_requester_id_user_id_pool_id` (requester, user, pool, status, created), the
    Toloker's few entries checked there, which PostgreSQL turns into a semi- or anti-join at
    the top level, as the skill conditions."""
    if as_set and not negate:
        return user_id.in_(_at_least(_assignments(found, key, requester_id), found.min_count))
    rows = _assignments(found, key, requester_id, probe=True)
    if found.min_count == 1:
        held = rows.where(Assignment.user_id == user_id).exists()
    else:
        # The count is taken over this Toloker's rows only, so it stays one index probe each.
        held = _at_least(rows.where(Assignment.user_id == user_id), found.min_count).exists()
    return ~held if negate else held


def _assignments(found: Participation, key: str, requester_id: int, *, probe: bool = False) -> Select[str]:
    """This requester's assignments the leaf counts, as `SELECT user_id`; `probe` when the
    caller narrows it to one Toloker."""
    rows = select(Assignment.user_id).where(Assignment.requester_id == requester_id)
    # A probe seeks (requester, user) and checks the pools in the index entries it finds:
    # one seek per Toloker. Left indexable, the pool term lets SQLite choose one seek per
    # pool instead, in either covering index (1.08 s against 0.8 s for "never in project 1"
    # over 1,000,000 Tolokers; bench/recipients.py).
    pool = Unindexed(Assignment.pool_id) if probe else Assignment.pool_id
    if key == "pool_id":
        rows = rows.where(_one_or_in(pool, found.ids))
    else:
        # Through the requester's own pools: the pool index serves it, and a foreign project
        # has no pools of this requester, so it selects nobody.
        pools = select(Pool.id).where(Pool.requester_id == requester_id, _one_or_in(Pool.project_id, found.ids))
        rows = rows.where(pool.in_(pools))
    if found.statuses:
        rows = rows.where(_one_or_in(Assignment.status, found.statuses))
    if found.since is not None:
        rows = rows.where(Assignment.created >= found.since)
    return rows


def _at_least(rows: Select[str], min_count: int) -> Select[str]:
    if min_count == 1:
        return rows
    return rows.group_by(Assignment.user_id).having(func.count() >= min_count)


def _one_or_in(column: InstrumentedAttribute[Any] | ColumnElement[Any], values: tuple[Any, ...]) -> ColumnElement[bool]:
    # `= x` rather than `IN (x)`: the common case reads plainer in EXPLAIN and in logs.
    result: ColumnElement[bool] = column == values[0] if len(values) == 1 else column.in_(values)
    return result
