"""Is the database reachable? Answered within a few seconds, whatever the database does.

Directly connected, a stopped PostgreSQL refuses the connection at once. Behind pgbouncer the
connection to pgbouncer succeeds and the query waits for a server connection (up to
pgbouncer's `query_wait_timeout`, 120 s by default): /readyz must not wait that long, nor
pile up waiting threads and connections while something polls it every second. So one probe
runs at a time, in its own thread, on a connection of its own (`Database.probe_engine`); a
caller waits at most `timeout` for it, and callers meanwhile share the probe in flight.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout

from sqlalchemy import Engine, text

log = logging.getLogger(__name__)

PROBE_SECONDS = 3.0


class ReadinessProbe:
    def __init__(self, engine: Engine, timeout: float = PROBE_SECONDS) -> None:
        self._engine = engine
        self._timeout = timeout
        self._lock = threading.Lock()
        self._inflight: Future[None] | None = None

    def why_not_ready(self) -> str | None:
        """None when a `SELECT 1` came back in time, else why not."""
        with self._lock:
            if self._inflight is None or self._inflight.done():
                self._inflight = Future()
                threading.Thread(target=self._probe, args=(self._inflight,), daemon=True).start()
            future = self._inflight
        try:
            future.result(self._timeout)
        except FutureTimeout:
            return f"no answer from the database within {self._timeout:g} s"
        except Exception as exc:
            return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        return None

    def _probe(self, future: Future[None]) -> None:
        try:
            with self._engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:
            log.debug("readiness probe failed", exc_info=True)
            future.set_exception(exc)
        else:
            future.set_result(None)
