"""A local crowdpost cluster on 127.0.0.1: PostgreSQL, pgbouncer, API and worker processes.

    scripts/cluster.sh start [--dir var/cluster] [--api-workers 2] [--workers 2] [--port 8000]
                             [--pg-port 55432] [--bouncer-port 6432]
    scripts/cluster.sh status [--dir var/cluster]
    scripts/cluster.sh stop [--dir var/cluster]

`start` initialises PostgreSQL in <dir>/pg on first use (Debian's binaries, the newest under
/usr/lib/postgresql, or the bin directory in CROWDPOST_PG_BIN), starts it and pgbouncer in
transaction pooling mode in front of it, migrates through pgbouncer, then starts one
`crowdpost serve --workers N --no-worker` and M `crowdpost worker` processes, all connected
through pgbouncer, and waits until /readyz answers. `stop` stops what `start` started, API
and workers first (SIGTERM: they finish what they hold), then pgbouncer and PostgreSQL.
Everything lives in <dir>: data, logs (<dir>/logs) and the pid files (<dir>/run).

As root, PostgreSQL and pgbouncer run as the `postgres` system user (neither runs as root):
<dir> must then be reachable by that user (the script makes <dir> itself world-traversable).

Tests import `Postgres` and `Pgbouncer` from here: the same code starts the servers they use.
Standard library only: it runs before anything else is installed into the venv's path.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SYSTEM_USER = "postgres"  # Debian's, for PostgreSQL and pgbouncer when we are root
APP_ROLE = "crowdpost"
APP_DATABASE = "crowdpost"
STATE_FILE = "cluster.json"
STOP_WAIT_SECONDS = 45.0  # a serve's shutdown grace (30 s by default) and some


class ClusterError(RuntimeError):
    """A component is missing or did not start; the message says which and why."""


def _as_root() -> bool:
    return os.geteuid() == 0


def _as_owner(command: list[str]) -> list[str]:
    """`command` as the user PostgreSQL and pgbouncer run as."""
    return ["runuser", "-u", SYSTEM_USER, "--", *command] if _as_root() else command


def _own(path: Path) -> None:
    """Gives `path` to the server user when we are root (initdb refuses a directory it cannot own)."""
    if _as_root():
        entry = pwd.getpwnam(SYSTEM_USER)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def postgres_bin() -> Path:
    """The directory of initdb, pg_ctl and psql: CROWDPOST_PG_BIN, else Debian's newest."""
    configured = os.environ.get("CROWDPOST_PG_BIN")
    if configured:
        return Path(configured)
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name.split(".")[0])
    )
    if not found:
        raise ClusterError("PostgreSQL server binaries not found: apt-get install postgresql (or set CROWDPOST_PG_BIN)")
    return found[-1].parent


def pgbouncer_binary() -> str:
    found = shutil.which("pgbouncer") or ("/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None)
    if not found:
        raise ClusterError("pgbouncer not found: apt-get install pgbouncer")
    return found


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise ClusterError(f"timed out waiting for {what}")
        time.sleep(0.1)


@dataclass
class Postgres:
    """A PostgreSQL server in `data`, listening on 127.0.0.1:`port` only (no Unix socket)."""

    data: Path
    port: int

    @property
    def log(self) -> Path:
        return self.data.parent / "postgresql.log"

    def _run(self, *command: str) -> subprocess.CompletedProcess[str]:
        binary = str(postgres_bin() / command[0])
        return subprocess.run(  # noqa: S603 - our own binaries and arguments
            _as_owner([binary, *command[1:]]), capture_output=True, text=True, check=False
        )

    def init(self) -> None:
        """initdb once (trust on loopback: a local cluster) and this server's settings."""
        if (self.data / "PG_VERSION").exists():
            return
        self.data.mkdir(parents=True, exist_ok=True)
        _own(self.data)
        _own(self.data.parent)
        result = self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8"
        )
        if result.returncode != 0:
            raise ClusterError(f"initdb failed: {result.stderr.strip() or result.stdout.strip()}")
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                "\n# crowdpost's local cluster (scripts/cluster.py)\n"
                "listen_addresses = '127.0.0.1'\n"
                f"port = {self.port}\n"
                "unix_socket_directories = ''\n"
                "max_connections = 300\n"
            )

    def start(self) -> None:
        if self.running():
            return
        # The port on the command line too: a data directory made earlier may name another.
        result = self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", f"-p {self.port}", "-w", "-t", "60", "start"
        )
        if result.returncode != 0:
            tail = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise ClusterError(f"PostgreSQL did not start: {result.stderr.strip()}\n{tail}")

    def stop(self, mode: str = "fast") -> None:
        if self.running():
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def running(self) -> bool:
        return (self.data / "PG_VERSION").exists() and self._run(
            "pg_ctl", "-D", str(self.data), "status"
        ).returncode == 0

    def psql(self, sql: str, database: str = "postgres") -> str:
        result = self._run(
            "psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database, "-XAtc", sql
        )
        if result.returncode != 0:
            raise ClusterError(f"psql failed: {result.stderr.strip()}")
        return result.stdout.strip()

    def ensure_database(self, name: str, owner: str = APP_ROLE) -> None:
        """The role `owner` (a login) and the database `name` it owns, made if missing."""
        # Names are ours (constants and test-made identifiers), never user input.
        if not self.psql(f"SELECT 1 FROM pg_roles WHERE rolname = '{owner}'"):  # noqa: S608
            self.psql(f'CREATE ROLE "{owner}" LOGIN')
        if not self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'"):  # noqa: S608
            self.psql(f'CREATE DATABASE "{name}" OWNER "{owner}"')


@dataclass
class Pgbouncer:
    """pgbouncer in `directory` on 127.0.0.1:`port`, pooling transactions to 127.0.0.1:`server_port`.

    Every database name is passed through (`* =`); `users` may log in (trust, as the
    server behind it; a local cluster)."""

    directory: Path
    port: int
    server_port: int
    users: tuple[str, ...] = (APP_ROLE, "postgres")
    pool_size: int = 40

    @property
    def ini(self) -> Path:
        return self.directory / "pgbouncer.ini"

    @property
    def pidfile(self) -> Path:
        return self.directory / "pgbouncer.pid"

    @property
    def log(self) -> Path:
        return self.directory / "pgbouncer.log"

    def write_config(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "userlist.txt").write_text("".join(f'"{user}" ""\n' for user in self.users))
        self.ini.write_text(
            "[databases]\n"
            f"* = host=127.0.0.1 port={self.server_port}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {self.port}\n"
            "unix_socket_dir =\n"
            "auth_type = trust\n"
            f"auth_file = {self.directory / 'userlist.txt'}\n"
            "pool_mode = transaction\n"
            f"default_pool_size = {self.pool_size}\n"
            "max_client_conn = 2000\n"
            # After a failed server login (PostgreSQL restarting) try again within a second, not 15.
            "server_login_retry = 1\n"
            # Other clients send it; pgbouncer refuses startup parameters it does not know, `options`
            # among them (so a client configured for a direct connection fails loudly here).
            "ignore_startup_parameters = extra_float_digits\n"
            f"logfile = {self.log}\n"
            f"pidfile = {self.pidfile}\n"
        )
        for path in (self.directory, self.directory / "userlist.txt", self.ini):
            _own(path)

    def start(self) -> None:
        if self.running():
            return
        self.write_config()
        result = subprocess.run(  # noqa: S603 - our own binary and config
            _as_owner([pgbouncer_binary(), "-d", str(self.ini)]), capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise ClusterError(f"pgbouncer did not start: {result.stderr.strip() or result.stdout.strip()}")
        _wait(lambda: port_open(self.port), 30, f"pgbouncer on port {self.port}")

    def pid(self) -> int | None:
        try:
            return int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None

    def running(self) -> bool:
        pid = self.pid()
        return pid is not None and _alive(pid)

    def stop(self) -> None:
        pid = self.pid()
        if pid is not None and _alive(pid):
            os.kill(pid, signal.SIGTERM)  # immediate shutdown: clients are ours and stopped first
            _wait(lambda: not _alive(pid), 30, "pgbouncer to stop")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (a child of ours nobody reaped) is gone for our purposes.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def database_url(port: int, database: str = APP_DATABASE, user: str = APP_ROLE) -> str:
    return f"postgresql+psycopg://{user}@127.0.0.1:{port}/{database}"


def crowdpost_command() -> list[str]:
    """The venv's `crowdpost`, beside the Python running this."""
    return [str(Path(sys.executable).parent / "crowdpost")]


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, OSError):
        return False


@dataclass
class Layout:
    """Where a cluster keeps its things, and its ports (saved in <dir>/cluster.json)."""

    directory: Path
    port: int = 8000
    pg_port: int = 55432
    bouncer_port: int = 6432
    api_workers: int = 2
    workers: int = 2

    @property
    def postgres(self) -> Postgres:
        return Postgres(self.directory / "pg" / "data", self.pg_port)

    @property
    def pgbouncer(self) -> Pgbouncer:
        return Pgbouncer(self.directory / "pgbouncer", self.bouncer_port, self.pg_port)

    @property
    def run_dir(self) -> Path:
        return self.directory / "run"

    @property
    def log_dir(self) -> Path:
        return self.directory / "logs"

    def processes(self) -> list[str]:
        return ["api"] + [f"worker-{n}" for n in range(1, self.workers + 1)]

    def save(self) -> None:
        state = {k: v for k, v in vars(self).items() if k != "directory"}
        (self.directory / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n")

    @classmethod
    def load(cls, directory: Path) -> Layout:
        path = directory / STATE_FILE
        if not path.exists():
            raise ClusterError(f"no cluster in {directory} (no {STATE_FILE}); start one first")
        return cls(directory, **json.loads(path.read_text()))


def app_environment(layout: Layout) -> dict[str, str]:
    """The environment of the API and worker processes: this one's, plus the database
    through pgbouncer (transaction pooling)."""
    return {
        **os.environ,
        "CROWDPOST_DATABASE_URL": database_url(layout.bouncer_port),
        "CROWDPOST_DATABASE_POOLER": "transaction",
        "CROWDPOST_PUBLIC_URL": f"http://127.0.0.1:{layout.port}",
    }


def _spawn(layout: Layout, name: str, args: list[str]) -> int:
    log = (layout.log_dir / f"{name}.log").open("ab")
    process = subprocess.Popen(  # noqa: S603 - our own command
        [*crowdpost_command(), *args],
        env=app_environment(layout),
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # outlives this script; `stop` ends it by its pid file
    )
    log.close()
    (layout.run_dir / f"{name}.pid").write_text(f"{process.pid}\n")
    return process.pid


def _pid(layout: Layout, name: str) -> int | None:
    try:
        return int((layout.run_dir / f"{name}.pid").read_text().strip())
    except (OSError, ValueError):
        return None


def start(layout: Layout) -> None:
    layout.directory.mkdir(parents=True, exist_ok=True)
    if _as_root():
        layout.directory.chmod(0o755)  # the server user walks through it to its own dirs
    for directory in (layout.run_dir, layout.log_dir):
        directory.mkdir(exist_ok=True)
    layout.save()
    for name in layout.processes():
        pid = _pid(layout, name)
        if pid is not None and _alive(pid):
            raise ClusterError(f"{name} is already running (pid {pid}): stop the cluster first")
    postgres = layout.postgres
    postgres.init()
    postgres.start()
    postgres.ensure_database(APP_DATABASE)
    layout.pgbouncer.start()
    migrate = subprocess.run(  # noqa: S603 - our own command
        [*crowdpost_command(), "migrate"], env=app_environment(layout), capture_output=True, text=True, check=False
    )
    if migrate.returncode != 0:
        raise ClusterError(f"crowdpost migrate failed: {migrate.stderr.strip() or migrate.stdout.strip()}")
    serve = ["serve", "--host", "127.0.0.1", "--port", str(layout.port), "--no-worker"]
    _spawn(layout, "api", [*serve, "--workers", str(layout.api_workers)])
    for n in range(1, layout.workers + 1):
        _spawn(layout, f"worker-{n}", ["worker"])
    _wait(lambda: ready(layout.port) or not _alive(_pid(layout, "api") or 0), 120, "the API's /readyz")
    if not ready(layout.port):
        raise ClusterError(f"the API did not start; see {layout.log_dir / 'api.log'}")
    print(f"crowdpost cluster in {layout.directory}")
    print(f"  API        http://127.0.0.1:{layout.port}  ({layout.api_workers} processes)")
    print(f"  workers    {layout.workers}")
    print(f"  pgbouncer  {database_url(layout.bouncer_port)}  (transaction pooling)")
    print(f"  PostgreSQL {database_url(layout.pg_port)}")
    print(f"  logs       {layout.log_dir}")


def stop(layout: Layout) -> None:
    pids = [(name, _pid(layout, name)) for name in layout.processes()]
    running = [(name, pid) for name, pid in pids if pid is not None and _alive(pid)]
    for _name, pid in running:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_WAIT_SECONDS
    for name, pid in running:
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(pid):
            print(f"{name} (pid {pid}) ignored SIGTERM; killing it", file=sys.stderr)
            os.kill(pid, signal.SIGKILL)
    for name in layout.processes():
        (layout.run_dir / f"{name}.pid").unlink(missing_ok=True)
    layout.pgbouncer.stop()
    layout.postgres.stop()
    print(f"crowdpost cluster in {layout.directory} stopped")


def status(layout: Layout) -> bool:
    """Prints each component's state; True when all of them run."""
    states: list[tuple[str, bool, str]] = [
        ("postgresql", layout.postgres.running(), f"127.0.0.1:{layout.pg_port}"),
        ("pgbouncer", layout.pgbouncer.running(), f"127.0.0.1:{layout.bouncer_port}"),
    ]
    for name in layout.processes():
        pid = _pid(layout, name)
        alive = pid is not None and _alive(pid)
        where = (f"pid {pid}" if alive else "-") + (f", http://127.0.0.1:{layout.port}" if name == "api" else "")
        states.append((name, alive, where))
    for name, alive, where in states:
        print(f"{name:<12} {'running' if alive else 'stopped':<8} {where}")
    return all(alive for _, alive, _ in states)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/cluster.sh", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["start", "stop", "status"])
    # Each default may come from the environment (CROWDPOST_CLUSTER_DIR, _PORT, _PG_PORT, ...):
    # the README's commands run unchanged in a test, on the test's own directory and ports.
    env = os.environ.get
    parser.add_argument(
        "--dir", type=Path, default=Path(env("CROWDPOST_CLUSTER_DIR", "var/cluster")), help="data, logs and pids"
    )
    parser.add_argument("--port", type=int, default=int(env("CROWDPOST_CLUSTER_PORT", "8000")), help="the API's port")
    parser.add_argument(
        "--api-workers", type=int, default=int(env("CROWDPOST_CLUSTER_API_WORKERS", "2")), help="serve --workers N"
    )
    parser.add_argument(
        "--workers", type=int, default=int(env("CROWDPOST_CLUSTER_WORKERS", "2")), help="`crowdpost worker` processes"
    )
    parser.add_argument("--pg-port", type=int, default=int(env("CROWDPOST_CLUSTER_PG_PORT", "55432")))
    parser.add_argument("--bouncer-port", type=int, default=int(env("CROWDPOST_CLUSTER_BOUNCER_PORT", "6432")))
    args = parser.parse_args(argv)
    directory = args.dir.resolve()
    try:
        if args.command == "start":
            start(Layout(directory, args.port, args.pg_port, args.bouncer_port, args.api_workers, args.workers))
            return 0
        layout = Layout.load(directory)
        if args.command == "stop":
            stop(layout)
            return 0
        return 0 if status(layout) else 3
    except ClusterError as exc:
        print(f"cluster: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
