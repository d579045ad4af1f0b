"""One set of Alembic migrations builds exactly the ORM's schema, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from crowdpost.db import Database
from crowdpost.migrate import is_up_to_date, upgrade
from crowdpost.models import Base


def test_migrated_schema_matches_models(db: Database) -> None:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    # FTS shadow tables and other engine-specific objects are created by migrations on purpose.
    relevant = [d for d in diff if not _is_engine_specific(d)]
    assert relevant == []


def test_upgrade_is_idempotent(db: Database) -> None:
    assert is_up_to_date(db.engine)
    upgrade(db.engine)
    assert is_up_to_date(db.engine)


def _is_engine_specific(diff: object) -> bool:
    text = repr(diff)
    return any(marker in text for marker in ("_fts", "search_vector", "tsvector"))
