"""How long-running processes set themselves up: WAL checkpoints off the commit path, a frozen heap."""

from __future__ import annotations

import gc
import sqlite3
from pathlib import Path

from sqlalchemy import text

from crowdpost.app import settle_heap
from crowdpost.config import Settings
from crowdpost.db import Database, WalCheckpointer, make_engine


def _wal_frames(path: Path) -> int:
    """Frames in the WAL file, from its size (32-byte header, 24-byte frame headers)."""
    wal = Path(f"{path}-wal")
    if not wal.exists() or wal.stat().st_size == 0:
        return 0
    page_size = 4096
    return (wal.stat().st_size - 32) // (24 + page_size)


def _fill(db: Database, rows: int) -> None:
    with db.transaction() as session:
        session.execute(text("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, body TEXT)"))
    for first in range(0, rows, 500):
        with db.transaction() as session:
            session.execute(
                text("INSERT INTO t (body) VALUES (:body)"), [{"body": "x" * 400} for _ in range(first, first + 500)]
            )


def test_commits_do_not_checkpoint_when_a_checkpointer_owns_it(tmp_path: Path) -> None:
    path = tmp_path / "wal.db"
    db = Database(make_engine(f"sqlite:///{path}", checkpoint_on_commit=False))
    _fill(db, 20_000)  # ~2,500 pages: past the 1,000 at which a commit would checkpoint
    frames = _wal_frames(path)
    assert frames > 1000
    assert path.stat().st_size < 100_000  # the rows are only in the WAL so far

    checker = sqlite3.connect(path, isolation_level=None)
    try:
        busy, logged, copied = WalCheckpointer(str(path)).checkpoint(checker)
        assert (busy, copied) == (0, logged)
        assert logged >= frames - 1
        assert checker.execute("SELECT count(*) FROM t").fetchone()[0] == 20_000
        assert path.stat().st_size > 20_000 * 400  # now copied into the database file
    finally:
        checker.close()
        db.dispose()


def test_default_engines_still_checkpoint_on_commit(tmp_path: Path) -> None:
    path = tmp_path / "auto.db"
    db = Database(make_engine(f"sqlite:///{path}"))
    _fill(db, 20_000)
    # The WAL is reused from its start after each automatic checkpoint, so it stays small.
    assert _wal_frames(path) < 1500
    db.dispose()


def test_checkpointer_thread_catches_up_and_stops(tmp_path: Path) -> None:
    path = tmp_path / "thread.db"
    db = Database(make_engine(f"sqlite:///{path}", checkpoint_on_commit=False))
    checkpointer = db.start_checkpointer()
    assert checkpointer is not None
    _fill(db, 5_000)
    checkpointer.stop()  # runs a last checkpoint before it returns
    # Only a checkpoint copies pages into the database file; nothing else here ran one.
    assert path.stat().st_size > 5_000 * 400
    db.dispose()


def test_long_running_processes_own_a_checkpointer_until_dispose(tmp_path: Path) -> None:
    path = tmp_path / "serve.db"
    db = Database.from_settings(Settings(database_url=f"sqlite:///{path}"), background_checkpoints=True)
    assert db.checkpointer is not None
    assert db.checkpointer.running
    with db.engine.connect() as conn:  # and its connections leave checkpoints to it
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one() == 0
    checkpointer = db.checkpointer
    db.dispose()
    assert not checkpointer.running

    plain = Database.from_settings(Settings(database_url=f"sqlite:///{tmp_path / 'cli.db'}"))
    assert plain.checkpointer is None
    with plain.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one() == 1000
    plain.dispose()


def test_settle_heap_takes_live_objects_out_of_collections() -> None:
    assert gc.get_freeze_count() == 0  # nothing else in the test process freezes
    settle_heap()
    try:
        frozen = gc.get_freeze_count()
        assert frozen > 10_000  # modules, classes and caches alive now
        assert sum(gc.get_count()) < 1_000  # the collector's generations start empty
    finally:
        gc.unfreeze()
    assert gc.get_freeze_count() == 0
