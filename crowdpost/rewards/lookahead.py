"""The worker prepares an operation's next chunk while the database writes this one.

A step of an async bonus operation spends most of its time waiting for PostgreSQL (the
bonus rows, then their threads and messages), and the next step starts with plain Python:
decoding its stored chunk and checking each item's shape. Both depend only on the chunk,
which never changes once stored, and on the operation's rules, which every step carries,
so a step hands the next chunk's text to a thread that works them out meanwhile (the
driver releases the GIL while it waits), and the next step takes the result instead of
doing the same work again. What refers to the database (`service.check_refs`) is still
checked inside the step that pays.

It is only a shortcut: a step that finds nothing prepared for it (another process runs it,
or it is a retry) works it out itself, with the same result. At most `KEEP` results wait
at a time, the oldest dropped first, so memory stays at a few chunks per process.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from crowdpost.rewards.repository import Chunk, decode_chunk
from crowdpost.rewards.service import Checked, check_shapes
from crowdpost.rewards.validation import AmountRules

KEEP = 4


@dataclass(frozen=True)
class Key:
    operation_id: int
    phase: str
    first_item: int
    rules: AmountRules
    assignment_id: str | None


@dataclass(frozen=True)
class Prepared:
    chunk: Chunk
    shaped: Checked


def prepare(key: Key, items_text: str, errors_text: str | None) -> Prepared:
    """Decode the stored chunk the key names and check its items' shapes (what a step does first)."""
    chunk = decode_chunk(key.first_item, items_text, errors_text)
    shaped = check_shapes(enumerate(chunk.items, start=chunk.first_item), key.rules, key.assignment_id)
    return Prepared(chunk, shaped)


class Lookahead:
    """Prepared chunks by key, worked out on one background thread."""

    def __init__(self, prepare_fn: Callable[[Key, str, str | None], Prepared] = prepare) -> None:
        self._prepare = prepare_fn
        self._lock = threading.Lock()
        self._waiting: OrderedDict[Key, Future[Prepared]] = OrderedDict()
        self._pool: ThreadPoolExecutor | None = None

    def start(self, key: Key, items_text: str, errors_text: str | None) -> None:
        """Begin preparing the chunk `key` names from its stored text."""
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="crowdpost-lookahead")
            stale = self._waiting.pop(key, None)  # read earlier; the text read now is current
            if stale is not None:
                stale.cancel()
            self._waiting[key] = self._pool.submit(self._prepare, key, items_text, errors_text)
            while len(self._waiting) > KEEP:
                self._waiting.popitem(last=False)[1].cancel()

    def take(self, key: Key) -> Prepared | None:
        """The prepared chunk (waiting for it if it is still being worked out), or None when
        none was started for this key or preparing it failed (the caller does it itself)."""
        with self._lock:
            future = self._waiting.pop(key, None)
        if future is None or future.cancelled():
            return None
        try:
            return future.result()
        except Exception:  # the step prepares it again and meets the error where it can report it
            return None


# One per process: the worker threads of a process share it.
LOOKAHEAD = Lookahead()
