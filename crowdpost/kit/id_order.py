"""Ids that become visible in id order within each reader's scope, so paging by `id_gt` never skips.

Why: on PostgreSQL a sequence hands out an id when a row is inserted, but the row becomes
visible when its transaction commits. Transaction A takes id 10 and is slow, B takes 11 and
commits first; a reader paging with `id_gt=9` sees 11, asks next for `id_gt=11`, and never
sees 10. toloka-kit pages every list that way (`id_gt` of the last row + `has_more`).

What: `keep_id_order(session, Claim(table, scopes), ...)`, called in the inserting transaction
right before the statement that allocates the ids (the INSERT, or the insert of the parent
row whose id the listed rows are keyed by), takes transaction-scoped advisory locks that are
held until commit. Two writers whose rows share a reader's scope then cannot overlap between
"ids allocated" and "committed", so the one with the smaller ids commits first: every reader
of that scope sees ids appear in increasing order.

- A claim on a few scopes (a requester, a Toloker, a subscription) takes the table's lock in
  SHARED mode and one exclusive lock per scope: writers of different scopes run side by side.
- A claim on every scope (`scopes=None`, or more than `MAX_SCOPE_LOCKS` of them; an ALL send
  fans out to 100,000 Tolokers in one INSERT ... SELECT) takes the table's lock EXCLUSIVE:
  one lock instead of 100,000 (which would exhaust `max_locks_per_transaction`), at the price
  of serializing that table's writers for this transaction's insert-to-commit window.

Every lock of one call is taken in one fixed order (table locks by name, then scope locks by
key), so two calls cannot deadlock on each other.

Transaction-scoped (`pg_advisory_xact_lock*`) only: they end with the transaction, which keeps
them correct behind pgbouncer's transaction pooling (session locks would not be).

Lock classes (the two-key form's first key): `TABLE_LOCK_CLASS` and `SCOPE_LOCK_CLASS` are
ours; 7_041_994 (sign-in) and 7_041_995 (webhook subscriptions) are taken by other two-key
locks. migrate's lock 7_041_993 and the bonus id lock 7_041_994 use the one-key (bigint)
form, which PostgreSQL keeps in a separate key space from the two-key form.

SQLite needs nothing: a write transaction starts with `BEGIN IMMEDIATE`, so writers are serial
and ids are allocated and committed in the same order.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.types import Integer

TABLE_LOCK_CLASS = 7_041_996
SCOPE_LOCK_CLASS = 7_041_997
# Above this many scopes one exclusive table lock replaces the per-scope locks. The lock table
# holds max_locks_per_transaction (default 64) x max_connections entries, shared by everyone:
# staying under half of a connection's share leaves room for the rest of the transaction and
# for every connection doing the same (a DIRECT send names up to 100 Tolokers: those above 32
# take the table's lock).
MAX_SCOPE_LOCKS = 32

_TABLE_EXCLUSIVE = text("SELECT pg_advisory_xact_lock(:lock_class, :key)")
_TABLE_SHARED = text("SELECT pg_advisory_xact_lock_shared(:lock_class, :key)")
# PostgreSQL evaluates a volatile output column after ORDER BY, so the locks are taken in key order.
_SCOPES = text("SELECT pg_advisory_xact_lock(:lock_class, k) FROM unnest(:keys) AS k ORDER BY k").bindparams(
    bindparam("keys", type_=ARRAY(Integer))
)


@dataclass(frozen=True)
class Claim:
    """The rows about to be inserted into `table`: the reader scopes they fall in (a requester
    id, a Toloker id, ...), or None for "any number of scopes" (a fan-out)."""

    table: str
    scopes: Iterable[int | str] | None = None


def lock_key(name: str) -> int:
    """A stable signed 32-bit key for a name (a collision only makes two writers wait for each other)."""
    return zlib.crc32(name.encode("utf-8")) - 2**31


def keep_id_order(session: Session, *claims: Claim) -> None:
    """Hold, until this transaction ends, the locks that make the claimed rows' ids visible in
    id order to every reader of their scopes. Call it right before the ids are allocated."""
    if session.get_bind().dialect.name != "postgresql":
        return  # SQLite: writers are serial (see the module docstring).
    tables: dict[str, bool] = {}  # table -> exclusive?
    scope_keys: set[int] = set()
    for claim in claims:
        scopes = None if claim.scopes is None else {str(s) for s in claim.scopes}
        exclusive = scopes is None or len(scopes) > MAX_SCOPE_LOCKS
        tables[claim.table] = tables.get(claim.table, False) or exclusive
        if not exclusive:
            assert scopes is not None
            scope_keys.update(lock_key(f"{claim.table}:{scope}") for scope in scopes)
    for table in sorted(tables):
        statement = _TABLE_EXCLUSIVE if tables[table] else _TABLE_SHARED
        session.execute(statement, {"lock_class": TABLE_LOCK_CLASS, "key": lock_key(table)})
    # An exclusive table lock already keeps every scope of that table in order.
    keys = sorted(scope_keys)
    if keys:
        session.execute(_SCOPES, {"lock_class": SCOPE_LOCK_CLASS, "keys": keys})
