"""A set of codes as one text, `|DE|EN|`, and `speaks(column, code)`: a membership test on it.

Domain-free (it names no table). Workforce keeps a Toloker's languages this way in
`tolokers.language_list`, written next to the `toloker_languages` rows by the Toloker
import and read by recipient filters: "speaks DE" becomes a substring test on the row
the filter already reads (about as cheap as a column comparison) instead of one index probe per Toloker, which made
language conditions the most expensive part of a filter over a million Tolokers.
Codes never contain `|` (they match `^[A-Z]{2}(-[A-Z]{2,4})?$`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Boolean, ColumnElement
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

SEPARATOR = "|"


def language_list(codes: Iterable[str]) -> str:
    """`|DE|EN|` for DE and EN (sorted, once each); '' for none."""
    unique = sorted(set(codes))
    return f"{SEPARATOR}{SEPARATOR.join(unique)}{SEPARATOR}" if unique else ""


class speaks(FunctionElement[bool]):
    """`speaks(tolokers.language_list, 'DE')`: true when the list holds that code."""

    type = Boolean()
    inherit_cache = True

    def __init__(self, column: ColumnElement[str] | InstrumentedAttribute[str], code: str) -> None:
        super().__init__(column, f"{SEPARATOR}{code}{SEPARATOR}")


def _arguments(element: speaks, compiler: SQLCompiler, **kw: Any) -> tuple[str, str]:
    column, needle = element.clauses
    return compiler.process(column, **kw), compiler.process(needle, **kw)


@compiles(speaks)
def _default(element: speaks, compiler: SQLCompiler, **kw: Any) -> str:
    column, needle = _arguments(element, compiler, **kw)
    return f"({column} LIKE '%%' || {needle} || '%%')"


@compiles(speaks, "sqlite")
def _sqlite(element: speaks, compiler: SQLCompiler, **kw: Any) -> str:
    column, needle = _arguments(element, compiler, **kw)
    return f"(instr({column}, {needle}) > 0)"


@compiles(speaks, "postgresql")
def _postgresql(element: speaks, compiler: SQLCompiler, **kw: Any) -> str:
    column, needle = _arguments(element, compiler, **kw)
    return f"(strpos({column}, {needle}) > 0)"
