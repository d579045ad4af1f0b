"""What keeping ids visible in id order costs (`kit.id_order`), on PostgreSQL, through HTTP.

    .venv/bin/python bench/id_order.py [--tolokers 100000] [--sends 50] [--no-write]

`crowdpost serve` as its own process. Requester A has `--tolokers` Tolokers (as in
bench/messaging.py); requester B has one of them.

1. Quiet: B sends `--sends` DIRECT messages to its Toloker one after another; p50 / p99.
   The claim is two small statements (the table's shared lock, the Toloker's lock).
2. Beside a fan-out: A's ALL send to every Toloker starts, and B keeps sending DIRECT
   messages until it is done. The ALL send holds the `toloker_threads` table lock from its
   thread's id to its commit, so B's sends queue behind it: their longest wait is about the
   ALL send's own duration. Without the lock they would not wait, and B's Toloker could
   miss a thread while paging (tests/test_paging_visibility.py).

Writes an "Id order" section into bench/RESULTS.md unless `--no-write`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import ADMIN, backend_url, server, write_section  # noqa: E402
from bench.messaging import seed_tolokers  # noqa: E402
from crowdpost.db import make_engine  # noqa: E402
from crowdpost.migrate import upgrade  # noqa: E402


def _requester(base: str, name: str) -> tuple[int, str]:
    created = httpx.post(
        f"{base}/api/admin/v1/requesters", json={"public_name": name}, headers={"Authorization": f"OAuth {ADMIN}"}
    ).json()
    return int(created["id"]), str(created["token"])


def _direct(http: httpx.Client, toloker: str, n: int) -> float:
    body = {"recipients_select_type": "DIRECT", "recipients_ids": [toloker], "topic": {"EN": "Hi"}}
    started = time.perf_counter()
    response = http.post("/api/v1/message-threads/compose", json={**body, "text": {"EN": f"Message {n}"}})
    assert response.status_code == 201, response.text
    return time.perf_counter() - started


def _pcts(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], ordered[-1]


def run(url: str, tolokers: int, sends: int) -> dict[str, Any]:
    engine = make_engine(url)
    upgrade(engine)
    with server(url, worker=False) as (base, _proc):
        a_id, a_token = _requester(base, "Fan-out")
        b_id, b_token = _requester(base, "Direct")
        seed_tolokers(engine, a_id, tolokers)
        toloker = "t000000001"
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO requester_tolokers (requester_id, user_id, started_count, first_started, last_started)"
                    " VALUES (:r, :u, 2, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                {"r": b_id, "u": toloker},
            )
        auth_b = {"Authorization": f"OAuth {b_token}"}
        with httpx.Client(base_url=base, headers=auth_b, timeout=120) as b:
            _direct(b, toloker, -1)  # warm up
            quiet = [_direct(b, toloker, n) for n in range(sends)]
            fan_out: dict[str, float] = {}

            def send_all() -> None:
                body = {"recipients_select_type": "ALL", "topic": {"EN": "News"}, "text": {"EN": "A new pool."}}
                started = time.perf_counter()
                response = httpx.post(
                    f"{base}/api/v1/message-threads/compose",
                    json=body,
                    headers={"Authorization": f"OAuth {a_token}"},
                    timeout=120,
                )
                assert response.status_code == 201, response.text
                fan_out["seconds"] = time.perf_counter() - started

            sender = threading.Thread(target=send_all)
            sender.start()
            beside: list[float] = []
            while sender.is_alive():
                beside.append(_direct(b, toloker, sends + len(beside)))
            sender.join()
    engine.dispose()
    return {"quiet": _pcts(quiet), "beside": _pcts(beside), "beside_n": len(beside), "all": fan_out["seconds"]}


def render(result: dict[str, Any], args: argparse.Namespace) -> str:
    q50, q99, _ = result["quiet"]
    b50, b99, bmax = result["beside"]
    return (
        f"`.venv/bin/python bench/id_order.py --tolokers {args.tolokers} --sends {args.sends}` on 2 cores "
        f"(PostgreSQL).\n\n"
        "| DIRECT send of requester B | p50 | p99 | max |\n|---|---|---|---|\n"
        f"| quiet ({args.sends} sends) | {q50 * 1000:.1f} ms | {q99 * 1000:.1f} ms | |\n"
        f"| beside A's ALL send to {args.tolokers:,} ({result['all']:.2f} s; {result['beside_n']} sends) "
        f"| {b50 * 1000:.1f} ms | {b99 * 1000:.1f} ms | {bmax * 1000:.1f} ms |\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tolokers", type=int, default=100_000)
    parser.add_argument("--sends", type=int, default=50)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="crowdpost-bench-") as tmp,
        backend_url("postgresql", Path(tmp), "crowdpost_bench") as url,
    ):
        result = run(url, args.tolokers, args.sends)
    print(result, flush=True)
    section = render(result, args)
    print(section)
    if not args.no_write:
        write_section("Id order", section)


if __name__ == "__main__":
    main()
