"""SQLite finds a paid batch's bonus threads by `bonus_id` (planner, not wall clock).

Without statistics (a new database, where ANALYZE has never run) SQLite preferred
`ix_message_threads_requester_id_kind_created` for the join from a chunk's bonuses to their
new threads: two equalities against one. It then walked every BONUS thread of the requester
for each bonus, so each chunk of an async operation took longer than the one before; 20,000
bonuses with messages paid in chunks of 250 took 28 s instead of under 1 s."""

from __future__ import annotations

from typing import Any

import pytest

from crowdpost.db import Database
from crowdpost.kit.timefmt import utcnow
from crowdpost.messaging import repository


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("ranged", [True, False], ids=["id range", "id list"])
def test_the_folder_rows_and_messages_of_a_paid_batch_find_threads_by_bonus_id(db: Database, ranged: bool) -> None:
    _threads, messages, toloker_threads = repository._RANGED_STATEMENTS if ranged else repository._LISTED_STATEMENTS
    group: dict[str, Any] = {"first": 1, "last": 250} if ranged else {"ids": list(range(1, 251))}
    for stmt in (messages, toloker_threads):
        # The plan of the INSERT is the plan of its SELECT (which alone takes parameters here).
        bound = stmt.select.params(requester_id=1, now=utcnow(), sender_id="1", **group)
        with db.transaction(write=False) as session:
            connection = session.connection()
            expanded = bound.compile(dialect=connection.dialect).construct_expanded_state()
            assert expanded.positiontup is not None
            values = tuple(str(expanded.parameters[name]) for name in expanded.positiontup)
            plan = [
                str(row[3]) for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + expanded.statement, values)
            ]
        assert any("message_threads USING INDEX ix_message_threads_bonus_id" in step for step in plan), plan
        assert not any("ix_message_threads_requester_id_kind_created" in step for step in plan), plan
