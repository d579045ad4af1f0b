"""The worker's look-ahead (`rewards.lookahead`): the next chunk of an operation is decoded
and shape-checked on a thread while a step writes its payment, the next step takes it, and a
step with nothing prepared (or a failed preparation) does the work itself with the same result."""

from __future__ import annotations

import threading
from decimal import Decimal

import httpx
import pytest

from crowdpost.app import create_app
from crowdpost.config import Settings
from crowdpost.db import Database
from crowdpost.rewards import runner
from crowdpost.rewards.lookahead import KEEP, Key, Lookahead, Prepared, prepare
from crowdpost.rewards.validation import AmountRules
from crowdpost.worker.loop import run_pending
from tests.fixtures.live_server import serve_in_thread
from tests.rewards.helpers import Crew, auth_client, bonus, bonus_count, get_operation, get_operation_log, post_bonuses

RULES = AmountRules(Decimal("0.005"), Decimal(100), Decimal(0))
ITEMS = '[{"user_id": "u1", "amount": 1, "without_message": true}, {"user_id": "u2", "amount": 0.0001}]'


def _key(first_item: int, operation_id: int = 1) -> Key:
    return Key(operation_id, "PAY", first_item, RULES, None)


def test_a_started_chunk_is_taken_once_with_what_the_step_would_work_out() -> None:
    ahead = Lookahead()
    ahead.start(_key(10), ITEMS, None)

    taken = ahead.take(_key(10))

    assert taken == prepare(_key(10), ITEMS, None)
    assert taken is not None
    assert [d.index for d in taken.shaped.drafts] == [10]
    assert list(taken.shaped.errors) == [11]  # below the minimum amount
    assert ahead.take(_key(10)) is None  # taken: the next step with that key works it out itself
    assert ahead.take(_key(12)) is None  # never started


def test_a_failed_preparation_is_left_to_the_step() -> None:
    def broken(key: Key, items: str, errors: str | None) -> Prepared:
        raise ValueError("not JSON")

    ahead = Lookahead(broken)
    ahead.start(_key(0), "[", None)

    assert ahead.take(_key(0)) is None


def test_at_most_keep_chunks_wait_and_the_oldest_go_first() -> None:
    release = threading.Event()

    def slow(key: Key, items: str, errors: str | None) -> Prepared:
        release.wait(10)
        return prepare(key, items, errors)

    ahead = Lookahead(slow)
    for operation_id in range(KEEP + 2):
        ahead.start(_key(0, operation_id), ITEMS, None)
    release.set()

    assert [ahead.take(_key(0, n)) is not None for n in range(KEEP + 2)] == [False, False] + [True] * KEEP


def test_text_read_again_replaces_what_was_started_before() -> None:
    """A chunk's errors can change between passes: the latest text read is what counts."""
    ahead = Lookahead()
    ahead.start(_key(0), ITEMS, None)
    ahead.start(_key(0), ITEMS, '{"1": {"amount": {"code": "X"}}}')

    taken = ahead.take(_key(0))

    assert taken is not None
    assert taken.chunk.errors == {"1": {"amount": {"code": "X"}}}


def test_an_operation_pays_the_same_with_every_later_chunk_prepared_ahead(
    client: httpx.Client, crew: Crew, db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken: list[int] = []
    recording = Lookahead()
    original_take = recording.take

    def take(key: Key) -> Prepared | None:
        found = original_take(key)
        if found is not None:
            taken.append(key.first_item)
        return found

    monkeypatch.setattr(recording, "take", take)
    monkeypatch.setattr(runner, "LOOKAHEAD", recording)
    small = settings.model_copy(update={"worker_chunk_size": 2})
    items = [bonus(uid, "1", private_comment=f"c{n}") for n in range(3) for uid in crew.user_ids]
    with serve_in_thread(create_app(small, db)) as url, auth_client(url, crew.requester.token) as small_client:
        post_bonuses(small_client, items, async_mode=True, operation_id="op-ahead")

    run_pending(db)

    done = get_operation(client, "op-ahead")
    assert done["status"] == "SUCCESS"
    assert done["details"]["success_count"] == 9
    assert bonus_count(db) == 9
    assert [entry["success"] for entry in get_operation_log(client, "op-ahead")] == [True] * 9
    passes = 1 if db.engine.dialect.name == "postgresql" else 2  # SQLite's worker checks, then pays
    assert taken == [2, 4, 6, 8] * passes  # every chunk after the first of a pass came prepared
