"""Scale-out: sync bonus throughput with 1, 2 and 4 API processes on PostgreSQL
(`crowdpost serve --workers N`), each beside a bare multi-connection insert of the same
rows in the same run; the figure is the ratio.

    .venv/bin/python bench/scale.py [--workers-list 1,2,4] [--clients 16] [--requests 30] [--no-write]

One embedded PostgreSQL and one fresh migrated database for the whole run; one requester
with an ample balance and 1,000 Tolokers who worked for them (seeded in SQL, as
bench/rewards.py does). For each N of `--workers-list`:

1. API: `crowdpost serve --workers N --no-worker` as its own process group on a free
   loopback port (the embedded worker is off: sync payments need none, and its polls
   would only add noise). Once /healthz answers and the N processes have finished
   starting (their CPU time stops growing), every client sends two warm-up requests; then
   `--clients` threads, each with its own HTTP connection, send `--requests`
   `POST /api/v1/user-bonuses` of 100 bonuses with messages each (bench/rewards.py's
   `bench_sync`, bodies serialized before the clock starts). Figure: bonuses paid per
   second of wall time. The server is then stopped with SIGTERM.
2. Bare: right after that server has stopped, the same number of rows inserted into the
   same `bonuses` table by as many threads as there were clients, each on its own DB-API
   connection, an executemany of 100 rows and one commit at a time.

Why this baseline: it is what this machine's PostgreSQL accepts into the same table (same
indexes and foreign keys) with the same concurrency and the same rows per commit when
nothing else runs, the ceiling for the write pattern the API issues; API / bare says how
much of it the service keeps. It is measured after each API figure, not once, so each
ratio compares two figures taken under the same machine load and table size.

Writes a "Scale-out" section into bench/RESULTS.md (other sections are left alone).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import simplejson
from sqlalchemy import Engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import ADMIN, backend_url, server_env, write_section  # noqa: E402
from bench.rewards import BATCH, MESSAGE, TITLE, bench_sync, seed_tolokers  # noqa: E402
from crowdpost.config import Settings  # noqa: E402
from crowdpost.db import make_engine  # noqa: E402
from crowdpost.kit.money import to_micros  # noqa: E402
from crowdpost.migrate import upgrade  # noqa: E402
from tests.fixtures.live_server import free_port  # noqa: E402

SECTION = "Scale-out"
DATABASE = "crowdpost_scale_bench"
BALANCE = "100000000"
AMOUNT = Decimal("0.01")
WARM_UP_REQUESTS = 2
START_TIMEOUT = 120.0
STOP_TIMEOUT = 60.0
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Row:
    requesters: int
    processes: int
    api: float  # bonuses/s
    bare: float  # rows/s

    @property
    def ratio(self) -> float:
        return self.api / self.bare


# --- the server -------------------------------------------------------------------------


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, CPU ticks used) of a process, or None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fields = raw[raw.rfind(")") + 2 :].split()  # after "pid (comm) ": state, ppid, ...
    return int(fields[1]), int(fields[11]) + int(fields[12])


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None and stat[0] == pid:
                found.append(int(entry.name))
    return found


def _cpu_ticks(pids: list[int]) -> int:
    return sum(stat[1] for pid in pids if (stat := _stat(pid)) is not None)


def _settle(proc: subprocess.Popen[bytes], processes: int, deadline: float) -> None:
    """Waits until the supervisor has `processes` children (one process alone serves when
    N is 1) and the server's CPU time stops growing: every process has imported and built
    its app, so the clock never runs while some of them are still starting."""
    while True:
        pids = [proc.pid, *_children(proc.pid)]
        if processes == 1 or len(pids) > processes:
            before = _cpu_ticks(pids)
            time.sleep(0.5)
            if _cpu_ticks(pids) - before <= 0.02 * TICKS:  # under 4 % of a core
                return
        else:
            time.sleep(0.2)
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError(f"the {processes} API processes did not settle")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (uvicorn's supervisor stops its processes and waits for them), then SIGKILL to
    the process group as a last resort and for anything of it still left."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            print(f"server {proc.pid} ignored SIGTERM for {STOP_TIMEOUT:.0f} s; killing it", file=sys.stderr)
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # its own session: only this server's processes
    proc.wait()


@contextmanager
def api_server(url: str, processes: int, log: Path, extra_env: dict[str, str]) -> Iterator[str]:
    """`crowdpost serve --workers N --no-worker` in a session of its own on a free loopback
    port, with the environment bench/common.py's `server()` gives (which cannot pass
    `--workers`); yields the base URL once the N processes are up. stderr goes to `log`."""
    port = free_port()
    env = server_env(url, extra_env)
    command = [sys.executable, "-m", "crowdpost", "serve", "--port", str(port)]
    command += ["--workers", str(processes), "--no-worker"]
    base = f"http://127.0.0.1:{port}"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            with suppress(httpx.TransportError):
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            if time.monotonic() > deadline or proc.poll() is not None:
                tail = log.read_text(encoding="utf-8", errors="replace")[-2000:]
                raise RuntimeError(f"server with {processes} API processes did not start:\n{tail}")
            time.sleep(0.2)
        _settle(proc, processes, deadline)
        yield base
    finally:
        _stop(proc)


def create_requester(base: str) -> tuple[int, str]:
    """A requester with an ample balance, through the admin API: (id, OAuth token)."""
    response = httpx.post(
        f"{base}/api/admin/v1/requesters",
        json={"public_name": "Bench scale-out", "balance": BALANCE},
        headers={"Authorization": f"OAuth {ADMIN}"},
    )
    if response.status_code != 201:
        raise RuntimeError(f"creating the requester failed: {response.status_code} {response.text[:300]}")
    created = response.json()
    return int(created["id"]), str(created["token"])


def link_tolokers(engine: Engine, requester_id: int, users: list[str]) -> None:
    """The Tolokers seeded for the first requester have also worked for this one."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO requester_tolokers (requester_id, user_id, started_count, first_started, last_started) "
                "VALUES (:r, :u, 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
            [{"r": requester_id, "u": user} for user in users],
        )


# --- the bare baseline ------------------------------------------------------------------


def bare_insert_concurrent(
    engine: Engine, requester_ids: list[int], users: list[str], connections: int, batches: int
) -> float:
    """Rows per second of `connections` threads, each on its own DB-API connection, each
    inserting `batches` executemany of BATCH rows into `bonuses`, one commit per batch;
    connection c writes for requester c mod n, as client c of the API run paid for it."""
    columns = (
        "requester_id, user_id, amount_micros, private_comment, public_title, public_message, without_message, created"
    )
    sql = f"INSERT INTO bonuses ({columns}) VALUES ({', '.join(['%s'] * 8)})"
    now = datetime.now(UTC).replace(tzinfo=None)
    title, message, micros = simplejson.dumps(TITLE), simplejson.dumps(MESSAGE), to_micros(AMOUNT)
    stamp = time.monotonic_ns()
    rows = [
        [
            [
                (
                    requester_ids[c % len(requester_ids)],
                    users[n % len(users)],
                    micros,
                    f"bare{stamp}-{c}.{b}-{n}",
                    title,
                    message,
                    False,
                    now,
                )
                for n in range(BATCH)
            ]
            for b in range(batches)
        ]
        for c in range(connections)
    ]
    raws = [engine.raw_connection() for _ in range(connections)]  # connected before the clock starts
    failures: list[BaseException] = []
    start = threading.Barrier(connections + 1)

    def run(number: int) -> None:
        raw = raws[number]
        cursor = raw.cursor()
        start.wait()
        try:
            for batch in rows[number]:
                cursor.executemany(sql, batch)
                raw.commit()
        except Exception as exc:  # reported after the join, from the main thread
            failures.append(exc)
        finally:
            cursor.close()

    threads = [threading.Thread(target=run, args=(c,)) for c in range(connections)]
    try:
        for thread in threads:
            thread.start()
        start.wait()
        began = time.perf_counter()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - began
    finally:
        for raw in raws:
            raw.close()
    if failures:
        raise RuntimeError(f"{len(failures)} bare insert connections failed") from failures[0]
    return connections * batches * BATCH / elapsed


# --- the run ----------------------------------------------------------------------------


def run(args: argparse.Namespace) -> list[Row]:
    processes_list: list[int] = args.workers_list
    per_server = args.clients * (args.requests + WARM_UP_REQUESTS)
    # The daily quota of bonus requests counts every request of the run: never the limit here.
    default_quota = int(Settings.model_fields["bonus_requests_per_day"].default)
    env = {"CROWDPOST_BONUS_REQUESTS_PER_DAY": str(max(default_quota, 2 * per_server * len(processes_list)))}
    rows: list[Row] = []
    with (
        tempfile.TemporaryDirectory(prefix="crowdpost-scale-bench-") as tmp,
        backend_url("postgresql", Path(tmp), DATABASE) as url,
    ):
        # Pool slots for every bare connection at once (beyond the default 10 + 10 overflow).
        engine = make_engine(url, pool_size=max(10, args.clients))
        try:
            upgrade(engine)
            requesters: list[tuple[int, str]] = []
            users: list[str] = []
            for count, processes in ((r, p) for r in args.requesters for p in processes_list):
                with api_server(url, processes, Path(tmp) / f"serve-{count}-{processes}.log", env) as base:
                    while len(requesters) < count:
                        requesters.append(create_requester(base))
                        if users:
                            link_tolokers(engine, requesters[-1][0], users)
                        else:
                            users = seed_tolokers(engine, requesters[-1][0])
                    tokens = [token for _, token in requesters[:count]]
                    bench_sync(base, tokens, users, args.clients, WARM_UP_REQUESTS, with_ids=False)
                    api = bench_sync(base, tokens, users, args.clients, args.requests, with_ids=False)
                ids = [requester_id for requester_id, _ in requesters[:count]]
                bare = bare_insert_concurrent(engine, ids, users, args.clients, args.requests)
                row = Row(count, processes, api, bare)
                rows.append(row)
                print(
                    f"{count} requester(s), {processes} API process(es): {api:,.0f} bonuses/s; "
                    f"bare {bare:,.0f} rows/s ({100 * row.ratio:.0f} %)",
                    flush=True,
                )
        finally:
            engine.dispose()
    return rows


def report(rows: list[Row], args: argparse.Namespace, cores: int) -> str:
    first = rows[0]
    spread = ",".join(str(n) for n in args.requesters)
    workers = ",".join(str(n) for n in args.workers_list)
    count = args.clients * args.requests * BATCH
    lines = [
        f"## {SECTION}",
        "",
        f"`.venv/bin/python bench/scale.py --workers-list {workers} --requesters {spread} --clients {args.clients} "
        f"--requests {args.requests}` on {cores} cores, {datetime.now(UTC).date().isoformat()}, embedded "
        f"PostgreSQL. {count:,} bonuses with messages per row (batches of {BATCH}, {args.clients} clients); "
        f"bare: the same rows by {args.clients} connections, {BATCH} rows per commit, right after each server stopped.",
        "",
        "| requesters paying | API processes | sync, with messages | bare executemany, same rows, same connections "
        f"| API / bare | speed-up over {first.processes} process(es) |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        alone = next(r for r in rows if r.requesters == row.requesters)
        lines.append(
            f"| {row.requesters} | {row.processes} | {row.api:,.0f} bonuses/s | {row.bare:,.0f} rows/s "
            f"| {100 * row.ratio:.0f} % | {row.api / alone.api:.2f}x |"
        )
    lines += [
        "",
        f"How to read it: the ratio compares each API figure with the bare insert taken beside it, so drift of the "
        f"machine between rows moves both; the speed-up compares API figures alone. On {cores} cores the "
        f"{args.clients} client threads (one Python process), the API processes and PostgreSQL share the cores: "
        "an extra process can only use the CPU one process leaves idle (its GIL, its waits on the database), so "
        "the speed-up cannot be linear here; it can be where the cores outnumber the processes.",
        "",
        "The bare insert writes one row per bonus; a bonus with a message also writes its Toloker thread rows in "
        "the same transaction, and every payment updates its requester's balance row, locked until commit: with "
        "one requester the concurrent payments queue on that row whichever process serves them; spread over "
        "several requesters (the clients take them in turn) they do not.",
    ]
    return "\n".join(lines) + "\n"


def _workers_list(value: str) -> list[int]:
    try:
        numbers = [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of integers: {value!r}") from None
    if not numbers or min(numbers) < 1:
        raise argparse.ArgumentTypeError("every process count must be at least 1")
    return numbers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers-list", type=_workers_list, default=[1, 2, 4], help="API process counts: 1,2,4")
    parser.add_argument("--clients", type=int, default=16, help="concurrent HTTP clients (and bare connections)")
    parser.add_argument(
        "--requesters",
        type=_workers_list,
        default=[1, 16],
        help="requester counts the clients are spread over, in turn: 1,16 (one balance row, or one each)",
    )
    parser.add_argument("--requests", type=int, default=30, help="requests of 100 bonuses per client")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args()
    if args.clients < 1 or args.requests < 1:
        parser.error("--clients and --requests must be at least 1")
    rows = run(args)
    section = report(rows, args, len(os.sched_getaffinity(0)))
    print(section)
    if not args.no_write:
        write_section(SECTION, section)


if __name__ == "__main__":
    main()
