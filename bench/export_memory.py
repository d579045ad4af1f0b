"""The bonuses CSV export in bounded memory: 100,000 bonuses streamed from a live server.

    .venv/bin/python bench/export_memory.py [--backend sqlite|postgresql|both] [--bonuses 100000]
                                            [--no-write]

Per backend: a fresh migrated database; `crowdpost serve --no-worker` as its own process on
a free loopback port; one requester (created through the admin API, signed in through the
sign-in form) with 1,000 Tolokers and `--bonuses` bonuses seeded with ONE set-based
`INSERT ... SELECT` (the Tolokers times a recursive CTE of numbers; every private comment a
formula cell, so the export escapes each one). Then `GET /rewards/bonuses.csv` is read as a
stream (counted, never kept) while the server's RSS is sampled every 20 ms (psutil, the
process and its children). Figures: the server's RSS before the export, the peak sampled
during it, and `VmHWM` read after it, reset just before it through /proc/PID/clear_refs (so
it is the export's own peak; where the kernel refuses the reset it is the peak since the
process started, and the table says so), the export's time and size. Target (issue 13): under 150 MB server RSS.

Writes the "Bonuses export memory" section of bench/RESULTS.md (other sections left alone).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
from sqlalchemy import Engine, Integer, String, cast, insert, literal, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import ADMIN, backend_url, server, write_section  # noqa: E402
from bench.hostile_bodies import peak_rss, reset_peak  # noqa: E402
from bench.rewards import seed_tolokers  # noqa: E402
from crowdpost.db import make_engine  # noqa: E402
from crowdpost.kit.ids import format_id  # noqa: E402
from crowdpost.migrate import upgrade  # noqa: E402
from crowdpost.models import Bonus, Toloker  # noqa: E402
from crowdpost.models.base import UTCDateTime  # noqa: E402

SECTION = "Bonuses export memory"
EMAIL = "bench-export@example.com"
PASSWORD = "bench-password-0123"
TARGET_MB = 150
SAMPLE_SECONDS = 0.02


def seed_bonuses(engine: Engine, requester_id: int, count: int) -> float:
    """`count` bonuses of this requester in one INSERT ... SELECT: every bench Toloker times
    a recursive CTE of numbers. Answers the seconds it took."""
    tolokers = engine.connect().execute(select(Toloker.id).where(Toloker.id.like("bench%"))).all()
    per_toloker = -(-count // len(tolokers))
    numbers = select(literal(1, Integer).label("i")).cte("numbers", recursive=True)
    numbers = numbers.union_all(select(numbers.c.i + 1).where(numbers.c.i < per_toloker))
    now = datetime.now(UTC).replace(tzinfo=None)
    title, message = Bonus.public_title.type, Bonus.public_message.type
    rows = (
        select(
            literal(requester_id).label("requester_id"),
            Toloker.id,
            (literal(1_000, Integer) * numbers.c.i).label("amount_micros"),
            (literal("=SUM(A1) ", String) + Toloker.id + literal(" ", String) + cast(numbers.c.i, String)).label("c"),
            literal({"EN": "Thank you", "FR": "Merci"}, title).label("t"),
            literal({"EN": "Great work on the tasks"}, message).label("m"),
            literal(False).label("w"),
            literal(now, UTCDateTime).label("created"),
        )
        .select_from(Toloker)
        .join(numbers, literal(True))
        .where(Toloker.id.like("bench%"))
        .limit(count)
    )
    columns = [
        Bonus.requester_id,
        Bonus.user_id,
        Bonus.amount_micros,
        Bonus.private_comment,
        Bonus.public_title,
        Bonus.public_message,
        Bonus.without_message,
        Bonus.created,
    ]
    began = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(insert(Bonus).from_select([c.key for c in columns], rows))
    return time.perf_counter() - began


def _rss(process: psutil.Process) -> int:
    """Bytes resident: the server process and its children."""
    total = process.memory_info().rss
    for child in process.children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            total += child.memory_info().rss
    return total


def measure_export(base: str, pid: int, count: int) -> dict[str, Any]:
    process = psutil.Process(pid)
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss(process))
            time.sleep(SAMPLE_SECONDS)

    with httpx.Client(base_url=base, timeout=600, follow_redirects=False) as client:
        form = client.get("/sign-in").text
        marker = 'name="csrf_token" value="'
        start = form.index(marker) + len(marker)
        fields = {"email": EMAIL, "password": PASSWORD, "csrf_token": form[start : form.index('"', start)]}
        assert client.post("/sign-in", data=fields).status_code == 303
        client.get("/rewards")  # warm: templates, the first query
        before = _rss(process)
        hwm_reset = reset_peak(pid)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        began = time.perf_counter()
        lines = size = 0
        first_row = b""
        with client.stream("GET", "/rewards/bonuses.csv") as answer:
            assert answer.status_code == 200, answer.status_code
            tail = b""
            for chunk in answer.iter_bytes():
                size += len(chunk)
                lines += chunk.count(b"\n")
                if not first_row:
                    tail += chunk
                    if tail.count(b"\n") >= 2:
                        first_row = tail.split(b"\n")[1]
        elapsed = time.perf_counter() - began
        done.set()
        sampler.join()
    if lines != count + 1:
        raise RuntimeError(f"the export has {lines - 1} rows, not {count}")
    if b",'=SUM(A1) " not in first_row:
        raise RuntimeError(f"the formula cell is not escaped: {first_row[:200]!r}")
    hwm = peak_rss(pid)
    return {"before": before, "peak": peak[0], "hwm": hwm, "hwm_reset": hwm_reset, "seconds": elapsed, "size": size}


def run_backend(name: str, count: int) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="crowdpost-export-bench-") as tmp,
        backend_url(name, Path(tmp), "crowdpost_export_bench") as url,
    ):
        engine = make_engine(url)
        upgrade(engine)
        with server(url, worker=False) as (base, proc):
            admin = {"Authorization": f"OAuth {ADMIN}"}
            created = httpx.post(
                f"{base}/api/admin/v1/requesters",
                json={"public_name": "Bench", "balance": "1000", "email": EMAIL},
                headers=admin,
            ).json()
            requester_id = int(created["id"])
            answer = httpx.post(
                f"{base}/api/admin/v1/requesters/{format_id(requester_id)}/password",
                json={"password": PASSWORD},
                headers=admin,
            )
            assert answer.status_code == 204, answer.text
            seed_tolokers(engine, requester_id)
            seeded = seed_bonuses(engine, requester_id, count)
            figures = measure_export(base, proc.pid, count)
        engine.dispose()
    return {"backend": name, "seeded": seeded, **figures}


def _mb(value: int) -> str:
    return f"{value / 2**20:.0f} MB"


def report(results: list[dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [
        f"## {SECTION}",
        "",
        f"`.venv/bin/python bench/export_memory.py --backend {args.backend} --bonuses {args.bonuses}` on 2 cores, "
        f"{datetime.now(UTC).date()} (issue 13). `GET /rewards/bonuses.csv` of {args.bonuses:,} bonuses (seeded "
        "with one INSERT ... SELECT) from `crowdpost serve --no-worker`, read as a stream; the server's RSS "
        f"sampled every {SAMPLE_SECONDS * 1000:.0f} ms (psutil) and its VmHWM, reset just before the export "
        "(/proc/PID/clear_refs), read after it. Target: under "
        f"{TARGET_MB} MB server RSS.",
        "",
        "| backend | RSS before | peak RSS sampled during the export | VmHWM of the export | export "
        "| seed (one INSERT) |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['backend']} | {_mb(r['before'])} | {_mb(r['peak'])} "
            f"| {_mb(r['hwm'])}{'' if r['hwm_reset'] else ' (since startup: no reset)'} "
            f"| {r['seconds']:.1f} s, {r['size'] / 1e6:.1f} MB | {r['seeded']:.1f} s |"
        )
    worst = max(max(r["peak"], r["hwm"]) for r in results)
    verdict = "under" if worst < TARGET_MB * 2**20 else "OVER"
    lines += [
        "",
        f"Highest figure {_mb(worst)}: {verdict} the {TARGET_MB} MB target. The export reads pages of 1,000 "
        "bonuses, each in its own short read transaction (`rewards.bonus_history.iter_bonuses`), and "
        "`kit.csv_export.csv_lines` encodes one row at a time, so the server holds one page, not the file.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--bonuses", type=int, default=100_000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    names = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results = [run_backend(name, args.bonuses) for name in names]
    text = report(results, args)
    print(text)
    if not args.no_write:
        write_section(SECTION, text)


if __name__ == "__main__":
    main()
