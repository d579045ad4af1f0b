"""Messaging at scale: an ALL send through HTTP, then folder listing and keyword search.

    .venv/bin/python bench/messaging.py [--tolokers 100000] [--threads 1000000]
                                        [--backend sqlite|postgresql|both] [--runs 200] [--no-write]

1. ALL send: N Tolokers who each started two of the requester's tasks; `crowdpost serve`
   runs as its own process; one `POST /message-threads/compose` (ALL). The response is
   sent after the commit, so its latency is the time to committed delivery. Peak server
   RSS is the process's VmHWM. Baseline: a bare `INSERT INTO scratch SELECT user_id FROM
   requester_tolokers` of the same rows in the same database. Every send writes one
   `recipient_outcomes` row per addressed Toloker (counted after the send) and checks the
   bulk cap inside the same statement; a second ALL send (the day's quota raised for the
   bench) then runs against a week of history: every Toloker has the first send's delivery,
   and one in three two more (seeded in SQL), so that third is LEFT_OUT_CAPPED.
2. Listing and search with M threads stored for one requester (built in SQL, the FTS
   index filled by the same trigger/GIN index the app uses): `list_requester_threads`
   (the service the endpoint calls: a page of 50 with messages) for random pages of the
   INBOX folder and of UNREAD, and `q=` searches for a rare word and a phrase; p50/p99.
   Baseline: a bare `SELECT thread_id ... ORDER BY thread_id LIMIT 50` on the same table.

Writes a "Messaging" section into bench/RESULTS.md (other sections are left alone).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import ADMIN, backend_url, server, write_section  # noqa: E402
from crowdpost.app import settle_heap  # noqa: E402
from crowdpost.db import Database, make_engine  # noqa: E402
from crowdpost.kit.pagination import ListParams  # noqa: E402
from crowdpost.messaging.repository import ThreadFilters  # noqa: E402
from crowdpost.messaging.schemas import Folder  # noqa: E402
from crowdpost.messaging.service import list_requester_threads  # noqa: E402
from crowdpost.migrate import upgrade  # noqa: E402

SECTION = "## Messaging"
WORDS = ["pool", "task", "instructions", "bonus", "quality", "review", "labels", "images", "audio", "update"]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _pcts(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def _series(engine: Engine, n: int) -> str:
    """A SELECT of x = 1..n in this dialect."""
    if engine.dialect.name == "sqlite":
        return f"WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < {n}) SELECT x FROM s"
    return f"SELECT generate_series(1, {n}) AS x"


def seed_tolokers(engine: Engine, requester_id: int, n: int) -> None:
    series = _series(engine, n)
    pad = "printf('t%09d', x)" if engine.dialect.name == "sqlite" else "'t' || lpad(x::text, 9, '0')"
    with engine.begin() as conn:
        conn.execute(
            text(f"INSERT INTO tolokers (id, country, created) SELECT {pad}, 'GB', CURRENT_TIMESTAMP FROM ({series}) s")
        )
        conn.execute(
            text(
                "INSERT INTO requester_tolokers (requester_id, user_id, started_count, first_started, last_started) "
                f"SELECT {requester_id}, id, 2, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM tolokers"
            )
        )


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _send_all(base: str, token: str, text_value: str) -> tuple[dict[str, Any], float]:
    body = {"recipients_select_type": "ALL", "topic": {"EN": "News"}, "text": {"EN": text_value}}
    started = time.perf_counter()
    response = httpx.post(
        f"{base}/api/v1/message-threads/compose",
        json=body,
        headers={"Authorization": f"OAuth {token}"},
        timeout=120,
    )
    elapsed = time.perf_counter() - started
    assert response.status_code == 201, response.text
    thread: dict[str, Any] = response.json()
    return thread, elapsed


def outcome_rows(engine: Engine, thread_id: str) -> int:
    with engine.connect() as conn:
        stmt = text("SELECT count(*) FROM recipient_outcomes WHERE thread_id = :t")
        return int(conn.execute(stmt, {"t": int(thread_id)}).scalar_one())


def seed_history(engine: Engine, requester_id: int, thread_id: str) -> None:
    """Two more bulk deliveries yesterday for every third Toloker (ids t000000003, t000000006, ...)."""
    sqlite = engine.dialect.name == "sqlite"
    every_third = "CAST(substr(id, 2) AS INTEGER) % 3 = 0" if sqlite else "substr(id, 2)::int % 3 = 0"
    yesterday = "datetime('now', '-1 day')" if sqlite else "now() at time zone 'utc' - interval '1 day'"
    true = "1" if sqlite else "true"
    with engine.begin() as conn:
        for _ in range(2):
            conn.execute(
                text(
                    "INSERT INTO recipient_outcomes (requester_id, thread_id, user_id, outcome, bulk, created) "
                    f"SELECT {requester_id}, {int(thread_id)}, id, 'DELIVERED', {true}, {yesterday} FROM tolokers"
                    f" WHERE {every_third}"
                )
            )


def bench_send(url: str, n: int) -> dict[str, Any]:
    engine = make_engine(url)
    upgrade(engine)
    with server(url, worker=False, extra_env={"CROWDPOST_ALL_SENDS_PER_DAY": "2"}) as (base, proc):
        created = httpx.post(
            f"{base}/api/admin/v1/requesters",
            json={"public_name": "Bench"},
            headers={"Authorization": f"OAuth {ADMIN}"},
        ).json()
        requester_id = int(created["id"])
        seed_tolokers(engine, requester_id, n)
        rss_before = peak_rss_mb(proc.pid)
        first, elapsed = _send_all(base, created["token"], "A new pool is open.")
        rss = peak_rss_mb(proc.pid)
        rows = outcome_rows(engine, first["id"])
        seed_history(engine, requester_id, first["id"])
        second, capped_elapsed = _send_all(base, created["token"], "Another pool is open.")
        capped_rss = peak_rss_mb(proc.pid)
    delivered = first["delivery"]["delivered"]
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE bench_scratch (user_id VARCHAR(64), thread_id BIGINT)"))
        started = time.perf_counter()
        conn.execute(text("INSERT INTO bench_scratch SELECT user_id, 1 FROM requester_tolokers"))
        baseline = time.perf_counter() - started
        conn.execute(text("DROP TABLE bench_scratch"))
    result = {
        "delivered": delivered,
        "outcome_rows": rows,
        "seconds": elapsed,
        "rss_mb": rss,
        "rss_before_mb": rss_before,
        "baseline": baseline,
        "capped_outcomes": second["outcomes"],
        "capped_seconds": capped_elapsed,
        "capped_rss_mb": capped_rss,
    }
    engine.dispose()
    return result


def seed_threads(engine: Engine, requester_id: int, m: int) -> None:
    """m threads for one requester: every 3rd unread, every 2nd in INBOX, rare words sprinkled."""
    series = _series(engine, m)
    sqlite = engine.dialect.name == "sqlite"
    word = "CASE x % 10 " + " ".join(f"WHEN {i} THEN '{w}'" for i, w in enumerate(WORDS)) + " END"
    rare = "CASE WHEN x % 997 = 0 THEN ' zebrafish' ELSE '' END"
    body = f"'Thread ' || x || ' about ' || {word} || {rare}"
    topic = f"json_object('EN', {body})" if sqlite else f"jsonb_build_object('EN', {body})"
    true, false = ("1", "0") if sqlite else ("true", "false")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO message_threads (id, requester_id, kind, topic, answerable, delivered_count, banned_count,"
                " unknown_count, created) "
                f"SELECT x + 1000000, {requester_id}, 'SYSTEM', {topic}, {false}, 1, 0, 0, CURRENT_TIMESTAMP"
                f" FROM ({series}) s"
            )
        )
        conn.execute(
            text(
                "INSERT INTO messages (thread_id, requester_id, sender_role, sender_id, text, search_text, created) "
                f"SELECT x + 1000000, {requester_id}, 'SYSTEM', 'SYSTEM', {topic}, {body} || ' ' || {body},"
                f" CURRENT_TIMESTAMP FROM ({series}) s"
            )
        )
        conn.execute(
            text(
                "INSERT INTO requester_threads (requester_id, thread_id, interlocutor_role, created, inbox, outbox,"
                " notification, important, unread) "
                f"SELECT {requester_id}, x + 1000000, 'SYSTEM', CURRENT_TIMESTAMP,"
                f" CASE WHEN x % 2 = 0 THEN {true} ELSE {false} END, {false}, {true}, {false},"
                f" CASE WHEN x % 3 = 0 THEN {true} ELSE {false} END FROM ({series}) s"
            )
        )
        if not sqlite:
            conn.execute(text("ANALYZE"))


def _timed(runs: int, fn: Callable[[int], Any]) -> tuple[float, float]:
    samples = []
    for i in range(runs):
        started = time.perf_counter()
        fn(i)
        samples.append(time.perf_counter() - started)
    return _pcts(samples)


def bench_reads(url: str, m: int, runs: int) -> dict[str, tuple[float, float]]:
    engine = make_engine(url)
    with engine.begin() as conn:
        requester_id = int(conn.execute(text("SELECT min(id) FROM requesters")).scalar_one())
    seed_threads(engine, requester_id, m)
    db = Database(engine)
    rng = random.Random(7)
    bounds = [f"{rng.randint(1_000_000, 1_000_000 + m):012d}" for _ in range(runs)]

    def listing(folder: Folder) -> Callable[[int], Any]:
        def run(i: int) -> Any:
            with db.transaction(write=False) as session:
                params = ListParams(limit=50, sort=[], id_range={"gt": bounds[i]})
                return list_requester_threads(session, requester_id, ThreadFilters(folder=[folder]), params)

        return run

    def searching(q: str) -> Callable[[int], Any]:
        def run(i: int) -> Any:
            with db.transaction(write=False) as session:
                params = ListParams(limit=50, sort=[], id_range={})
                return list_requester_threads(session, requester_id, ThreadFilters(q=q), params)

        return run

    def bare(i: int) -> Any:
        with engine.connect() as conn:
            return conn.execute(
                text(
                    "SELECT thread_id FROM requester_threads WHERE requester_id = :r AND thread_id > :b"
                    " ORDER BY thread_id LIMIT 51"
                ),
                {"r": requester_id, "b": int(bounds[i])},
            ).all()

    found = searching("zebrafish")(0)
    assert found["items"], "the rare word must match"
    settle_heap()  # what `crowdpost serve` does once started: this process plays the server
    results = {
        "bare page (baseline)": _timed(runs, bare),
        "INBOX page of 50": _timed(runs, listing(Folder.INBOX)),
        "UNREAD page of 50": _timed(runs, listing(Folder.UNREAD)),
        "q=zebrafish (1 in 997)": _timed(runs, searching("zebrafish")),
        'q="bonus zebrafish" (phrase)': _timed(runs, searching('"bonus zebrafish"')),
    }
    engine.dispose()
    return results


OUTCOME_TABLE_HEAD = [
    "The same sends with their per-recipient outcomes (`recipient_outcomes`, one row per addressed"
    " Toloker, and the bulk cap inside the same statement); the second ALL send runs against a week"
    " of history in which a third of the Tolokers already had 3 bulk messages:",
    "",
    "| backend | outcome rows | time to committed delivery | peak server RSS"
    " | 2nd ALL send: delivered / capped | its time | peak server RSS after it |",
    "|---|---|---|---|---|---|---|",
]


def outcome_row(name: str, send: dict[str, Any]) -> str:
    capped = send["capped_outcomes"]
    return (
        f"| {name} | {send['outcome_rows']:,} | {send['seconds']:.2f} s | {send['rss_mb']:.0f} MB"
        f" (idle {send['rss_before_mb']:.0f} MB) | {capped['DELIVERED']:,} / {capped['LEFT_OUT_CAPPED']:,}"
        f" | {send['capped_seconds']:.2f} s | {send['capped_rss_mb']:.0f} MB |"
    )


def render(rows: dict[str, dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [
        SECTION,
        "",
        f"`bench/messaging.py --tolokers {args.tolokers} --threads {args.threads} --runs {args.runs}`"
        f" on {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}. Targets: {args.tolokers:,} delivered in <= 5 s"
        " under 300 MB RSS; listing p99 <= 20 ms; search p99 <= 50 ms.",
        "",
        "| backend | ALL send: delivered | time to committed delivery | bare INSERT ... SELECT | peak server RSS |",
        "|---|---|---|---|---|",
    ]
    for name, row in rows.items():
        send = row["send"]
        lines.append(
            f"| {name} | {send['delivered']:,} | {send['seconds']:.2f} s | {send['baseline']:.2f} s"
            f" | {send['rss_mb']:.0f} MB (idle {send['rss_before_mb']:.0f} MB) |"
        )
    lines += ["", *OUTCOME_TABLE_HEAD]
    for name, row in rows.items():
        lines.append(outcome_row(name, row["send"]))
    lines += ["", f"Reads with {args.threads:,} threads stored for one requester (p50 / p99):", ""]
    lines += ["| backend | query | p50 | p99 |", "|---|---|---|---|"]
    for name, row in rows.items():
        for query, (p50, p99) in row["reads"].items():
            lines.append(f"| {name} | {query} | {_ms(p50)} | {_ms(p99)} |")
    return "\n".join(lines) + "\n\n" + NOTES


NOTES = """\
How to read it: the send is one `INSERT ... SELECT` from the audience query, so the server's
memory does not grow with the audience. Reads call the service the endpoint calls (a page of
50 threads with their messages and views) in a process set up as `crowdpost serve` sets
itself up: the startup heap is frozen (`settle_heap`). Before that (previous run of this
bench, same machine) one full garbage collection walked ~130,000 startup objects for
50-70 ms every few hundred calls, and that alone set p99: 27-138 ms on SQLite and ~60 ms for
PostgreSQL search, with p50 unchanged. The send got faster too: SQLite's checkpoints now run
in a background thread (`WalCheckpointer`) instead of inside the commit (1.09 s before).
Search on PostgreSQL walks the requester's threads in id order and merges them with the GIN
matches; for a rare word that reads ~50,000 index entries before the page is full, which is
most of its 20-30 ms.
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tolokers", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--send-only", action="store_true", help="only the ALL sends; writes nothing")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    rows: dict[str, dict[str, Any]] = {}
    for name in backends:
        with (
            tempfile.TemporaryDirectory(prefix="crowdpost-bench-") as tmp,
            backend_url(name, Path(tmp), "crowdpost_bench") as url,
        ):
            send = bench_send(url, args.tolokers)
            print(name, "send", send, flush=True)
            print(outcome_row(name, send), flush=True)
            if args.send_only:
                continue
            reads = bench_reads(url, args.threads, args.runs)
            print(name, "reads", {k: (_ms(a), _ms(b)) for k, (a, b) in reads.items()}, flush=True)
            rows[name] = {"send": send, "reads": reads}
    if args.send_only:
        return
    section = render(rows, args)
    print(section)
    if not args.no_write:
        write_section("Messaging", section)


if __name__ == "__main__":
    main()
