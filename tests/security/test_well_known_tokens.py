"""Well-known tokens never open a deployed server.

The default admin token and the demo tokens are printed in the source. `crowdpost serve`
(run here as a process, as an operator would) must refuse to start wherever they would
work for someone else: outside development, or on an interface that is not loopback. And
an app outside development must refuse them at request time too.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from crowdpost.accounts.tokens import DEMO_REQUESTER_TOKEN, DEMO_TOLOKER_TOKEN
from crowdpost.app import create_app
from crowdpost.config import DEFAULT_ADMIN_TOKEN, Environment, Settings
from crowdpost.db import Database
from crowdpost.demo import do_load_demo
from tests.fixtures.factories import settings_for
from tests.fixtures.live_server import free_port, serve_in_thread

CROWDPOST = str(Path(sys.executable).parent / "crowdpost")
STRONG_TOKEN = "Zq3-fV9xL0pR7tWmC2yB8nH5kJ4dS6gA1eU"  # 35 characters, many distinct
START_TIMEOUT = 60


def _env(tmp_path: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CROWDPOST_")}
    env.update(
        CROWDPOST_DATABASE_URL=f"sqlite:///{tmp_path / 'served.sqlite3'}",
        CROWDPOST_VAR_DIR=str(tmp_path / "var"),
        CROWDPOST_LOG_JSON="false",
        COLUMNS="300",
    )
    env.update({f"CROWDPOST_{k.upper()}": v for k, v in settings.items()})
    return env


def _accepts(port: int) -> bool:
    """Something accepts TCP connections on the port (on IPv4 loopback)."""
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _refused_start(env: dict[str, str], *args: str) -> tuple[subprocess.CompletedProcess[str], bool]:
    """Runs `crowdpost serve ...` that must exit by itself; (result, whether its port ever accepted)."""
    port = free_port()
    process = subprocess.Popen(
        [CROWDPOST, "serve", "--port", str(port), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    bound = False
    deadline = time.monotonic() + START_TIMEOUT
    try:
        while process.poll() is None and time.monotonic() < deadline:
            bound = bound or _accepts(port)
            time.sleep(0.05)
    finally:
        if process.poll() is None:
            process.kill()
            bound = True  # still running: it did not refuse
        stdout, stderr = process.communicate(timeout=10)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr), bound


class _Served:
    def __init__(self, process: subprocess.Popen[str], url: str) -> None:
        self.process, self.url = process, url


@contextmanager
def _serving(env: dict[str, str], *args: str) -> Iterator[_Served]:
    """Runs `crowdpost serve --host 127.0.0.1 ...` until /healthz answers; SIGTERM at the end."""
    port = free_port()
    process = subprocess.Popen(
        [CROWDPOST, "serve", "--host", "127.0.0.1", "--port", str(port), "--no-worker", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT
    try:
        while True:
            if process.poll() is not None:
                out, err = process.communicate()
                pytest.fail(f"crowdpost serve exited with {process.returncode}:\n{out}\n{err}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("crowdpost serve did not answer /healthz")
            time.sleep(0.1)
        yield _Served(process, url)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        process.communicate()


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CROWDPOST, *args], env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("host", ["0.0.0.0", "::"])  # noqa: S104 - the attack is to bind every interface
def test_serve_on_every_interface_with_the_default_admin_token_refuses_to_start(tmp_path: Path, host: str) -> None:
    """`serve --host 0.0.0.0` (or ::) with no settings would open the admin API to the token
    printed in the source: it must exit non-zero, naming CROWDPOST_ADMIN_TOKEN, without ever
    binding the port or touching the database."""
    result, bound = _refused_start(_env(tmp_path), "--host", host)

    assert result.returncode != 0
    assert "CROWDPOST_ADMIN_TOKEN" in result.stderr
    assert not bound
    assert not (tmp_path / "served.sqlite3").exists()


def test_serve_outside_development_with_the_default_admin_token_refuses_to_start(tmp_path: Path) -> None:
    """Even on 127.0.0.1, `CROWDPOST_ENVIRONMENT=testing` with the default admin token is refused."""
    result, bound = _refused_start(_env(tmp_path, environment="testing"), "--host", "127.0.0.1")

    assert result.returncode != 0
    assert "CROWDPOST_ADMIN_TOKEN" in result.stderr
    assert not bound


@pytest.mark.parametrize("token", ["0123456789abcdefghijklmnopqrstu", "a" * 64])
def test_production_with_a_weak_admin_token_refuses_to_start(tmp_path: Path, token: str) -> None:
    """Production with a 31-character (or a one-letter, 64-long) admin token must not start."""
    result, bound = _refused_start(_env(tmp_path, environment="production", admin_token=token), "--host", "127.0.0.1")

    assert result.returncode != 0
    assert "CROWDPOST_ADMIN_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr
    assert not bound


@pytest.mark.parametrize("environment", ["bogus", "prod", "Production", ""])
def test_an_unknown_environment_refuses_to_start(tmp_path: Path, environment: str) -> None:
    """A typo in CROWDPOST_ENVIRONMENT must not silently fall back to development rules."""
    result, bound = _refused_start(
        _env(tmp_path, environment=environment, admin_token=STRONG_TOKEN), "--host", "127.0.0.1"
    )

    assert result.returncode != 0
    assert "CROWDPOST_ENVIRONMENT" in result.stderr
    assert "development" in result.stderr  # the message lists what is accepted
    assert not bound


def test_make_run_serves_in_development_on_loopback_with_no_settings(tmp_path: Path) -> None:
    """`make run` (`serve --host 127.0.0.1 --demo`, no settings) keeps working: it serves, the
    default admin token and the demo token work there, and SIGTERM stops it."""
    with _serving(_env(tmp_path), "--demo") as server:
        health = httpx.get(f"{server.url}/healthz")
        operator = httpx.get(
            f"{server.url}/api/admin/v1/requesters/000000000001",
            headers={"Authorization": f"OAuth {DEFAULT_ADMIN_TOKEN}"},
        )
        demo = httpx.get(f"{server.url}/api/v1/requester", headers={"Authorization": f"OAuth {DEMO_REQUESTER_TOKEN}"})

    assert health.status_code == 200
    assert operator.status_code == 200, operator.text
    assert demo.status_code == 200, demo.text
    # It stopped on SIGTERM by itself (uvicorn re-raises the signal after a clean shutdown), not killed.
    assert server.process.returncode in (0, -signal.SIGTERM)


def test_serve_demo_on_every_interface_refuses_to_start(tmp_path: Path) -> None:
    """`serve --demo --host 0.0.0.0` with a real admin token would publish the demo tokens:
    refused before any data is written."""
    result, bound = _refused_start(
        _env(tmp_path, admin_token=STRONG_TOKEN),
        "--host",
        "0.0.0.0",  # noqa: S104
        "--demo",
    )

    assert result.returncode != 0
    assert "demo" in result.stderr
    assert not bound
    assert not (tmp_path / "served.sqlite3").exists()


def test_demo_command_outside_development_is_refused(tmp_path: Path) -> None:
    """`crowdpost demo` in production would create the published tokens there: refused."""
    result = _cli(_env(tmp_path, environment="production", admin_token=STRONG_TOKEN), "demo")

    assert result.returncode != 0
    assert "demo" in result.stderr
    assert not (tmp_path / "served.sqlite3").exists()


def test_a_database_holding_demo_tokens_is_not_served_outside_development_until_they_are_revoked(
    tmp_path: Path,
) -> None:
    """Demo data loaded in development, then served in production (or on 0.0.0.0): refused,
    and the message says how to revoke the tokens. After `crowdpost admin revoke-token` of
    each, it serves, and the demo tokens get 401."""
    assert _cli(_env(tmp_path), "demo").returncode == 0
    production = _env(tmp_path, environment="production", admin_token=STRONG_TOKEN)

    result, bound = _refused_start(production, "--host", "127.0.0.1")
    exposed, exposed_bound = _refused_start(
        _env(tmp_path, admin_token=STRONG_TOKEN),
        "--host",
        "0.0.0.0",  # noqa: S104
    )

    assert result.returncode != 0
    assert not bound
    assert f"crowdpost admin revoke-token {DEMO_REQUESTER_TOKEN}" in result.stderr
    assert f"crowdpost admin revoke-token {DEMO_TOLOKER_TOKEN}" in result.stderr
    assert exposed.returncode != 0
    assert not exposed_bound
    assert "revoke-token" in exposed.stderr

    for token in (DEMO_REQUESTER_TOKEN, DEMO_TOLOKER_TOKEN):
        revoked = _cli(production, "admin", "revoke-token", token)
        assert revoked.returncode == 0, revoked.stderr
    with _serving(production) as server:
        requester = httpx.get(
            f"{server.url}/api/v1/requester", headers={"Authorization": f"OAuth {DEMO_REQUESTER_TOKEN}"}
        )
        toloker = httpx.get(
            f"{server.url}/api/toloker/v1/bonuses", headers={"Authorization": f"OAuth {DEMO_TOLOKER_TOKEN}"}
        )
        operator = httpx.get(
            f"{server.url}/api/admin/v1/requesters/000000000001", headers={"Authorization": f"OAuth {STRONG_TOKEN}"}
        )

    assert requester.status_code == 401, requester.text
    assert toloker.status_code == 401, toloker.text
    assert operator.status_code == 200, operator.text


def _published_tokens_answers(settings: Settings) -> tuple[httpx.Response, httpx.Response, httpx.Response]:
    """Loads the demo data into the (migrated) database of `settings`, serves an app with those
    settings, and asks it with the default admin token, the demo requester's and the demo
    Toloker's tokens: the operator's, the requester's and the Toloker's answers."""
    db = Database.from_settings(settings)
    with db.transaction() as session:
        do_load_demo(session)
    try:
        with serve_in_thread(create_app(settings, db)) as url, httpx.Client(base_url=url) as http:
            operator = http.get(
                "/api/admin/v1/requesters/000000000001", headers={"Authorization": f"OAuth {DEFAULT_ADMIN_TOKEN}"}
            )
            requester = http.get("/api/v1/requester", headers={"Authorization": f"OAuth {DEMO_REQUESTER_TOKEN}"})
            toloker = http.get("/api/toloker/v1/bonuses", headers={"Authorization": f"ApiKey {DEMO_TOLOKER_TOKEN}"})
    finally:
        db.dispose()
    return operator, requester, toloker


@pytest.mark.parametrize("environment", ["testing", "production"])
def test_the_default_admin_and_demo_tokens_get_401_from_an_app_outside_development(
    db_url: str, tmp_path: Path, environment: Environment
) -> None:
    """An app run outside development (however it was started, `serve`'s checks aside)
    answers 401 to the default admin token and to the demo tokens, even when the admin
    token setting is the default (testing) and the demo data is in its database."""
    admin_token = DEFAULT_ADMIN_TOKEN if environment == "testing" else STRONG_TOKEN
    settings = settings_for(db_url, tmp_path, environment=environment, admin_token=admin_token)
    operator, requester, toloker = _published_tokens_answers(settings)

    assert operator.status_code == 401, operator.text
    assert operator.json()["code"] == "AUTHENTICATION_ERROR"
    assert requester.status_code == 401, requester.text
    assert toloker.status_code == 401, toloker.text


def test_the_same_tokens_work_in_development(db_url: str, tmp_path: Path) -> None:
    """The control for the test above: in development the very same requests succeed, so the
    401s there come from the environment rule and nothing else."""
    settings = settings_for(db_url, tmp_path, environment="development", admin_token=DEFAULT_ADMIN_TOKEN)
    operator, requester, toloker = _published_tokens_answers(settings)

    assert operator.status_code == 200, operator.text
    assert requester.status_code == 200, requester.text
    assert toloker.status_code == 200, toloker.text
