"""`OrderedJoin`: an inner join whose left side is the outer loop on SQLite.

SQLite's planner cannot tell how selective some conditions are; `CROSS JOIN` is SQLite's
documented way to fix the loop order, so a caller that knows better (the audience query,
`workforce/repository/audience.py`) names the order. Other databases get a plain JOIN and
plan it themselves.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.selectable import Join


class OrderedJoin(Join):
    """`left JOIN right ON ...`, compiled as `left CROSS JOIN right ON ...` on SQLite."""

    inherit_cache = True


@compiles(OrderedJoin)
def _join_default(join: OrderedJoin, compiler: SQLCompiler, **kw: Any) -> str:
    return str(compiler.visit_join(join, **kw))  # type: ignore[no-untyped-call]


@compiles(OrderedJoin, "sqlite")
def _join_sqlite(join: OrderedJoin, compiler: SQLCompiler, **kw: Any) -> str:
    assert join.onclause is not None
    kw["asfrom"] = True
    left = join.left._compiler_dispatch(compiler, **kw)
    right = join.right._compiler_dispatch(compiler, **kw)
    return f"{left} CROSS JOIN {right} ON {join.onclause._compiler_dispatch(compiler, **kw)}"
