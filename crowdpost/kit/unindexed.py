"""`Unindexed(column)`: a column SQLite may not choose an index for.

SQLite plans without statistics until ANALYZE has run, which on a new installation is
never, and then prefers an index with more equality terms even when another one finds a
single row. Writing a term's column as `+column` is SQLite's documented way to take that
term out of index selection while keeping its meaning; every other dialect gets the column
itself (PostgreSQL plans from its statistics).
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.compiler import SQLCompiler

T = TypeVar("T")


class Unindexed(ColumnElement[T], Generic[T]):
    """The column, written `+column` on SQLite."""

    inherit_cache = True

    def __init__(self, column: InstrumentedAttribute[T]) -> None:
        self.column: ColumnElement[T] = column.expression
        self.type = column.type  # values compared with it bind as the column's type (BIGINT, ...)


@compiles(Unindexed)
def _unindexed_default(element: Unindexed[Any], compiler: SQLCompiler, **kw: Any) -> str:
    return str(compiler.process(element.column, **kw))


@compiles(Unindexed, "sqlite")
def _unindexed_sqlite(element: Unindexed[Any], compiler: SQLCompiler, **kw: Any) -> str:
    return "+" + str(compiler.process(element.column, **kw))
