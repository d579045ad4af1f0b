"""Rewards throughput: sync batches through HTTP and a 100,000-bonus async operation,
each beside a bare executemany INSERT of the same rows into the same table.

    .venv/bin/python bench/rewards.py [--backend sqlite|postgresql|both]
                                      [--clients 8] [--requests 40] [--async-items 100000] [--csv] [--no-write]

Per backend: a fresh migrated database; `crowdpost serve` (with its embedded worker) as
its own process on a free loopback port; one requester with a large balance and 1,000
Tolokers who worked for them (seeded in SQL).

1. Sync: `--clients` threads, each with its own HTTP connection, send `--requests`
   `POST /user-bonuses` of 100 bonuses each (bodies serialized before the clock starts):
   with a message (each becomes a Toloker thread, the messaging domain's work in the
   same transaction), the same with an `operation_id` (what toloka-kit always sends),
   and `without_message` (the rewards path alone).
   Figure: bonuses paid per second of wall time. Baseline: the same number of rows
   inserted with a bare DB-API executemany, 100 rows and one commit at a time, into the
   same `bonuses` table (same indexes and foreign keys).
   Beside it, the same payments in this process without HTTP (`--clients` parsed bodies
   at a time through `Database.writes`, grouped commits on SQLite): the ceiling the
   domain and the database leave for the HTTP layer on this machine.
2. Async: one `POST /user-bonuses?async_mode=true` of `--async-items` bonuses (~17 MB of
   JSON for 100,000); the figure is the time from sending it until `GET /operations/{id}`
   says SUCCESS (polled every 50 ms), with the POST's own latency beside it; once with
   messages and once `without_message`. Baseline: the same rows in one bare executemany
   and one commit.

3. `--csv`: the page's "Pay from a file" with `--async-items` rows (a CSV of the same
   bonuses), signed in through the sign-in form: POST /rewards/file (upload, parse, store),
   GET /rewards/file/{id} (the API's checks on every row, the preview), then POST .../pay
   and the time until `GET /operations/{id}` says SUCCESS. Beside the API's async figure of
   the same run; written as the "Rewards from a file" section.

Writes a "Rewards" section into bench/RESULTS.md (other sections are left alone).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import simplejson
from sqlalchemy import Engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import ADMIN, backend_url, server, write_section  # noqa: E402
from crowdpost.config import Settings  # noqa: E402
from crowdpost.db import Database, make_engine  # noqa: E402
from crowdpost.kit.ids import format_id  # noqa: E402
from crowdpost.kit.jsonwire import loads  # noqa: E402
from crowdpost.migrate import upgrade  # noqa: E402
from crowdpost.rewards import service  # noqa: E402
from crowdpost.wiring import wire_domains  # noqa: E402

SECTION = "## Rewards"
CSV_SECTION = "Rewards from a file"
CSV_EMAIL = "bench-rewards@example.com"
CSV_PASSWORD = "bench-password-0123"
TOLOKERS = 1000
BATCH = 100
TITLE = {"EN": "Thank you"}
MESSAGE = {"EN": "Great work on the tasks"}


def seed_tolokers(engine: Engine, requester_id: int) -> list[str]:
    ids = [f"bench{n:06d}" for n in range(TOLOKERS)]
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO tolokers (id, country, created) VALUES (:id, 'GB', CURRENT_TIMESTAMP)"),
            [{"id": i} for i in ids],
        )
        conn.execute(
            text(
                "INSERT INTO requester_tolokers (requester_id, user_id, started_count, first_started, last_started) "
                "VALUES (:r, :u, 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
            [{"r": requester_id, "u": i} for i in ids],
        )
    return ids


def items(users: list[str], count: int, tag: str, message: bool = True) -> list[dict[str, Any]]:
    texts: dict[str, Any] = (
        {"public_title": TITLE, "public_message": MESSAGE}
        if message
        else {"public_title": None, "public_message": None, "without_message": True}
    )
    return [
        {"user_id": users[n % len(users)], "amount": Decimal("0.01"), "private_comment": f"{tag}-{n}", **texts}
        for n in range(count)
    ]


def bench_sync(
    base: str,
    token: str | list[str],
    users: list[str],
    clients: int,
    requests: int,
    *,
    with_ids: bool,
    message: bool = True,
) -> float:
    """Bonuses per second through HTTP, `clients` concurrent connections; `token` is one
    requester's for all of them, or a list the clients take in turn (client c: token c mod n)."""
    tokens = [token] if isinstance(token, str) else token
    tag = f"{'op' if with_ids else 'plain'}-{'msg' if message else 'silent'}"
    bodies = [
        [
            simplejson.dumps(items(users, BATCH, f"{tag}{c}.{r}", message), use_decimal=True).encode()
            for r in range(requests)
        ]
        for c in range(clients)
    ]
    failures: list[str] = []
    start = threading.Barrier(clients + 1)

    def run(client_no: int) -> None:
        headers = {"Authorization": f"OAuth {tokens[client_no % len(tokens)]}", "Content-Type": "application/json"}
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            client.get("/healthz")  # connect before the clock starts
            start.wait()
            for body in bodies[client_no]:
                params = {"operation_id": str(uuid.uuid4())} if with_ids else {}
                response = client.post("/api/v1/user-bonuses", content=body, params=params)
                if response.status_code != 201:
                    failures.append(response.text[:200])

    threads = [threading.Thread(target=run, args=(c,)) for c in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    if failures:
        raise RuntimeError(f"{len(failures)} sync requests failed, e.g. {failures[0]}")
    return clients * requests * BATCH / elapsed


def bench_in_process(url: str, requester_id: int, users: list[str], group: int, requests: int) -> float:
    """Bonuses per second of the payment transactions alone (with messages): bodies parsed
    before the clock starts, `group` at a time through `Database.writes`, no HTTP."""
    settings = Settings(database_url=url, admin_token=ADMIN)
    wire_domains()  # the payments' subscribers (the bonus messages), as the app registers them
    db = Database.from_settings(settings, background_checkpoints=True)
    bodies = [
        loads(simplejson.dumps(items(users, BATCH, f"inproc{r}"), use_decimal=True).encode()) for r in range(requests)
    ]
    plain = service.BonusRequest()

    def pay(body: Any) -> Any:
        return lambda session: service.do_create_bonuses(session, settings, requester_id, body, plain)

    async def run() -> None:
        for first in range(0, requests, group):
            await asyncio.gather(*(db.writes.run(pay(body)) for body in bodies[first : first + group]))

    try:
        began = time.perf_counter()
        asyncio.run(run())
        return requests * BATCH / (time.perf_counter() - began)
    finally:
        db.dispose()


def bench_async(base: str, token: str, users: list[str], count: int, message: bool) -> tuple[float, float, str]:
    """(seconds until SUCCESS, seconds for the POST itself, body size)."""
    body = simplejson.dumps(items(users, count, f"async-{message}", message), use_decimal=True).encode()
    headers = {"Authorization": f"OAuth {token}", "Content-Type": "application/json"}
    with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
        began = time.perf_counter()
        response = client.post("/api/v1/user-bonuses", content=body, params={"async_mode": "true"})
        accepted = time.perf_counter() - began
        if response.status_code != 202:
            raise RuntimeError(response.text[:300])
        operation_id = response.json()["id"]
        while True:
            operation = client.get(f"/api/v1/operations/{operation_id}").json()
            if operation["status"] in ("SUCCESS", "FAIL"):
                break
            time.sleep(0.05)
        total = time.perf_counter() - began
    if operation["status"] != "SUCCESS" or operation["details"]["success_count"] != count:
        raise RuntimeError(f"async operation did not pay everything: {operation}")
    return total, accepted, f"{len(body) / 1e6:.1f} MB"


def bare_insert(engine: Engine, requester_id: int, users: list[str], count: int, batch: int) -> float:
    """Rows per second of a bare DB-API executemany into `bonuses`, one commit per `batch` rows."""
    sqlite = engine.dialect.name == "sqlite"
    mark = "?" if sqlite else "%s"
    columns = (
        "requester_id, user_id, amount_micros, private_comment, public_title, public_message, without_message, created"
    )
    sql = f"INSERT INTO bonuses ({columns}) VALUES ({', '.join([mark] * 8)})"
    utc = datetime.now(UTC).replace(tzinfo=None)
    now: Any = utc.isoformat(sep=" ") if sqlite else utc
    title, message = simplejson.dumps(TITLE), simplejson.dumps(MESSAGE)
    rows = [
        (requester_id, users[n % len(users)], 10_000, f"bare-{batch}-{n}", title, message, False, now)
        for n in range(count)
    ]
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        began = time.perf_counter()
        for first in range(0, count, batch):
            if sqlite:  # crowdpost's connections run in autocommit mode and issue BEGIN themselves
                cursor.execute("BEGIN IMMEDIATE")
            cursor.executemany(sql, rows[first : first + batch])
            raw.commit()
        elapsed = time.perf_counter() - began
    finally:
        raw.close()
    return count / elapsed


def _hidden_csrf(html: str) -> str:
    marker = 'name="csrf_token" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def csv_file(users: list[str], count: int) -> bytes:
    lines = ["user_id,amount,title,message,private_comment"]
    lines += [f"{users[n % len(users)]},0.01,Thank you,Great work on the tasks,csv-{n}" for n in range(count)]
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def bench_csv(base: str, token: str, requester_id: int, users: list[str], count: int) -> dict[str, Any]:
    """Seconds: upload (parse + store), preview (the API's checks of every row), pay to SUCCESS."""
    admin = {"Authorization": f"OAuth {ADMIN}"}
    answer = httpx.post(
        f"{base}/api/admin/v1/requesters/{format_id(requester_id)}/password",
        json={"password": CSV_PASSWORD},
        headers=admin,
    )
    assert answer.status_code == 204, answer.text
    content = csv_file(users, count)
    with httpx.Client(base_url=base, timeout=300, follow_redirects=False) as client:
        form = client.get("/sign-in").text
        fields = {"email": CSV_EMAIL, "password": CSV_PASSWORD}
        if 'name="csrf_token"' in form:
            fields["csrf_token"] = _hidden_csrf(form)
        assert client.post("/sign-in", data=fields).status_code == 303
        csrf = _hidden_csrf(client.get("/rewards/file").text)
        began = time.perf_counter()
        stored = client.post("/rewards/file", data={"csrf_token": csrf}, files={"file": ("b.csv", content, "text/csv")})
        uploaded = time.perf_counter() - began
        assert stored.status_code == 303, stored.text[:300]
        page = stored.headers["location"]
        began = time.perf_counter()
        shown = client.get(page)
        previewed = time.perf_counter() - began
        assert shown.status_code == 200, shown.text[:300]
        assert f">{count:,}<" in shown.text, "the preview does not show every row as good"
        began = time.perf_counter()
        paid = client.post(f"{page}/pay", data={"csrf_token": csrf})
        posted = time.perf_counter() - began
        assert paid.status_code == 303, paid.text[:300]
        marker = "/rewards/operations/"
        after = client.get(paid.headers["location"]).text
        start = after.index(marker) + len(marker)
        operation_id = after[start : after.index('"', start)]
    headers = {"Authorization": f"OAuth {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=120) as api:
        while True:
            operation = api.get(f"/api/v1/operations/{operation_id}").json()
            if operation["status"] in ("SUCCESS", "FAIL"):
                break
            time.sleep(0.05)
        total = time.perf_counter() - began
    if operation["status"] != "SUCCESS" or operation["details"]["success_count"] != count:
        raise RuntimeError(f"file operation did not pay everything: {operation}")
    return {
        "size": f"{len(content) / 1e6:.1f} MB",
        "upload": uploaded,
        "preview": previewed,
        "pay_post": posted,
        "pay_total": total,
    }


def csv_report(results: list[dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [
        f"## {CSV_SECTION}",
        "",
        f"`.venv/bin/python bench/rewards.py --csv --backend {args.backend} --async-items {args.async_items}` "
        f"on 2 cores, {datetime.now(UTC).date()}. Targets: a {args.async_items:,}-row CSV validated and previewed "
        "in <= 10 s; paid within the async target (10 s), beside the API's async figure of the same run.",
        "",
        "| backend | file | upload (parse, store) | preview (every row checked) | pay: POST (to SUCCESS) "
        "| API async, same run |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        c = r["csv"]
        lines.append(
            f"| {r['backend']} | {r['async_items']:,} rows ({c['size']}) | {c['upload']:.2f} s | {c['preview']:.2f} s "
            f"| {c['pay_post']:.2f} s ({c['pay_total']:.2f} s) | {r['async_total']:.2f} s |"
        )
    return "\n".join(lines) + "\n"


def run_backend(name: str, args: argparse.Namespace) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="crowdpost-rewards-bench-") as tmp,
        backend_url(name, Path(tmp), "crowdpost_rewards_bench") as url,
    ):
        engine = make_engine(url)
        upgrade(engine)
        with server(url, worker=True, extra_env={"CROWDPOST_WORKER_POLL_INTERVAL": "0.05"}) as (base, _):
            created = httpx.post(
                f"{base}/api/admin/v1/requesters",
                json={"public_name": "Bench", "balance": "10000000", "email": CSV_EMAIL},
                headers={"Authorization": f"OAuth {ADMIN}"},
            ).json()
            requester_id, token = int(created["id"]), created["token"]
            users = seed_tolokers(engine, requester_id)
            bench_sync(base, token, users, 2, 2, with_ids=False)  # warm up
            sync_plain = bench_sync(base, token, users, args.clients, args.requests, with_ids=False)
            sync_ids = bench_sync(base, token, users, args.clients, args.requests, with_ids=True)
            sync_silent = bench_sync(base, token, users, args.clients, args.requests, with_ids=False, message=False)
            in_process = bench_in_process(url, requester_id, users, args.clients, args.clients * args.requests)
            async_total, async_post, size = bench_async(base, token, users, args.async_items, message=True)
            silent_total, silent_post, _ = bench_async(base, token, users, args.async_items, message=False)
            csv_figures = bench_csv(base, token, requester_id, users, args.async_items) if args.csv else None
        sync_count = args.clients * args.requests * BATCH
        result = {
            "backend": name,
            "sync_plain": sync_plain,
            "sync_ids": sync_ids,
            "sync_silent": sync_silent,
            "in_process": in_process,
            "sync_bare": bare_insert(engine, requester_id, users, sync_count, BATCH),
            "async_items": args.async_items,
            "async_total": async_total,
            "async_post": async_post,
            "async_size": size,
            "silent_total": silent_total,
            "silent_post": silent_post,
            "async_bare": args.async_items
            / bare_insert(engine, requester_id, users, args.async_items, args.async_items),
            "sync_count": sync_count,
            "csv": csv_figures,
        }
        engine.dispose()
    return result


def report(results: list[dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [
        SECTION,
        "",
        f"`.venv/bin/python bench/rewards.py --backend {args.backend} --clients {args.clients} "
        f"--requests {args.requests} --async-items {args.async_items}` on 2 cores, "
        f"{datetime.now().date().isoformat()}. Targets: >= 20,000 bonuses/s sync on SQLite "
        "(8 clients, batches of 100); 100,000 async in <= 10 s; end to end >= 25 % of a bare insert.",
        "",
        "| backend | sync, with messages | with messages and operation_id | without_message "
        "| in process, no HTTP, with messages | bare executemany, 100 rows per commit | e2e / bare |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['backend']} | {r['sync_plain']:,.0f} bonuses/s | {r['sync_ids']:,.0f} bonuses/s "
            f"| {r['sync_silent']:,.0f} bonuses/s | {r['in_process']:,.0f} bonuses/s | {r['sync_bare']:,.0f} rows/s "
            f"| {100 * r['sync_plain'] / r['sync_bare']:.0f} % |"
        )
    lines += [
        "",
        "| backend | async, with messages: POST to SUCCESS (of which the POST) "
        "| without_message (POST) | bare executemany, one commit | e2e / bare |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['backend']} | {r['async_items']:,} bonuses ({r['async_size']}) in {r['async_total']:.2f} s "
            f"({r['async_post']:.2f} s) | {r['silent_total']:.2f} s ({r['silent_post']:.2f} s) "
            f"| {r['async_bare']:.2f} s | {100 * r['async_bare'] / r['async_total']:.0f} % |"
        )
    lines += ["", *_standing(results)]
    return "\n".join(lines) + "\n"


def _standing(results: list[dict[str, Any]]) -> list[str]:
    """Where we stand against each target, from this run's figures."""
    notes = []
    for r in results:
        sync_ok = r["sync_plain"] >= 20_000
        async_ok = r["async_total"] <= 10
        notes.append(
            f"- {r['backend']}: sync {'meets' if sync_ok else 'misses'} 20,000/s "
            f"({r['sync_plain']:,.0f}/s with messages, {r['sync_silent']:,.0f}/s without); "
            f"100,000 async {'meets' if async_ok else 'misses'} 10 s "
            f"({r['async_total']:.1f} s with messages, {r['silent_total']:.1f} s without); "
            f"sync e2e/bare {100 * r['sync_plain'] / r['sync_bare']:.0f} % (target 25 %)."
        )
    notes += [
        "",
        "Why: a bonus with a message also becomes a Toloker thread (thread, message, folder row) in "
        "the same transaction (messaging's `BonusesPaid` subscriber), four rows and about ten index "
        "entries per bonus, several of them at random places (by Toloker), so the commit writes far more "
        "pages than the bare insert of `bonuses` alone; `without_message` shows the rewards path alone. "
        "Per 100-bonus request the rewards path runs about eight statements (auth, quota upsert, one "
        "reference query, the balance UPDATE and ledger rows, id reservation, one bulk insert); Python "
        "validation of each item (~3 us), JSON in and out and the framework take the rest; with an "
        "`operation_id` it also stores the operation row. The 2-core machine runs the 8 clients too, "
        "and figures vary by tens of percent between runs.",
        "",
        "Group commit (SQLite): `POST /user-bonuses` runs its transaction in `Database.writes`; the "
        "requests queued while one transaction runs go into the next one together, each in its own "
        "savepoint, with one COMMIT, and every response leaves after that COMMIT. The embedded worker "
        "looks for work in a read transaction before taking the write lock, so idle polls no longer "
        "make the API's writers sleep in SQLite's busy handler. `/metrics` shows the group sizes "
        "(`crowdpost_group_commit_units`).",
        "",
        "The sync target is above what this 2-core machine leaves for the design: the in-process column "
        "is the same payments with no HTTP, no clients on the CPU and bodies already parsed, 8 at a time "
        "through the group commit, and even that stays under 20,000/s with messages; the HTTP figures "
        "share the 2 cores with the 8 clients (about 1 core-second per 32,000 bonuses). Per 100 bonuses "
        "with messages the SQLite statements alone take ~4.6 ms (bonuses ~1.3 ms, toloker_threads "
        "~1.3 ms, message_threads ~1.0 ms, messages ~0.7 ms), before any Python.",
        "",
        "Changes in this round (2026-11-23; before = the previous run, SQLite / PostgreSQL: sync with "
        "messages 5,018 / 3,726 bonuses/s, with operation_id 3,696 / 2,746, without_message 8,767 / 5,635; "
        "async 100,000 with messages 6.39 s / 16.12 s, without_message 4.19 s / 9.00 s):",
        "- Group commit of concurrent SQLite payments (above); PostgreSQL keeps one transaction per "
        "request (row locks let concurrent payers run side by side).",
        "- Earlier in the day: WAL checkpoints moved off the commit path to a `WalCheckpointer` thread, "
        "and `crowdpost serve` freezes its startup heap (`settle_heap`).",
    ]
    return notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=40, help="requests of 100 bonuses per client")
    parser.add_argument("--async-items", type=int, default=100_000)
    parser.add_argument("--csv", action="store_true", help="also pay a CSV of --async-items rows from the page")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args()
    names = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results = []
    for name in names:
        result = run_backend(name, args)
        results.append(result)
        print(
            f"{name}: sync {result['sync_plain']:,.0f} bonuses/s (with operation_id {result['sync_ids']:,.0f}, "
            f"without_message {result['sync_silent']:,.0f}; in process {result['in_process']:,.0f}) "
            f"vs bare {result['sync_bare']:,.0f} rows/s; async {result['async_items']:,} in "
            f"{result['async_total']:.2f} s (POST {result['async_post']:.2f} s, {result['async_size']}; "
            f"without_message {result['silent_total']:.2f} s) "
            f"vs bare {result['async_bare']:.2f} s",
            flush=True,
        )
    section = report(results, args)
    print(section)
    if not args.no_write:
        write_section("Rewards", section)
    if args.csv:
        csv_section = csv_report(results, args)
        print(csv_section)
        if not args.no_write:
            write_section(CSV_SECTION, csv_section)


if __name__ == "__main__":
    main()
