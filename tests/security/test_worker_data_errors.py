"""A worker job that meets data it cannot store ends its operation FAIL, never RUNNING (issue 19).

The API refuses U+0000 before anything is stored, so these attacks poison what is
already stored: the input of an accepted batch (as a batch stored before that check
existed would be), or the table the worker writes to (a trigger that refuses every
bonus row as PostgreSQL refuses a NUL byte: a data error no retry can fix).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text, update

from crowdpost.db import Database
from crowdpost.kit.jsonwire import dumps, loads
from crowdpost.kit.timefmt import utcnow
from crowdpost.models import BonusOperationChunk, Job
from crowdpost.worker.loop import INTEGRITY_ATTEMPTS, run_pending
from tests.fixtures.factories import Admin, RequesterInfo
from tests.rewards.helpers import (
    Crew,
    balance_of,
    bonus,
    bonus_count,
    get_operation,
    get_operation_log,
    make_crew,
    post_bonuses,
)


@pytest.fixture
def crew(db: Database, admin: Admin, requester: RequesterInfo) -> Crew:
    return make_crew(db, admin, requester)


def _items(crew: Crew) -> list[dict[str, Any]]:
    return [bonus(uid, "1", private_comment=f"c{n}", __item_idx=str(n)) for n, uid in enumerate(crew.user_ids)]


def _poison_stored_item(db: Database, index: int) -> None:
    """Puts a NUL into the private comment of a stored item, as the API no longer would."""
    with db.transaction() as session:
        stored = session.execute(select(BonusOperationChunk.items)).scalar_one()
        items = loads(stored.encode("utf-8"))
        items[index]["private_comment"] = "poisoned\x00comment"
        session.execute(update(BonusOperationChunk).values(items=dumps(items).decode("utf-8")))


def _jobs(db: Database) -> list[tuple[str, int]]:
    with db.transaction(write=False) as session:
        return [(row.status, row.attempts) for row in session.execute(select(Job.status, Job.attempts))]


def test_nul_in_a_stored_batch_fails_the_operation_and_the_poisoned_item_is_not_paid(
    requester_http: httpx.Client, crew: Crew, db: Database
) -> None:
    """A stored batch (skip_invalid_items=false) whose item 1 carries U+0000: on both
    backends the operation ends FAIL, the item is reported CHARACTER_NOT_ALLOWED and what is
    not paid is refunded. SQLite's worker checks the batch through first: nothing is paid.
    PostgreSQL checked it when it was stored (valid then), so the worker pays chunk by chunk,
    checking each again: the poisoned item alone is not paid."""
    before = balance_of(db, crew.requester.id)
    response = post_bonuses(requester_http, _items(crew), async_mode=True, operation_id="op-nul")
    assert response.status_code == 202, response.text
    assert balance_of(db, crew.requester.id) == before - 3  # reserved
    _poison_stored_item(db, 1)

    run_pending(db)

    done = get_operation(requester_http, "op-nul")
    assert done["status"] == "FAIL"
    log = get_operation_log(requester_http, "op-nul")
    assert log[1]["output"]["private_comment"]["code"] == "CHARACTER_NOT_ALLOWED"
    if db.engine.dialect.name == "postgresql":
        assert [entry["success"] for entry in log] == [True, False, True]
        assert bonus_count(db) == 2
        assert balance_of(db, crew.requester.id) == before - 2
    else:
        assert done["details"]["error"]["code"] == "INVALID_ITEMS"
        assert not any(entry["success"] for entry in log)
        assert bonus_count(db) == 0
        assert balance_of(db, crew.requester.id) == before
    assert {status for status, _ in _jobs(db)} == {"DONE"}


def test_nul_in_a_stored_batch_is_skipped_by_index(requester_http: httpx.Client, crew: Crew, db: Database) -> None:
    """The same poisoned item with skip_invalid_items=true: the other items are paid and
    item 1 is reported by its index; the operation ends SUCCESS on both backends."""
    response = post_bonuses(
        requester_http, _items(crew), async_mode=True, operation_id="op-nul-skip", skip_invalid_items=True
    )
    assert response.status_code == 202, response.text
    _poison_stored_item(db, 1)

    run_pending(db)

    done = get_operation(requester_http, "op-nul-skip")
    assert done["status"] == "SUCCESS"
    assert done["details"]["success_count"] == 2
    assert done["details"]["not_valid_count"] == 1
    log = get_operation_log(requester_http, "op-nul-skip")
    assert [entry["success"] for entry in log] == [True, False, True]
    assert log[1]["input"]["__item_idx"] == "1"
    assert log[1]["output"]["private_comment"]["code"] == "CHARACTER_NOT_ALLOWED"
    assert bonus_count(db) == 2


_PG_REFUSE = [
    """CREATE FUNCTION refuse_bonus() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'invalid byte sequence for encoding "UTF8": 0x00' USING ERRCODE = 'character_not_in_repertoire';
    END $$""",
    "CREATE TRIGGER refuse_bonus BEFORE INSERT ON bonuses FOR EACH ROW EXECUTE FUNCTION refuse_bonus()",
]
# SQLite has no data error a row can raise; RAISE(ABORT) is its constraint failure, an
# integrity error, which the worker retries a bounded number of times before giving up.
_SQLITE_REFUSE = ["CREATE TRIGGER refuse_bonus BEFORE INSERT ON bonuses BEGIN SELECT RAISE(ABORT, 'refused'); END"]


def test_a_step_the_database_refuses_ends_fail_and_is_not_retried_forever(
    requester_http: httpx.Client, crew: Crew, db: Database
) -> None:
    """Every bonus row is refused by the database (PostgreSQL: the data error it raises for
    a NUL byte; SQLite: a constraint failure). The paying step's job is given up at once
    on a data error (after INTEGRITY_ATTEMPTS on an integrity error), the operation ends
    FAIL with the reason in its details, nothing is paid, the reservation is refunded."""
    before = balance_of(db, crew.requester.id)
    response = post_bonuses(requester_http, _items(crew), async_mode=True, operation_id="op-refused")
    assert response.status_code == 202, response.text
    with db.transaction() as session:
        for statement in _SQLITE_REFUSE if db.is_sqlite else _PG_REFUSE:
            session.execute(text(statement))

    for _ in range(INTEGRITY_ATTEMPTS + 2):
        run_pending(db)
        if get_operation(requester_http, "op-refused")["status"] == "FAIL":
            break
        with db.transaction() as session:  # skip the retry backoff
            session.execute(update(Job).where(Job.status == "QUEUED").values(run_after=utcnow()))

    done = get_operation(requester_http, "op-refused")
    assert done["status"] == "FAIL"
    error = done["details"]["error"]
    assert error["code"] == "OPERATION_EXECUTION_ERROR"
    if db.is_sqlite:
        assert "refused" in error["message"]
        assert ("FAILED", INTEGRITY_ATTEMPTS) in _jobs(db)
    else:
        assert "data error" in error["message"]
        assert "0x00" in error["message"]
        assert ("FAILED", 1) in _jobs(db)
    assert not any(status in ("QUEUED", "RUNNING") for status, _ in _jobs(db))
    log = get_operation_log(requester_http, "op-refused")
    assert {entry["output"]["item"]["code"] for entry in log} == {"OPERATION_EXECUTION_ERROR"}
    assert bonus_count(db) == 0
    assert balance_of(db, crew.requester.id) == before
    assert before == Decimal(100)
