"""`db_utcnow()`: the database's own clock as naive UTC, comparable with stored datetimes.

Expiry checks (bans, skill TTLs) compare with this inside the statement, so nothing
has to run when a ban expires and a statement built now and executed later still
judges expiry at execution time.

- SQLite stores SQLAlchemy datetimes as text `YYYY-MM-DD HH:MM:SS.ffffff`;
  `strftime('%Y-%m-%d %H:%M:%f', 'now')` is UTC in the same layout (milliseconds),
  so text comparison orders them correctly.
- PostgreSQL: `now() AT TIME ZONE 'UTC'` is a `timestamp without time zone` in UTC,
  whatever the session's TimeZone.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from crowdpost.models.base import UTCDateTime


class db_utcnow(FunctionElement[Any]):
    type = UTCDateTime
    inherit_cache = True


@compiles(db_utcnow)
def _default(element: db_utcnow, compiler: SQLCompiler, **kw: Any) -> str:
    return "CURRENT_TIMESTAMP"


@compiles(db_utcnow, "sqlite")
def _sqlite(element: db_utcnow, compiler: SQLCompiler, **kw: Any) -> str:
    # A scalar sub-select: SQLite runs it once per statement, not once per row compared.
    return "(SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'))"


@compiles(db_utcnow, "postgresql")
def _postgresql(element: db_utcnow, compiler: SQLCompiler, **kw: Any) -> str:
    return "(now() AT TIME ZONE 'UTC')"
