"""Pages at scale: the Inbox page and search pages beside the API listing of the same page.

    .venv/bin/python bench/pages.py [--threads 1000000] [--others 4] [--other-threads 100000]
                                    [--backend sqlite|postgresql|both] [--runs 300] [--warmup 30]
                                    [--no-write]

Per backend, a fresh database and `crowdpost serve` as its own process (no worker):
1. Requesters made through the admin API: the measured one (with an e-mail, and a password
   set by `POST /api/admin/v1/requesters/{id}/password`) and `--others` more.
2. Threads written straight into the tables, set-based (one INSERT ... SELECT per table,
   the SQLite FTS index filled by the app's own trigger, PostgreSQL's GIN index by itself):
   `--threads` for the measured requester, `--other-threads` for each other one, so every
   listing and search has to filter by requester. A tenth are automatic notifications, a
   tenth administrator news, a tenth the requester's own sends (Sent), the rest Toloker
   conversations (two messages each); every third unread, one in fifty important. Words
   as in bench/messaging.py: one of ten common words per thread, "zebrafish" in 1 of 997.
3. A page session the way a browser gets one: GET /sign-in, POST /sign-in (e-mail and
   password), keep the `crowdpost_session` cookie.
4. After a warm-up, `--runs` sequential requests of each: the Inbox page `/messages` and an
   older Inbox page (`id_lt` from the middle), each beside the API listing of the same page
   (`GET /api/v1/message-threads?folder=INBOX&limit=50&sort=-id`: the page lists newest
   first), and the search pages `/messages?q=...` for a rare and a common word beside the API
   search (`?q=...&limit=50&sort=-id`); `/healthz` is the floor (the HTTP stack alone).
   Requests are interleaved (each round asks every case once) so drift of the machine hits
   page and API alike.

Server time: every request's `duration_ms` from the server's own access log (written by
`RequestContextMiddleware`, the outermost middleware, after the last byte of the answer is
handed to uvicorn), matched to the request by its `X-Request-Id`. The client's round trip
is printed beside it. Target: page p99 <= 1.5 x API p99.

Writes a "Pages" section into bench/RESULTS.md (other sections are left alone).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import ADMIN, backend_url, write_section  # noqa: E402
from crowdpost.db import make_engine  # noqa: E402
from crowdpost.kit.ids import format_id  # noqa: E402
from tests.fixtures.live_server import free_port  # noqa: E402

SECTION = "Pages"
EMAIL = "bench@crowdpost.local"
PASSWORD = "bench-password-0123"
TOLOKERS = 10_000
WORDS = ["pool", "task", "instructions", "bonus", "quality", "review", "labels", "images", "audio", "update"]
RARE = "zebrafish"  # in 1 of 997 threads
COMMON = "bonus"  # in 1 of 10 threads
TARGET = 1.5
# Thread ids of requester k are k * SPAN + 1 ... : no two requesters share one.
SPAN = 10_000_000
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _pcts(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


# --- the server --------------------------------------------------------------------------


@contextmanager
def serve(url: str, log_path: Path) -> Iterator[str]:
    """`crowdpost serve --no-worker` on a free port, its JSON log (with the access log) in a file.

    bench.common.server discards the log; here it is the server's own clock for each request."""
    port = free_port()
    env = {
        **os.environ,
        "CROWDPOST_DATABASE_URL": url,
        "CROWDPOST_ADMIN_TOKEN": ADMIN,
        "CROWDPOST_LOG_LEVEL": "INFO",
        "CROWDPOST_LOG_JSON": "true",
    }
    command = [sys.executable, "-m", "crowdpost", "serve", "--port", str(port), "--no-worker"]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError(f"server did not start; see {log_path}")
            time.sleep(0.2)
        try:
            yield base
        finally:
            proc.kill()
            proc.wait(30)


def server_durations(log_path: Path) -> dict[str, float]:
    """request id -> seconds, from the access log lines (`duration_ms`)."""
    durations: dict[str, float] = {}
    for line in log_path.read_text(encoding="utf-8", errors="replace").splitlines():
        if '"duration_ms"' not in line:
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if "request_id" in entry and "duration_ms" in entry:
            durations[entry["request_id"]] = float(entry["duration_ms"]) / 1000
    return durations


# --- seeding -----------------------------------------------------------------------------


def _series(engine: Engine, n: int) -> str:
    """A SELECT of x = 1..n in this dialect."""
    if engine.dialect.name == "sqlite":
        return f"WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < {n}) SELECT x FROM s"
    return f"SELECT generate_series(1, {n}) AS x"


def _toloker(engine: Engine, expr: str) -> str:
    if engine.dialect.name == "sqlite":
        return f"printf('b%06d', {expr})"
    return f"'b' || lpad(({expr})::text, 6, '0')"


def seed_tolokers(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                f"INSERT INTO tolokers (id, country, created) SELECT {_toloker(engine, 'x')}, 'GB', CURRENT_TIMESTAMP"
                f" FROM ({_series(engine, TOLOKERS)}) s"
            )
        )


def seed_threads(engine: Engine, requester_id: int, slot: int, m: int) -> None:
    """m threads of one requester, ids slot * SPAN + 1 ..., in five set-based statements.

    x % 10: 0 automatic notification, 1 administrator news, 2 the requester's own send to
    ALL (Sent), 3..9 a conversation with Toloker x % TOLOKERS (the requester wrote, the
    Toloker answered: the newest message is the Toloker's)."""
    sqlite = engine.dialect.name == "sqlite"
    series = f"SELECT x, x % 10 AS k FROM ({_series(engine, m)}) n"
    true, false = ("1", "0") if sqlite else ("true", "false")
    word = "CASE x % 10 " + " ".join(f"WHEN {i} THEN '{w}'" for i, w in enumerate(WORDS)) + " END"
    rare = f"CASE WHEN x % 997 = 0 THEN ' {RARE}' ELSE '' END"
    subject = f"'Thread ' || x || ' about ' || {word} || {rare}"
    body = f"'Hello, a note on the ' || {word} || ' of thread ' || x || '.' || {rare}"
    lang_map = "json_object('EN', {})" if sqlite else "jsonb_build_object('EN', {})"
    tid = f"x + {slot * SPAN}"
    toloker = f"CASE WHEN k >= 3 THEN {_toloker(engine, f'x % {TOLOKERS} + 1')} END"
    me = format_id(requester_id)
    kind = "CASE k WHEN 0 THEN 'SYSTEM' WHEN 1 THEN 'PLATFORM' WHEN 2 THEN 'COMPOSE' ELSE 'CONVERSATION' END"
    role = "CASE k WHEN 0 THEN 'SYSTEM' WHEN 1 THEN 'ADMINISTRATOR' ELSE 'USER' END"
    first_sender_role = "CASE k WHEN 0 THEN 'SYSTEM' WHEN 1 THEN 'ADMINISTRATOR' ELSE 'REQUESTER' END"
    first_sender = f"CASE k WHEN 0 THEN 'SYSTEM' WHEN 1 THEN 'ADMINISTRATOR' ELSE '{me}' END"

    def flag(condition: str) -> str:
        return f"CASE WHEN {condition} THEN {true} ELSE {false} END"

    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO message_threads (id, requester_id, kind, topic, answerable, toloker_id, select_type,"
                " delivered_count, banned_count, unknown_count, created) "
                f"SELECT {tid}, {requester_id}, {kind}, {lang_map.format(subject)}, {flag('k >= 2')}, {toloker},"
                f" CASE WHEN k = 2 THEN 'ALL' END, CASE WHEN k = 2 THEN {TOLOKERS} ELSE 1 END, 0, 0,"
                f" CURRENT_TIMESTAMP FROM ({series}) s"
            )
        )
        conn.execute(
            text(
                "INSERT INTO messages (thread_id, requester_id, sender_role, sender_id, text, search_text, created) "
                f"SELECT {tid}, {requester_id}, {first_sender_role}, {first_sender}, {lang_map.format(body)},"
                f" {subject} || ' ' || {body}, CURRENT_TIMESTAMP FROM ({series}) s"
            )
        )
        reply = "'Thanks, done: ' || " + word
        conn.execute(
            text(
                "INSERT INTO messages (thread_id, requester_id, sender_role, sender_id, text, search_text, created) "
                f"SELECT {tid}, {requester_id}, 'USER', {toloker}, {lang_map.format(reply)},"
                f" {subject} || ' ' || {reply}, CURRENT_TIMESTAMP FROM ({series}) s WHERE k >= 3"
            )
        )
        conn.execute(
            text(
                "INSERT INTO requester_threads (requester_id, thread_id, toloker_id, interlocutor_role, created,"
                " inbox, outbox, notification, important, unread) "
                f"SELECT {requester_id}, {tid}, {toloker}, {role}, CURRENT_TIMESTAMP,"
                f" {flag('k = 1 OR k >= 3')}, {flag('k = 2')}, {flag('k = 0')}, {flag('x % 50 = 0')},"
                f" {flag('x % 3 = 0 AND k <> 2')} FROM ({series}) s"
            )
        )


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            table: int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
            for table in ("message_threads", "messages", "requester_threads")
        }


# --- the clients -------------------------------------------------------------------------


@dataclass
class Clients:
    page: httpx.Client
    api: httpx.Client
    requester_id: int


def make_requesters(base: str, others: int) -> tuple[int, str, list[int]]:
    """(measured requester id, its token, other requester ids), through the admin API."""
    admin = {"Authorization": f"OAuth {ADMIN}"}
    made = httpx.post(
        f"{base}/api/admin/v1/requesters",
        json={"public_name": {"EN": "Bench Requester"}, "email": EMAIL, "balance": "1234.50"},
        headers=admin,
    )
    assert made.status_code == 201, made.text
    body = made.json()
    other_ids = []
    for i in range(others):
        other = httpx.post(f"{base}/api/admin/v1/requesters", json={"public_name": {"EN": f"Other {i}"}}, headers=admin)
        assert other.status_code == 201, other.text
        other_ids.append(int(other.json()["id"]))
    return int(body["id"]), body["token"], other_ids


def sign_in(base: str, requester_id: int) -> httpx.Client:
    """A cookie-holding client signed in by the sign-in form, as a browser would be."""
    admin = {"Authorization": f"OAuth {ADMIN}"}
    set_password = httpx.post(
        f"{base}/api/admin/v1/requesters/{format_id(requester_id)}/password",
        json={"password": PASSWORD},
        headers=admin,
    )
    assert set_password.status_code == 204, set_password.text
    client = httpx.Client(base_url=base, timeout=60, follow_redirects=False)
    form = client.get("/sign-in")
    assert form.status_code == 200, form.status_code
    fields = {"email": EMAIL, "password": PASSWORD}
    found = _CSRF.search(form.text)
    if found:
        fields["csrf_token"] = found.group(1) or found.group(2)
    answer = client.post("/sign-in", data=fields)
    assert answer.status_code == 303, (answer.status_code, answer.text[:500])
    assert "crowdpost_session" in client.cookies, "sign-in set no session cookie"
    inbox = client.get("/messages")
    assert inbox.status_code == 200, (inbox.status_code, inbox.headers.get("location"))
    return client


@dataclass
class Sample:
    server: list[float]
    client: list[float]


def measure(
    clients: Clients, log_path: Path, cases: list[tuple[str, str, str]], runs: int, warmup: int, slow_runs: int
) -> dict[str, Sample]:
    """cases: (name, "page" | "api", path). Interleaved: each round asks every case once; the
    common-word searches only in the first `slow_runs` rounds (seconds each on PostgreSQL)."""
    for i in range(warmup):
        for name, who, path in cases:
            if i < 2 or not name.endswith(f"q={COMMON}"):
                getattr(clients, who).get(path)
    ids: dict[str, list[str]] = {name: [] for name, _, _ in cases}
    round_trips: dict[str, list[float]] = {name: [] for name, _, _ in cases}
    for i in range(runs):
        for name, who, path in cases:
            if i >= slow_runs and name.endswith(f"q={COMMON}"):
                continue
            started = time.perf_counter()
            answer = getattr(clients, who).get(path)
            round_trips[name].append(time.perf_counter() - started)
            assert answer.status_code == 200, (name, answer.status_code, answer.text[:300])
            ids[name].append(answer.headers["x-request-id"])
    time.sleep(0.5)  # the last access-log lines reach the file
    durations = server_durations(log_path)
    results = {}
    for name in ids:
        missing = [rid for rid in ids[name] if rid not in durations]
        assert not missing, f"{name}: {len(missing)} requests not in the server log"
        results[name] = Sample(server=[durations[rid] for rid in ids[name]], client=round_trips[name])
    return results


def sanity(clients: Clients) -> None:
    """The pages and the API list the same threads: the bench compares like with like."""
    api = clients.api.get("/api/v1/message-threads", params={"folder": "INBOX", "limit": 50, "sort": "-id"}).json()
    page = clients.page.get("/messages").text
    newest = api["items"][0]["id"]
    assert newest in page, f"the Inbox page does not show the newest INBOX thread {newest}"
    found = clients.api.get("/api/v1/message-threads", params={"q": RARE, "limit": 50, "sort": "-id"}).json()
    assert found["items"], "the rare word must match"
    assert found["items"][0]["id"] in clients.page.get("/messages", params={"q": RARE}).text


def cases_for(pages: bool, threads: int) -> list[tuple[str, str, str]]:
    """The page and its API twin: newest first (the page's order; the API's default is oldest
    first, hence sort=-id), 50 a page; a search is over every folder, as on the page."""
    api = "/api/v1/message-threads?limit=50&sort=-id"
    older = format_id(SPAN + threads // 2)  # an "Older" page from the middle of the Inbox
    cases = [
        ("/healthz (HTTP floor)", "api", "/healthz"),
        ("API Inbox", "api", f"{api}&folder=INBOX"),
        ("API Inbox, older page", "api", f"{api}&folder=INBOX&id_lt={older}"),
        (f"API q={RARE}", "api", f"{api}&q={RARE}"),
        (f"API q={COMMON}", "api", f"{api}&q={COMMON}"),
    ]
    if pages:
        cases += [
            ("page Inbox", "page", "/messages"),
            ("page Inbox, older page", "page", f"/messages?folder=INBOX&id_lt={older}"),
            (f"page q={RARE}", "page", f"/messages?q={RARE}"),
            (f"page q={COMMON}", "page", f"/messages?q={COMMON}"),
        ]
    return cases


PAIRS = [
    ("page Inbox", "API Inbox"),
    ("page Inbox, older page", "API Inbox, older page"),
    (f"page q={RARE}", f"API q={RARE}"),
    (f"page q={COMMON}", f"API q={COMMON}"),
]


def run_backend(name: str, args: argparse.Namespace) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="crowdpost-bench-") as tmp,
        backend_url(name, Path(tmp), "crowdpost_bench_pages") as url,
    ):
        log_path = Path(tmp) / "server.log"
        with serve(url, log_path) as base:
            requester_id, token, others = make_requesters(base, args.others)
            engine = make_engine(url)
            started = time.perf_counter()
            seed_tolokers(engine)
            seed_threads(engine, requester_id, 1, args.threads)
            for slot, other in enumerate(others, start=2):
                seed_threads(engine, other, slot, args.other_threads)
            if engine.dialect.name == "postgresql":
                with engine.begin() as conn:
                    conn.execute(text("ANALYZE"))
            seeded = time.perf_counter() - started
            rows = counts(engine)
            engine.dispose()
            print(name, f"seeded in {seeded:.0f} s", rows, flush=True)
            api = httpx.Client(base_url=base, headers={"Authorization": f"OAuth {token}"}, timeout=60)
            page: httpx.Client | None = None
            if not args.api_only:
                page = sign_in(base, requester_id)
            clients = Clients(page=page or api, api=api, requester_id=requester_id)
            if page is not None:
                sanity(clients)
            results = measure(
                clients, log_path, cases_for(page is not None, args.threads), args.runs, args.warmup, args.slow_runs
            )
            api.close()
            if page is not None:
                page.close()
    return {"seconds": seeded, "rows": rows, "results": results}


# --- the report --------------------------------------------------------------------------


def render(rows: dict[str, dict[str, Any]], args: argparse.Namespace) -> str:
    others = f"{args.others} other requesters with {args.other_threads:,} each"
    lines = [
        f"## {SECTION}",
        "",
        f"`.venv/bin/python bench/pages.py --threads {args.threads} --others {args.others}"
        f" --other-threads {args.other_threads} --backend {args.backend} --runs {args.runs}"
        f" --warmup {args.warmup} --slow-runs {args.slow_runs}` on {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}"
        f" ({os.uname().machine}, {os.uname().sysname} {os.uname().release}).",
        f"{args.threads:,} threads stored for the measured requester, {others}."
        f" Server time = the server's own `duration_ms` (access log, outermost middleware) per request;"
        f" {args.runs} sequential requests each ({args.slow_runs} of the q={COMMON} ones) after"
        f" {args.warmup} warm-up rounds, interleaved (n: requests measured)."
        f" Target: page p99 <= {TARGET} x API p99.",
        "",
        "| backend | request | n | server p50 | server p99 | client p50 | client p99 |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, row in rows.items():
        for case, sample in row["results"].items():
            s50, s99 = _pcts(sample.server)
            c50, c99 = _pcts(sample.client)
            lines.append(
                f"| {name} | {case} | {len(sample.server)} | {_ms(s50)} | {_ms(s99)} | {_ms(c50)} | {_ms(c99)} |"
            )
    lines += ["", "| backend | page | page p99 / API p99 | target met |", "|---|---|---|---|"]
    for name, row in rows.items():
        for page_case, api_case in PAIRS:
            if page_case not in row["results"]:
                continue
            ratio = _pcts(row["results"][page_case].server)[1] / _pcts(row["results"][api_case].server)[1]
            lines.append(f"| {name} | {page_case} | {ratio:.2f} | {'yes' if ratio <= TARGET else 'NO'} |")
    lines.append("")
    for name, row in rows.items():
        table_rows = ", ".join(f"{table} {n:,}" for table, n in row["rows"].items())
        lines.append(f"Seeded on {name} in {row['seconds']:.0f} s: {table_rows}.")
    return "\n".join(lines) + "\n\n" + NOTES


NOTES = """\
How to read it: the page and its API twin run the same service call (`list_requester_threads`,
same filters, same order, 50 a page). What the page adds per request: its session (one read of
`web_sessions`, a write at most once a minute) and the header's requester row, the folder
counts (`requester_unread_counts`: at most 1,000 newest unread rows), a Toloker-ID check when
the search text looks like one, and rendering about 96 KB of HTML instead of the API's JSON.
p99 of 300 sequential requests on a shared 2-core machine is set by whatever else runs then;
compare p50s for the steady cost, and the ratio over several runs.
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1_000_000)
    parser.add_argument("--others", type=int, default=4)
    parser.add_argument("--other-threads", type=int, default=100_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--slow-runs", type=int, default=30, help=f"rounds that include q={COMMON}")
    parser.add_argument("--api-only", action="store_true", help="no pages yet: the API half alone")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    rows: dict[str, dict[str, Any]] = {}
    for name in backends:
        rows[name] = run_backend(name, args)
        for case, sample in rows[name]["results"].items():
            s50, s99 = _pcts(sample.server)
            print(name, case, "server p50/p99", _ms(s50), _ms(s99), flush=True)
    section = render(rows, args)
    print(section)
    if not args.no_write and not args.api_only:
        write_section(SECTION, section)


if __name__ == "__main__":
    main()
