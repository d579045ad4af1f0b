"""0009 counts the addresses already on file as verified: only operators could set them."""

from __future__ import annotations

from datetime import datetime

from alembic import command
from sqlalchemy import text

from crowdpost.db import Database
from crowdpost.migrate import alembic_config, upgrade


def test_operator_set_addresses_are_backfilled_as_verified(db: Database) -> None:
    config = alembic_config()
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0009-1")
        conn.execute(
            text(
                "INSERT INTO requesters (public_name, email, balance_micros, created) VALUES"
                " ('{}', 'ops@example.org', 0, :now), ('{}', NULL, 0, :now)"
            ),
            {"now": datetime(2026, 1, 1)},
        )
        conn.execute(text("INSERT INTO tolokers (id, created) VALUES ('old-t', :now)"), {"now": datetime(2026, 1, 1)})
    upgrade(db.engine)
    with db.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT email, email_verified, email_new_message, email_operation_finished FROM requesters")
        ).all()
        toloker_switch = conn.execute(text("SELECT email_new_message FROM tolokers WHERE id = 'old-t'")).scalar_one()
    got = sorted((email or "", bool(v), bool(n), bool(o)) for email, v, n, o in rows)
    assert got == [("", False, False, False), ("ops@example.org", True, False, False)]
    assert bool(toloker_switch) is True  # SQLite answers 1 to raw SQL
