"""Toloka filter JSON -> one SQL condition over Tolokers.

    {"and": [leaf | group, ...]}   {"or": [...]}   nested to any depth (capped at MAX_DEPTH)
    leaf: {"category": "skill" | "profile" | "computed", "key", "operator", "value"}
          {"category": "assignment", "key": "pool_id" | "project_id", "operator", "value",
           "status"?, "min_count"?, "since"?}     (ours: see `participation.py`)

`parse_filter` validates the whole document first (size, shape, key, operator, value
type) and raises ValidationFailed naming the path of the first problem, e.g.
`recipients_filter.and.1.or.0.value`. `compile_filter` turns the parsed tree into a
single SQLAlchemy boolean expression: profile and computed keys are column comparisons
on `tolokers`, languages a substring test of `tolokers.language_list`, and skills and
participation are sub-selects over indexes (see `compile_filter` for which form where).
Nothing is loaded into Python.

Semantics (also in the description of `POST /api/v1/recipients/count`):
- `NE` is exactly the complement of `EQ`, and `NOT_IN` of `IN`: a Toloker whose value
  is unknown (NULL, or no such skill) matches `NE`/`NOT_IN` and never `EQ`/`IN`.
- `GT GTE LT LTE` only match Tolokers that have a value.
- Skills: `value: null` (or no `value`) with `EQ` means "has no value for this skill",
  with `NE` "has one". Values past the skill's TTL count as unset. Only the calling
  requester's skills are visible; another requester's skill id matches nobody.
- `UNKNOWN` as the value of an enumerated computed key means "not detected" (NULL).
- Regions and cities compare by id (no region hierarchy is stored).
- `assignment` (ours, not Toloka's): `EQ`/`IN` select Tolokers with at least `min_count`
  (default 1) of this requester's assignments in the given pools (`key: pool_id`) or in the
  pools of the given projects (`key: project_id`), counted together, optionally only with the
  given `status` list and created at or after `since`; `NE`/`NOT_IN` are the complement ("has
  no such assignments"). Another requester's pool or project selects nobody.

Where it sits: a compiler, used by `repository/audience.py` (compile_filter) and by the
services (parse_filter, to check a pool's filter); it runs no statement itself, so it stays
a module of its own beside `repository/` rather than inside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, or_, select, true
from sqlalchemy.orm import InstrumentedAttribute, aliased

from crowdpost.errors import ValidationFailed, field_error
from crowdpost.kit.jsonwire import dumps
from crowdpost.kit.language_list import speaks
from crowdpost.kit.sqlclock import db_utcnow
from crowdpost.models import Toloker, UserSkill
from crowdpost.workforce import participation
from crowdpost.workforce.profile import ClientType, DeviceCategory, Education, Gender, OsFamily, UserAgentType

MAX_FILTER_CHARS = 10_000
MAX_DEPTH = 32
UNKNOWN = "UNKNOWN"


class Operator(StrEnum):
    EQ = "EQ"
    NE = "NE"
    GT = "GT"
    GTE = "GTE"
    LT = "LT"
    LTE = "LTE"
    IN = "IN"
    NOT_IN = "NOT_IN"


EQUALITY = frozenset({Operator.EQ, Operator.NE})
ORDERED = frozenset(Operator) - {Operator.IN, Operator.NOT_IN}
MEMBERSHIP = frozenset({Operator.IN, Operator.NOT_IN})


class Kind(StrEnum):
    """How a leaf's `value` is checked and compared."""

    ENUM = "enum"
    COUNTRY = "country"
    BOOL = "bool"
    INT = "int"
    DECIMAL = "decimal"
    TEXT = "text"
    LANGUAGE = "language"
    SKILL = "skill"
    PARTICIPATION = "participation"


@dataclass(frozen=True)
class KeySpec:
    category: str
    operators: frozenset[Operator]
    kind: Kind
    choices: frozenset[str] = frozenset()


def _enum(category: str, enum: type[StrEnum]) -> KeySpec:
    return KeySpec(category, EQUALITY, Kind.ENUM, frozenset(e.value for e in enum))


KEYS: dict[str, KeySpec] = {
    # profile
    "gender": _enum("profile", Gender),
    "country": KeySpec("profile", EQUALITY, Kind.COUNTRY),
    "citizenship": KeySpec("profile", EQUALITY, Kind.COUNTRY),
    "education": _enum("profile", Education),
    "adult_allowed": KeySpec("profile", EQUALITY, Kind.BOOL),
    "verified": KeySpec("profile", EQUALITY, Kind.BOOL),
    "date_of_birth": KeySpec("profile", ORDERED, Kind.INT),
    "city": KeySpec("profile", MEMBERSHIP, Kind.INT),
    "languages": KeySpec("profile", MEMBERSHIP, Kind.LANGUAGE),
    # computed
    "client_type": _enum("computed", ClientType),
    "device_category": _enum("computed", DeviceCategory),
    "os_family": _enum("computed", OsFamily),
    "user_agent_type": _enum("computed", UserAgentType),
    "user_agent_family": KeySpec("computed", EQUALITY, Kind.TEXT),
    "region_by_phone": KeySpec("computed", MEMBERSHIP, Kind.INT),
    "region_by_ip": KeySpec("computed", MEMBERSHIP, Kind.INT),
    "os_version": KeySpec("computed", ORDERED, Kind.DECIMAL),
    "user_agent_version": KeySpec("computed", ORDERED, Kind.DECIMAL),
    **{
        f"{prefix}_{part}": KeySpec("computed", ORDERED, Kind.INT)
        for prefix in ("os_version", "user_agent_version")
        for part in ("major", "minor", "bugfix")
    },
}
SKILL_SPEC = KeySpec("skill", ORDERED, Kind.SKILL)
PARTICIPATION_SPEC = KeySpec(participation.CATEGORY, EQUALITY | MEMBERSHIP, Kind.PARTICIPATION)
CATEGORIES = ("skill", "profile", "computed", participation.CATEGORY)
_LEAF_FIELDS = frozenset({"category", "key", "operator", "value"})
_ANY_LEAF_FIELDS = _LEAF_FIELDS | participation.FIELDS
_CATEGORY_FIELDS = {participation.CATEGORY: _ANY_LEAF_FIELDS}


@dataclass(frozen=True)
class Leaf:
    path: str
    category: str
    key: str
    operator: Operator
    # Normalized: str, bool, int, Decimal, or None ("unknown" / "no skill"); for the
    # `assignment` category a participation.Participation.
    value: Any


@dataclass(frozen=True)
class Group:
    conjunction: str  # "and" | "or"
    members: tuple[Leaf | Group, ...]


Node = Leaf | Group
UserIdColumn = ColumnElement[str] | InstrumentedAttribute[str]


def _fail(path: str, code: str, message: str, *params: Any) -> ValidationFailed:
    return ValidationFailed({path: field_error(code, message, *params)}, f"Invalid filter at {path}: {message}")


# ---------------------------------------------------------------------------------------------- parsing


def parse_filter(raw: Any, path: str = "recipients_filter") -> Node:
    """Validate a Toloka filter document; raises ValidationFailed naming the bad path."""
    if not isinstance(raw, dict):
        raise _fail(path, "OBJECT_EXPECTED", 'a filter is an object: {"and": [...]} or {"or": [...]}')
    try:
        size = len(dumps(raw).decode("utf-8"))
    except (TypeError, ValueError, RecursionError) as exc:
        raise _fail(path, "INVALID_VALUE", "the filter is not plain JSON") from exc
    if size > MAX_FILTER_CHARS:
        raise _fail(
            path, "OBJECT_SIZE_BYTES_GREATER_THAN_MAX", f"the filter is {size} characters; at most {MAX_FILTER_CHARS}"
        )
    return _node(raw, path, 0)


def _node(raw: Any, path: str, depth: int) -> Node:
    if not isinstance(raw, dict):
        raise _fail(path, "OBJECT_EXPECTED", "each member must be a condition or an and/or group")
    if "and" in raw or "or" in raw:
        return _group(raw, path, depth)
    return _leaf(raw, path)


def _group(raw: dict[str, Any], path: str, depth: int) -> Group:
    if len(raw) != 1:
        raise _fail(path, "MAX_ONE_PROPERTY_ALLOWED", 'a group has exactly one key, "and" or "or"')
    conjunction, members = next(iter(raw.items()))
    path = f"{path}.{conjunction}"
    if depth >= MAX_DEPTH:
        raise _fail(path, "VALUE_GREATER_THAN_MAX", f"groups nest at most {MAX_DEPTH} deep", MAX_DEPTH)
    if not isinstance(members, list):
        raise _fail(path, "ARRAY_EXPECTED", f'"{conjunction}" takes a list of conditions')
    if not members:
        raise _fail(path, "ARRAY_SIZE_LESS_THAN_MIN", f'"{conjunction}" needs at least one condition', 1)
    return Group(conjunction, tuple(_node(m, f"{path}.{i}", depth + 1) for i, m in enumerate(members)))


def _leaf(raw: dict[str, Any], path: str) -> Leaf:
    for name in raw:
        if name not in _ANY_LEAF_FIELDS:
            raise _fail(f"{path}.{name}", "VALUE_NOT_ALLOWED", f"unknown field {name!r} in a condition")
    for name in ("category", "key", "operator"):
        if raw.get(name) is None:
            raise _fail(f"{path}.{name}", "VALUE_REQUIRED", f"a condition needs {name!r}")
    category = raw["category"]
    if not isinstance(category, str) or category.lower() not in CATEGORIES:
        raise _fail(
            f"{path}.category",
            "UNKNOWN_ENUM_VALUE",
            "category must be skill, profile, computed or assignment",
            *CATEGORIES,
        )
    category = category.lower()
    allowed = _CATEGORY_FIELDS.get(category, _LEAF_FIELDS)
    for name in raw:
        if name not in allowed:
            raise _fail(f"{path}.{name}", "VALUE_NOT_ALLOWED", f"{name!r} belongs to assignment conditions only")
    key, spec = _key(raw["key"], category, f"{path}.key")
    operator = _operator(raw["operator"], spec, key, f"{path}.operator")
    if spec is PARTICIPATION_SPEC:
        value = participation.parse(raw, key, many=operator in MEMBERSHIP, path=path)
    else:
        value = _value(raw.get("value"), spec, operator, key, f"{path}.value")
    return Leaf(path, category, key, operator, value)


def _key(raw: Any, category: str, path: str) -> tuple[str, KeySpec]:
    if category == participation.CATEGORY:
        if raw not in participation.KEYS:
            raise _fail(path, "UNKNOWN_ENUM_VALUE", f"unknown assignment key {raw!r}", *participation.KEYS)
        return raw, PARTICIPATION_SPEC
    if category == "skill":
        text = str(raw) if isinstance(raw, int) and not isinstance(raw, bool) else raw
        if not isinstance(text, str) or not text.isdigit() or not text.isascii() or len(text) > 18:
            raise _fail(path, "INVALID_VALUE", "a skill condition's key is a skill id", str(raw))
        return str(int(text)), SKILL_SPEC
    spec = KEYS.get(raw) if isinstance(raw, str) else None
    if spec is None:
        known = sorted(k for k, s in KEYS.items() if s.category == category)
        raise _fail(path, "UNKNOWN_ENUM_VALUE", f"unknown {category} key {raw!r}", *known)
    if spec.category != category:
        raise _fail(path, "INVALID_VALUE", f"{raw!r} is a {spec.category} key, not {category}", spec.category)
    return raw, spec


def _operator(raw: Any, spec: KeySpec, key: str, path: str) -> Operator:
    try:
        operator = Operator(raw.upper()) if isinstance(raw, str) else None
    except ValueError:
        operator = None
    if operator is None or operator not in spec.operators:
        allowed = sorted(spec.operators)
        raise _fail(path, "UNKNOWN_ENUM_VALUE", f"{key} takes the operators {', '.join(allowed)}", *allowed)
    return operator


def _value(raw: Any, spec: KeySpec, operator: Operator, key: str, path: str) -> Any:
    if raw is None:
        if operator in ORDERED - EQUALITY or spec.kind is Kind.LANGUAGE:
            raise _fail(path, "VALUE_REQUIRED", f"{key} {operator} needs a value")
        return None
    checker = _CHECKERS[spec.kind]
    value = checker(raw, spec)
    if value is _INVALID:
        raise _fail(path, _EXPECTED[spec.kind], f"{raw!r} is not a valid value for {key}: {_HINTS[spec.kind]}")
    return value


_INVALID: Any = object()


def _as_int(raw: Any, spec: KeySpec) -> Any:
    if isinstance(raw, bool):
        return _INVALID
    whole_float = isinstance(raw, float) and raw.is_integer()
    whole_decimal = isinstance(raw, Decimal) and raw.is_finite() and raw == raw.to_integral_value()
    if whole_float or (whole_decimal and raw.adjusted() < 19):
        raw = int(raw)
    # Both backends store these in 64-bit integers.
    return raw if isinstance(raw, int) and abs(raw) < 2**62 else _INVALID


def _as_decimal(raw: Any, spec: KeySpec) -> Any:
    if isinstance(raw, bool):
        return _INVALID
    if isinstance(raw, int | Decimal):
        value = Decimal(raw)
    elif isinstance(raw, float):  # filters built in Python rather than parsed from JSON
        value = Decimal(repr(raw))
    elif isinstance(raw, str):
        try:
            value = Decimal(raw.strip())
        except InvalidOperation:
            return _INVALID
    else:
        return _INVALID
    return value if value.is_finite() and value >= 0 and abs(value.adjusted()) < 12 else _INVALID


def _as_skill(raw: Any, spec: KeySpec) -> Any:
    value = _as_decimal(raw, spec)
    return value if value is _INVALID or value <= 100 else _INVALID


def _as_enum(raw: Any, spec: KeySpec) -> Any:
    if raw == UNKNOWN:
        return None
    return raw if isinstance(raw, str) and raw in spec.choices else _INVALID


def _as_country(raw: Any, spec: KeySpec) -> Any:
    ok = isinstance(raw, str) and len(raw) == 2 and raw.isascii() and raw.isalpha() and raw.isupper()
    return raw if ok else _INVALID


def _as_bool(raw: Any, spec: KeySpec) -> Any:
    return raw if isinstance(raw, bool) else _INVALID


def _as_text(raw: Any, spec: KeySpec) -> Any:
    if raw == UNKNOWN:
        return None
    return raw if isinstance(raw, str) and 0 < len(raw) <= 64 else _INVALID


def _as_language(raw: Any, spec: KeySpec) -> Any:
    if not isinstance(raw, str) or not 2 <= len(raw) <= 8 or not raw.isascii():
        return _INVALID
    head, _, tail = raw.partition("-")
    ok = len(head) == 2 and head.isalpha() and head.isupper() and (not tail or (tail.isalpha() and tail.isupper()))
    return raw if ok else _INVALID


_CHECKERS = {
    Kind.ENUM: _as_enum,
    Kind.COUNTRY: _as_country,
    Kind.BOOL: _as_bool,
    Kind.INT: _as_int,
    Kind.DECIMAL: _as_decimal,
    Kind.TEXT: _as_text,
    Kind.LANGUAGE: _as_language,
    Kind.SKILL: _as_skill,
}  # Kind.PARTICIPATION: participation.parse reads the value with the leaf's other fields
_EXPECTED = {
    Kind.ENUM: "UNKNOWN_ENUM_VALUE",
    Kind.COUNTRY: "PATTERN_MISMATCH",
    Kind.BOOL: "BOOLEAN_EXPECTED",
    Kind.INT: "INTEGER_EXPECTED",
    Kind.DECIMAL: "FLOAT_EXPECTED",
    Kind.TEXT: "STRING_EXPECTED",
    Kind.LANGUAGE: "PATTERN_MISMATCH",
    Kind.SKILL: "VALUE_OUT_OF_BOUNDS",
}
_HINTS = {
    Kind.ENUM: "one of the documented values, or UNKNOWN",
    Kind.COUNTRY: "an upper-case ISO 3166-1 alpha-2 code such as GB",
    Kind.BOOL: "true or false",
    Kind.INT: "an integer",
    Kind.DECIMAL: "a non-negative number",
    Kind.TEXT: "a string of at most 64 characters",
    Kind.LANGUAGE: "an upper-case ISO 639-1 code such as EN",
    Kind.SKILL: "a number from 0 to 100, or null",
}


# ---------------------------------------------------------------------------------------------- compiling


def uses_profile(node: Node) -> bool:
    """Whether the condition reads `tolokers` columns (the caller joins the table only then)."""
    if isinstance(node, Group):
        return any(uses_profile(m) for m in node.members)
    return node.category not in ("skill", participation.CATEGORY)


@dataclass(frozen=True)
class CompiledFilter:
    """A filter as SQL: the condition, and the outer joins it reads (`SkillJoins`; none
    unless asked for), which the caller adds to its statement's FROM as they are."""

    condition: ColumnElement[bool]
    outer_joins: tuple[tuple[Any, ColumnElement[bool]], ...] = ()


def compile_filter(
    node: Node, *, requester_id: int, user_id: UserIdColumn, skills_joined: bool = False
) -> CompiledFilter:
    """One boolean expression; `user_id` is the outer query's Toloker id column, and
    profile keys refer to the `Toloker` entity, which the caller joins when `uses_profile`.

    Members of a group are emitted cheapest first (column comparisons, then sub-selects):
    SQLite evaluates terms in order and stops early, PostgreSQL plans them anyway. A skill
    condition every recipient must meet (a conjunct of the top-level "and") becomes
    `IN (SELECT ...)`, a set read once from the covering index that the planner may also
    drive the query from; one inside an "or", and every negation, becomes a per-Toloker
    `[NOT] EXISTS` probe (cheaper there than a set lookup on SQLite, and an anti-join of
    any size on PostgreSQL, where a large `NOT IN` list would be re-scanned per row), or,
    with `skills_joined`, a test of an outer join (`SkillJoins`)."""
    joins = SkillJoins(requester_id, user_id) if skills_joined and SkillJoins.pay_off(node) else None
    condition = _compile(node, requester_id, user_id, joins, top_level=True)
    return CompiledFilter(condition, joins.outer_joins() if joins else ())


def _probes(node: Node, *, top_level: bool) -> list[Leaf]:
    """The leaves compiled as per-Toloker probes: skill and participation conditions that
    are not a set every recipient must be in (see `compile_filter`)."""
    if isinstance(node, Group):
        conjunct = top_level and node.conjunction == "and"
        return [leaf for member in node.members for leaf in _probes(member, top_level=conjunct)]
    if node.category == "skill":
        return [] if top_level and not _skill_test(node)[2] else [node]
    return [] if top_level or node.category != participation.CATEGORY else [node]


def _compile(
    node: Node, requester_id: int, user_id: UserIdColumn, joins: SkillJoins | None, *, top_level: bool
) -> ColumnElement[bool]:
    if isinstance(node, Group):
        members = sorted(node.members, key=_cost)
        conjunct = top_level and node.conjunction == "and"
        parts = [_compile(m, requester_id, user_id, joins, top_level=conjunct) for m in members]
        return and_(*parts) if node.conjunction == "and" else or_(*parts)
    if node.category == "skill":
        return _skill_condition(node, requester_id, user_id, joins, as_set=top_level)
    if node.category == participation.CATEGORY:
        negate = node.operator in (Operator.NE, Operator.NOT_IN)
        return participation.condition(
            node.value, node.key, negate=negate, requester_id=requester_id, user_id=user_id, as_set=top_level
        )
    if node.key == "languages":
        found = speaks(Toloker.language_list, node.value)
        return found if node.operator is Operator.IN else ~found
    column: InstrumentedAttribute[Any] = getattr(Toloker, node.key)
    return _compare(column, node.operator, node.value)


def _cost(node: Node) -> int:
    """Rough per-Toloker cost: a column comparison 0, a substring test 1, a skill probe 2,
    a participation probe 3 (it reads the assignment rows, not only an index)."""
    if isinstance(node, Group):
        return sum(_cost(m) for m in node.members)
    if node.category == participation.CATEGORY:
        return 3
    return 2 if node.category == "skill" else 1 if node.key == "languages" else 0


def _compare(column: InstrumentedAttribute[Any], operator: Operator, value: Any) -> ColumnElement[bool]:
    if value is None:
        return column.is_(None) if operator in (Operator.EQ, Operator.IN) else column.is_not(None)
    if operator in (Operator.NE, Operator.NOT_IN):
        return or_(column.is_(None), column != value)
    compare = {
        Operator.EQ: column.__eq__,
        Operator.IN: column.__eq__,
        Operator.GT: column.__gt__,
        Operator.GTE: column.__ge__,
        Operator.LT: column.__lt__,
        Operator.LTE: column.__le__,
    }[operator]
    result: ColumnElement[bool] = compare(value)
    return result


SkillTest = tuple[Operator, Decimal] | None  # a value comparison, or None: any value


class SkillJoins:
    """Skill probes as outer joins, for PostgreSQL over a large requester.

    A `[NOT] EXISTS` inside an "or" is a hashed sub-plan there, and a scan whose condition
    holds one cannot be split between parallel workers. Written instead as
    `LEFT JOIN user_skills AS skill_n ON (this requester, skill, value test, Toloker,
    unexpired)`, one join per distinct skill test, each becomes a parallel hash join of the
    Tolokers who pass it, and the condition a test that the join found a row: the nested
    case of bench/recipients.py over 1,000,000 Tolokers went from about 800 to 560 ms on
    2 cores. A Toloker holds at most one value per skill (unique (skill_id, user_id)), so
    a join never repeats a Toloker. At most MAX_JOINED tests are joined (each is one more
    join to plan), and only when they are all the filter probes (`pay_off`)."""

    MAX_JOINED = 4

    def __init__(self, requester_id: int, user_id: UserIdColumn) -> None:
        self._requester_id = requester_id
        self._user_id = user_id
        self._joined: dict[tuple[int, Any], tuple[Any, ColumnElement[bool]]] = {}

    @classmethod
    def pay_off(cls, node: Node) -> bool:
        """Only when every probe of the filter becomes a join: one sub-plan left (a
        participation probe, a skill test past MAX_JOINED) keeps the scan in one process,
        and the joins then only change the plan around it (a join that reads all of
        `requester_tolokers`, measured slower: "GB and (pool 5 or skill A)" 280 -> 510 ms)."""
        probes = _probes(node, top_level=True)
        tests = {_skill_test(leaf)[:2] for leaf in probes if leaf.category == "skill"}
        return all(leaf.category == "skill" for leaf in probes) and 0 < len(tests) <= cls.MAX_JOINED

    def held(self, skill_id: int, value_test: SkillTest) -> ColumnElement[bool]:
        """`skill_n.user_id IS NOT NULL` for the join of this test (never NULL itself, so
        NOT is its exact complement)."""
        key = (skill_id, value_test)
        if key not in self._joined:
            row = aliased(UserSkill, name=f"skill_{len(self._joined) + 1}")
            on = [row.user_id == self._user_id, *_active(row, self._requester_id, skill_id)]
            if value_test is not None:
                on.append(_micros_condition(*value_test, column=row.value_micros))
            self._joined[key] = (row, and_(*on))
        held: ColumnElement[bool] = self._joined[key][0].user_id.is_not(None)
        return held

    def outer_joins(self) -> tuple[tuple[Any, ColumnElement[bool]], ...]:
        return tuple(self._joined.values())


def _active(skills: Any, requester_id: int, skill_id: int) -> tuple[ColumnElement[bool], ...]:
    """An unexpired value of this requester's skill (on `UserSkill` or an alias of it)."""
    return (
        skills.requester_id == requester_id,
        skills.skill_id == skill_id,
        or_(skills.expires.is_(None), skills.expires > db_utcnow()),
    )


def active_user_skills(requester_id: int, skill_id: int) -> Select[str]:
    """Tolokers holding an unexpired value of this requester's skill."""
    return select(UserSkill.user_id).where(*_active(UserSkill, requester_id, skill_id))


def _skill_test(leaf: Leaf) -> tuple[int, SkillTest, bool]:
    """(skill id, what a held value must satisfy, whether the leaf is its negation)."""
    if leaf.value is None:  # EQ null: has no value; NE null: has one
        return int(leaf.key), None, leaf.operator is Operator.EQ
    if leaf.operator is Operator.NE:  # the complement of EQ
        return int(leaf.key), (Operator.EQ, leaf.value), True
    return int(leaf.key), (leaf.operator, leaf.value), False


def _skill_condition(
    leaf: Leaf, requester_id: int, user_id: UserIdColumn, joins: SkillJoins | None, *, as_set: bool
) -> ColumnElement[bool]:
    skill_id, value_test, negate = _skill_test(leaf)
    if as_set and not negate:
        return user_id.in_(_holders(requester_id, skill_id, value_test))
    if joins is not None:
        held = joins.held(skill_id, value_test)
    else:
        held = _holders(requester_id, skill_id, value_test).where(UserSkill.user_id == user_id).exists()
    return ~held if negate else held


def _holders(requester_id: int, skill_id: int, value_test: SkillTest) -> Select[str]:
    wanted = active_user_skills(requester_id, skill_id)
    return wanted if value_test is None else wanted.where(_micros_condition(*value_test))


def _micros_condition(
    operator: Operator, value: Decimal, column: InstrumentedAttribute[int] = UserSkill.value_micros
) -> ColumnElement[bool]:
    """Compare the integer `value_micros` with an exact decimal, without rounding it."""
    scaled = value.scaleb(6)
    low, high = math.floor(scaled), math.ceil(scaled)
    if operator in (Operator.EQ, Operator.NE):
        return column == low if low == high else false()
    return {
        Operator.GT: column > low,
        Operator.GTE: column >= high,
        Operator.LT: column < high,
        Operator.LTE: column <= low,
    }.get(operator, true())
