"""Tolokers and assignments as operators feed them in: set-wise upserts and inserts, with
`IN` lists cut into chunks SQLite accepts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from crowdpost.kit.bulk import chunks, upsert
from crowdpost.kit.id_order import Claim, keep_id_order
from crowdpost.models import Assignment, Pool, RequesterToloker, Toloker, TolokerLanguage

# SQLite allows 32,766 bound parameters per statement; stay well below it.
_IN_CHUNK = 5000


def upsert_tolokers(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert or update profiles: every column but `id` and `created` is replaced."""
    stmt = upsert(session, Toloker)
    profile_columns = [c for c in rows[0] if c not in ("id", "created")]
    session.execute(
        stmt.on_conflict_do_update(index_elements=["id"], set_={c: stmt.excluded[c] for c in profile_columns}),
        rows,
    )


def replace_languages(session: Session, ids: Sequence[str], languages: Sequence[dict[str, str]]) -> None:
    """The `toloker_languages` rows of these Tolokers become `languages` ({user_id, language})."""
    for part in chunks(ids, _IN_CHUNK):
        session.execute(delete(TolokerLanguage).where(TolokerLanguage.user_id.in_(part)))
    if languages:
        session.execute(insert(TolokerLanguage), languages)


def created_times(session: Session, ids: Sequence[str]) -> dict[str, datetime]:
    return {
        t.id: t.created
        for part in chunks(ids, _IN_CHUNK)
        for t in session.execute(select(Toloker.id, Toloker.created).where(Toloker.id.in_(part)))
    }


def existing_tolokers(session: Session, user_ids: Iterable[str]) -> set[str]:
    found: set[str] = set()
    for part in chunks(sorted(user_ids), _IN_CHUNK):
        found.update(session.execute(select(Toloker.id).where(Toloker.id.in_(part))).scalars())
    return found


def pools_by_id(session: Session, pool_ids: Iterable[int]) -> dict[int, tuple[int, int]]:
    """pool id -> (requester id, project id)."""
    result: dict[int, tuple[int, int]] = {}
    for part in chunks(sorted(pool_ids), _IN_CHUNK):
        for row in session.execute(select(Pool.id, Pool.requester_id, Pool.project_id).where(Pool.id.in_(part))):
            result[row.id] = (row.requester_id, row.project_id)
    return result


def insert_assignments(session: Session, rows: Sequence[dict[str, Any]]) -> list[int]:
    """The new ids, in the order of `rows`."""
    # GET /assignments pages each requester's by id_gt; a batch may span many requesters.
    keep_id_order(session, Claim("assignments", {row["requester_id"] for row in rows}))
    new_ids = session.execute(insert(Assignment).returning(Assignment.id, sort_by_parameter_order=True), rows)
    return list(new_ids.scalars())


def bump_started_counts(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Add each (requester, Toloker)'s new assignments to `requester_tolokers`."""
    counts: Counter[tuple[int, str]] = Counter((row["requester_id"], row["user_id"]) for row in rows)
    first: dict[tuple[int, str], datetime] = {}
    last: dict[tuple[int, str], datetime] = {}
    for row in rows:
        key = (row["requester_id"], row["user_id"])
        first[key] = min(first.get(key, row["created"]), row["created"])
        last[key] = max(last.get(key, row["created"]), row["created"])
    stmt = upsert(session, RequesterToloker)
    table = RequesterToloker.__table__
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["requester_id", "user_id"],
            set_={
                "started_count": table.c.started_count + stmt.excluded.started_count,
                "last_started": stmt.excluded.last_started,
            },
        ),
        [
            {
                "requester_id": key[0],
                "user_id": key[1],
                "started_count": n,
                "first_started": first[key],
                "last_started": last[key],
            }
            for key, n in counts.items()
        ],
    )
