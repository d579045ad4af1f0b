"""The README's "Running on PostgreSQL" commands, run as written: scripts/cluster.sh start,
status, the /readyz check, a toloka-kit request through the cluster, then stop.

Only the directory and the ports differ from a reader's run (the script reads them from
CROWDPOST_CLUSTER_* variables, and the README's URL is rewritten to the test's port), so an
edit of the README's commands that no longer works fails here."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from toloka.client import TolokaClient

from scripts.cluster import ClusterError, pgbouncer_binary, port_open, postgres_bin
from tests.fixtures.backends import missing_component
from tests.fixtures.factories import ADMIN_TOKEN, Admin
from tests.fixtures.live_server import free_port

ROOT = Path(__file__).resolve().parent.parent
README_PORT = "127.0.0.1:8000"


def readme_cluster_commands() -> list[str]:
    """The command lines of the first sh block of the README's "Running on PostgreSQL"."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Running on PostgreSQL", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block is not None, "no sh block in README's Running on PostgreSQL"
    lines = [line.split("  #", 1)[0].strip() for line in block.group(1).splitlines()]
    return [line for line in lines if line]


def test_the_readme_block_is_the_one_this_test_runs() -> None:
    commands = readme_cluster_commands()
    assert commands[0] == "make install"
    assert [c for c in commands if c.startswith("scripts/cluster.sh")] == [
        "scripts/cluster.sh start",
        "scripts/cluster.sh status",
        "scripts/cluster.sh stop",
    ]
    assert any(README_PORT in c for c in commands)


@pytest.fixture
def cluster_env() -> Iterator[tuple[dict[str, str], int]]:
    try:
        postgres_bin()
        pgbouncer_binary()
    except ClusterError as exc:
        missing_component(str(exc))
    directory = Path(tempfile.mkdtemp(prefix="crowdpost-cluster-"))
    directory.chmod(0o755)  # the postgres user (when we are root) walks into it
    port = free_port()
    env = {
        **os.environ,
        "CROWDPOST_CLUSTER_DIR": str(directory),
        "CROWDPOST_CLUSTER_PORT": str(port),
        "CROWDPOST_CLUSTER_PG_PORT": str(free_port()),
        "CROWDPOST_CLUSTER_BOUNCER_PORT": str(free_port()),
        "CROWDPOST_ENVIRONMENT": "testing",
        "CROWDPOST_ADMIN_TOKEN": ADMIN_TOKEN,
        "CROWDPOST_LOG_JSON": "false",
    }
    try:
        yield env, port
    finally:
        # Whatever happened, nothing of the cluster outlives the test.
        subprocess.run(["scripts/cluster.sh", "stop"], cwd=ROOT, env=env, capture_output=True, check=False)
        shutil.rmtree(directory, ignore_errors=True)


def _run(command: str, env: dict[str, str], port: int) -> subprocess.CompletedProcess[str]:
    command = command.replace(README_PORT, f"127.0.0.1:{port}")
    return subprocess.run(
        ["bash", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_the_readme_starts_a_cluster_serves_toloka_kit_and_stops_it(cluster_env: tuple[dict[str, str], int]) -> None:
    env, port = cluster_env
    commands = readme_cluster_commands()
    stop_at = commands.index("scripts/cluster.sh stop")
    for command in commands[:stop_at]:
        result = _run(command, env, port)
        assert result.returncode == 0, f"{command}:\n{result.stdout}\n{result.stderr}"
        if command.startswith("curl"):
            assert '"status":"ready"' in result.stdout
        if command == "scripts/cluster.sh status":
            assert result.stdout.count(" running ") == 5, result.stdout  # PostgreSQL, pgbouncer, API, 2 workers

    url = f"http://127.0.0.1:{port}"
    admin = Admin(url)
    try:
        info = admin.create_requester(balance="12.345")
    finally:
        admin.close()
    requester = TolokaClient(info.token, url=url, retries=0).get_requester()
    assert requester.balance == Decimal("12.345")

    for command in commands[stop_at:]:
        result = _run(command, env, port)
        assert result.returncode == 0, f"{command}:\n{result.stdout}\n{result.stderr}"
    status = _run("scripts/cluster.sh status", env, port)
    assert status.returncode == 3
    assert " running " not in status.stdout
    assert not port_open(port)
