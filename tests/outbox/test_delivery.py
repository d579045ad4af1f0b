"""The delivery loop on both backends: claim, lease, order per key, backoff, give-up, not ready."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator, Sequence
from datetime import timedelta

import pytest
from sqlalchemy import literal, select, update

from crowdpost.config import Settings
from crowdpost.db import Database
from crowdpost.kit.timefmt import utcnow
from crowdpost.models import OutboxItem, Toloker
from crowdpost.outbox import channels, delivery, repository
from crowdpost.outbox.channels import OutboxRow, Outcome


class Recorder:
    """A test channel: records what it was handed; `script` maps row id -> outcomes to give."""

    def __init__(self) -> None:
        self.batches: list[list[OutboxRow]] = []
        self.script: dict[int, list[Outcome]] = {}
        self.lock = threading.Lock()
        self.ready: str | None = None

    def deliver(self, db: Database, settings: Settings, rows: Sequence[OutboxRow]) -> list[Outcome]:
        with self.lock:
            self.batches.append(list(rows))
            return [self._next(r.id) for r in rows]

    def _next(self, row_id: int) -> Outcome:
        planned = self.script.get(row_id)
        return planned.pop(0) if planned else Outcome.delivered()

    @property
    def delivered_ids(self) -> list[int]:
        return [r.id for batch in self.batches for r in batch]


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    rec = Recorder()
    channels.register_channel("test", rec.deliver, batch_size=3, not_ready=lambda s: rec.ready)
    yield rec
    channels.unregister_channel("test")


def _add(db: Database, n: int, *, key: str | None = None, channel: str = "test") -> list[int]:
    with db.transaction() as session:
        for i in range(n):
            repository.enqueue(session, channel=channel, kind="K", ref_id=i, ordering_key=key, payload={"i": i})
    with db.transaction(write=False) as session:
        return list(
            session.execute(
                select(OutboxItem.id).order_by(OutboxItem.id).where(OutboxItem.channel == channel)
            ).scalars()
        )[-n:]


def _rows(db: Database) -> dict[int, OutboxItem]:
    with db.transaction(write=False) as session:
        return {item.id: item for item in session.execute(select(OutboxItem)).scalars()}


def _due_now(db: Database) -> None:
    """Time travel: every waiting row is due again."""
    with db.transaction() as session:
        session.execute(update(OutboxItem).values(next_attempt_at=utcnow() - timedelta(seconds=1)))


def test_delivers_each_row_once_in_batches(db: Database, settings: Settings, recorder: Recorder) -> None:
    ids = _add(db, 7)
    assert delivery.deliver_pending(db, settings) == 7
    assert recorder.delivered_ids == ids
    assert [len(b) for b in recorder.batches] == [3, 3, 1]
    rows = _rows(db)
    assert {rows[i].status for i in ids} == {"DONE"}
    assert all(rows[i].delivered_at is not None and rows[i].attempts == 1 for i in ids)
    assert delivery.deliver_pending(db, settings) == 0
    assert recorder.delivered_ids == ids


def test_enqueue_select_writes_one_row_per_selected(db: Database, settings: Settings, recorder: Recorder) -> None:
    with db.transaction() as session:
        session.add_all([Toloker(id=f"u{i}") for i in range(5)])
    with db.transaction() as session:
        stmt = select(literal("test"), literal("NEW_MESSAGE"), Toloker.id, literal(42)).where(
            Toloker.id.in_(["u1", "u3"])
        )
        repository.enqueue_select(session, stmt, ["channel", "kind", "user_id", "ref_id"])
    rows = list(_rows(db).values())
    assert sorted((r.user_id, r.ref_id, r.status, r.attempts) for r in rows) == [
        ("u1", 42, "PENDING", 0),
        ("u3", 42, "PENDING", 0),
    ]
    assert delivery.deliver_pending(db, settings) == 2


def test_not_ready_channel_burns_no_attempts(db: Database, settings: Settings, recorder: Recorder) -> None:
    ids = _add(db, 2)
    recorder.ready = "SMTP is not configured"
    assert channels.not_ready_channels(settings)["test"] == "SMTP is not configured"
    assert delivery.deliver_pending(db, settings) == 0
    assert recorder.batches == []
    assert {(r.status, r.attempts) for r in _rows(db).values()} == {("PENDING", 0)}
    recorder.ready = None
    assert delivery.deliver_pending(db, settings) == 2
    assert recorder.delivered_ids == ids


def test_expired_lease_is_claimed_again(db: Database, settings: Settings, recorder: Recorder) -> None:
    ids = _add(db, 2)
    ch = channels.channel("test")
    assert ch is not None
    # A worker claims and dies before recording.
    claimed = delivery.claim_batch(db, ch, "dead-worker", timedelta(minutes=5))
    assert [r.id for r in claimed] == ids
    assert delivery.deliver_pending(db, settings) == 0  # leased: nobody else takes them
    with db.transaction() as session:
        session.execute(update(OutboxItem).values(lease_until=utcnow() - timedelta(seconds=1)))
    assert delivery.deliver_pending(db, settings) == 2
    rows = _rows(db)
    assert [(rows[i].status, rows[i].attempts) for i in ids] == [("DONE", 2), ("DONE", 2)]


def test_failing_head_holds_back_only_its_key(db: Database, settings: Settings, recorder: Recorder) -> None:
    a = _add(db, 3, key="sub-1")
    b = _add(db, 2, key="sub-2")
    free = _add(db, 1)
    recorder.script[a[0]] = [Outcome.retry("503 from receiver")]
    delivery.deliver_pending(db, settings)
    rows = _rows(db)
    # One batch carried a[0..2] in order (as a webhook POST does); the channel decides per row.
    assert rows[a[0]].status == "PENDING"
    assert rows[a[0]].last_error == "503 from receiver"
    assert {rows[i].status for i in b + free} == {"DONE"}
    delivered = recorder.delivered_ids
    assert delivered.index(a[0]) < delivered.index(a[1]) < delivered.index(a[2])


def test_failing_head_blocks_later_rows_of_its_key_across_batches(
    db: Database, settings: Settings, recorder: Recorder
) -> None:
    channels.register_channel("test", recorder.deliver, batch_size=1)
    a = _add(db, 3, key="sub-1")
    b = _add(db, 2, key="sub-2")
    recorder.script[a[0]] = [Outcome.retry("timeout")]
    delivery.deliver_pending(db, settings)
    rows = _rows(db)
    assert [rows[i].status for i in a] == ["PENDING", "PENDING", "PENDING"]
    assert [rows[i].attempts for i in a] == [1, 0, 0]
    assert {rows[i].status for i in b} == {"DONE"}
    _due_now(db)
    delivery.deliver_pending(db, settings)
    assert {r.status for r in _rows(db).values()} == {"DONE"}
    a_order = [i for i in recorder.delivered_ids if i in a]
    assert a_order == [a[0], a[0], a[1], a[2]]


def test_permanent_failure_fails_that_row_only(db: Database, settings: Settings, recorder: Recorder) -> None:
    a = _add(db, 3, key="sub-1")
    recorder.script[a[1]] = [Outcome.fail("550 no such user")]
    delivery.deliver_pending(db, settings)
    rows = _rows(db)
    assert [rows[i].status for i in a] == ["DONE", "FAILED", "DONE"]
    assert rows[a[1]].last_error == "550 no such user"


def test_backoff_grows_and_gives_up_after_the_window(db: Database, settings: Settings, recorder: Recorder) -> None:
    (row_id,) = _add(db, 1)
    recorder.script[row_id] = [Outcome.retry(f"try {n}") for n in range(1, 6)]
    delays = []
    for _ in range(4):
        before = utcnow()
        delivery.deliver_pending(db, settings)
        item = _rows(db)[row_id]
        assert item.status == "PENDING"
        delays.append((item.next_attempt_at - before).total_seconds())
        _due_now(db)
    assert delays == sorted(delays)
    assert delays[-1] > delays[0] * 3
    # The row was written longer ago than the retry window: the next failure ends it.
    with db.transaction() as session:
        session.execute(update(OutboxItem).values(created=utcnow() - timedelta(hours=settings.outbox_retry_hours)))
    delivery.deliver_pending(db, settings)
    item = _rows(db)[row_id]
    assert (item.status, item.attempts, item.last_error) == ("FAILED", 5, "try 5")


def test_backoff_has_jitter_and_a_cap() -> None:
    rng = random.Random(7)
    values = {delivery.backoff(3, rng) for _ in range(20)}
    assert len(values) > 1
    assert all(timedelta(seconds=4) <= v <= timedelta(seconds=8) for v in values)
    assert delivery.backoff(100, rng) <= timedelta(seconds=delivery.BACKOFF_CAP_SECONDS)


def test_a_channel_that_raises_retries_the_whole_batch(db: Database, settings: Settings, recorder: Recorder) -> None:
    ids = _add(db, 2)

    def broken(db: Database, settings: Settings, rows: Sequence[OutboxRow]) -> list[Outcome]:
        raise ConnectionRefusedError("connection refused")

    channels.register_channel("test", broken)
    assert delivery.deliver_pending(db, settings) == 2
    rows = _rows(db)
    assert [(rows[i].status, rows[i].attempts) for i in ids] == [("PENDING", 1), ("PENDING", 1)]
    assert "connection refused" in (rows[ids[0]].last_error or "")


# SQLite has one writer, so claims never overlap there; PostgreSQL is where this can go wrong.
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_loops_on_postgresql_deliver_each_row_once_in_key_order(db: Database, settings: Settings) -> None:
    ids = _add(db, 30, key=None)
    keyed = {key: _add(db, 10, key=key) for key in ("sub-1", "sub-2", "sub-3")}
    first_batch = threading.Barrier(2, timeout=30)
    in_flight: dict[str, str] = {}  # ordering key -> worker delivering it now
    seen: list[tuple[str, int]] = []
    clashes: list[str] = []
    lock = threading.Lock()
    started: set[str] = set()

    def deliver(db: Database, settings: Settings, rows: Sequence[OutboxRow]) -> list[Outcome]:
        me = threading.current_thread().name
        with lock:
            for row in rows:
                holder = in_flight.get(row.ordering_key or "")
                if row.ordering_key and holder not in (None, me):
                    clashes.append(f"{row.ordering_key} held by {holder} and {me}")
                if row.ordering_key:
                    in_flight[row.ordering_key] = me
                seen.append((me, row.id))
            first = me not in started
            started.add(me)
        if first:
            first_batch.wait()  # both loops hold a claimed batch at the same time
        with lock:
            for row in rows:
                if row.ordering_key and in_flight.get(row.ordering_key) == me:
                    del in_flight[row.ordering_key]
        return [Outcome.delivered() for _ in rows]

    channels.register_channel("test", deliver, batch_size=4)
    try:
        loops = [
            threading.Thread(
                target=delivery.deliver_pending, args=(db, settings), kwargs={"worker": f"w{n}"}, name=f"w{n}"
            )
            for n in (1, 2)
        ]
        for loop in loops:
            loop.start()
        for loop in loops:
            loop.join(60)
    finally:
        channels.unregister_channel("test")
    delivered = [row_id for _, row_id in seen]
    everything = ids + [i for rows in keyed.values() for i in rows]
    assert sorted(delivered) == sorted(everything)  # each row exactly once
    assert {worker for worker, _ in seen} == {"w1", "w2"}
    assert clashes == []
    for rows in keyed.values():
        assert [i for i in delivered if i in rows] == rows
    assert {r.status for r in _rows(db).values()} == {"DONE"}
