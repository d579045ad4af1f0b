"""kit.id_order on PostgreSQL: who waits for whom, and how many locks a claim holds."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from psycopg.errors import LockNotAvailable
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from crowdpost.db import Database
from crowdpost.kit.id_order import MAX_SCOPE_LOCKS, SCOPE_LOCK_CLASS, TABLE_LOCK_CLASS, Claim, keep_id_order

pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)


@pytest.fixture
def other(db: Database) -> Iterator[Session]:
    """A second transaction that gives up at once instead of waiting for a lock."""
    session = db.session()
    session.execute(text("SET LOCAL lock_timeout = '50ms'"))
    yield session
    session.rollback()
    session.close()


def blocks(holder: Claim, other_session: Session, wanted: Claim) -> bool:
    """Whether `wanted`, in another transaction, must wait while `holder` is held."""
    savepoint = other_session.begin_nested()
    try:
        keep_id_order(other_session, wanted)
    except OperationalError as exc:
        if not isinstance(exc.orig, LockNotAvailable):  # lock_timeout: it would have waited
            raise
        savepoint.rollback()
        return True
    savepoint.rollback()
    return False


def held(session: Session) -> int:
    return int(
        session.execute(
            text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() "
                "AND classid IN (:table_class, :scope_class)"
            ),
            {"table_class": TABLE_LOCK_CLASS, "scope_class": SCOPE_LOCK_CLASS},
        ).scalar_one()
    )


@pytest.mark.parametrize(
    ("holder", "wanted", "waits"),
    [
        (Claim("skills", [1]), Claim("skills", [1]), True),  # same requester: in turn
        (Claim("skills", [1]), Claim("skills", [2]), False),  # another requester: side by side
        (Claim("skills", [1]), Claim("pools", [1]), False),  # another table
        (Claim("toloker_threads"), Claim("toloker_threads", ["a"]), True),  # a fan-out holds every scope
        (Claim("toloker_threads", ["a"]), Claim("toloker_threads"), True),  # and waits for every scope
    ],
)
def test_who_waits(db: Database, other: Session, holder: Claim, wanted: Claim, waits: bool) -> None:
    with db.transaction() as session:
        keep_id_order(session, holder)
        assert blocks(holder, other, wanted) is waits


def test_a_claim_holds_a_bounded_number_of_locks(db: Database) -> None:
    with db.transaction() as session:
        keep_id_order(session, Claim("toloker_threads", [str(n) for n in range(MAX_SCOPE_LOCKS)]))
        assert held(session) == MAX_SCOPE_LOCKS + 1  # the table's shared lock and one per scope
    with db.transaction() as session:
        keep_id_order(session, Claim("toloker_threads", [str(n) for n in range(100_000)]))
        assert held(session) == 1  # the table's exclusive lock alone
    with db.transaction() as session:
        assert held(session) == 0  # transaction locks: gone with the commit
