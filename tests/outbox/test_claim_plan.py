"""The claim query takes the partial indexes on SQLite (planner, not wall clock): the channel's
PENDING rows in id order and, for the ordering-key check, the key's earlier PENDING rows.
With the (status, id) index instead, every PENDING row of every channel was walked, and a
backlog of 100,000 e-mails made each webhook claim take seconds."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crowdpost.db import Database
from crowdpost.kit.timefmt import utcnow
from crowdpost.models import OutboxItem
from crowdpost.outbox import repository


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_claim_uses_the_channel_and_ordering_key_partial_indexes(db: Database) -> None:
    with db.transaction() as session:
        for n in range(3):
            repository.enqueue(session, channel="email", kind="NEW_MESSAGE", ref_id=n)
            repository.enqueue(session, channel="webhook", kind="POOL_CLOSED", ref_id=n, ordering_key=f"webhook:{n}")
    stmt = select(OutboxItem.id).where(repository._claimable("webhook", utcnow(), sqlite=True)).order_by(OutboxItem.id)
    with db.transaction(write=False) as session:
        connection = session.connection()
        sql = str(stmt.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True}))
        plan = [str(row[3]) for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql)]
        assert len(session.execute(stmt).all()) == 3
    assert any("USING INDEX ix_outbox_channel_id_pending" in step for step in plan), plan
    assert any("USING INDEX ix_outbox_ordering_key_id_pending" in step for step in plan), plan
    assert not any("ix_outbox_status_id" in step for step in plan), plan
