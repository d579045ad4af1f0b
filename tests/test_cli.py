"""The `crowdpost` command, run as a real subprocess against a file database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from crowdpost.db import Database, make_engine
from crowdpost.migrate import is_up_to_date


def run_cli(db_url: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CROWDPOST_DATABASE_URL": db_url, "CROWDPOST_LOG_JSON": "false", "COLUMNS": "200"}
    result = subprocess.run(
        [sys.executable, "-m", "crowdpost", *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture
def empty_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.sqlite3'}"


def test_migrate_is_repeatable(empty_url: str) -> None:
    run_cli(empty_url, "migrate")
    run_cli(empty_url, "migrate")
    engine = make_engine(empty_url)
    assert is_up_to_date(engine)
    engine.dispose()


def test_demo_is_idempotent_and_prints_working_tokens(empty_url: str) -> None:
    first = run_cli(empty_url, "demo")
    second = run_cli(empty_url, "demo")
    assert "Demo data created" in first.stdout
    assert "already present" in second.stdout
    db = Database(make_engine(empty_url))
    from sqlalchemy import func, select

    from crowdpost.models import Assignment, Pool, Project, Requester, Toloker

    with db.transaction(write=False) as session:
        counts = {
            m.__name__: session.execute(select(func.count()).select_from(m)).scalar_one()
            for m in (Requester, Project, Pool, Toloker, Assignment)
        }
        countries = set(session.execute(select(Toloker.country)).scalars())
    db.dispose()
    assert counts["Requester"] == 1
    assert counts["Project"] == 2
    assert counts["Pool"] == 3
    assert counts["Toloker"] == 300
    assert counts["Assignment"] > 300
    assert {"RU", "TR", "ID", "FR"} <= countries


def test_create_requester_deposit_and_statement(empty_url: str) -> None:
    created = run_cli(empty_url, "admin", "create-requester", "Acme", "--balance", "10.50")
    requester_id = next(line.split()[1] for line in created.stdout.splitlines() if line.startswith("requester"))
    run_cli(empty_url, "admin", "deposit", requester_id, "0.005")
    statement = run_cli(empty_url, "admin", "ledger", requester_id).stdout
    assert "DEPOSIT" in statement
    assert "10.505" in statement
    refused = run_cli(empty_url, "admin", "deposit", requester_id, "0", check=False)
    assert refused.returncode == 1
    assert "VALIDATION_ERROR" in refused.stderr


def test_deposit_with_an_operation_id_credits_once(empty_url: str) -> None:
    created = run_cli(empty_url, "admin", "create-requester", "Acme", "--balance", "10")
    requester_id = next(line.split()[1] for line in created.stdout.splitlines() if line.startswith("requester"))

    first = run_cli(empty_url, "admin", "deposit", requester_id, "5", "--operation-id", "wire-2026-001")
    again = run_cli(empty_url, "admin", "deposit", requester_id, "5", "--operation-id", "wire-2026-001")
    other = run_cli(empty_url, "admin", "deposit", requester_id, "7", "--operation-id", "wire-2026-001", check=False)
    statement = run_cli(empty_url, "admin", "ledger", requester_id).stdout

    assert "is now 15" in first.stdout
    assert "nothing credited" in again.stdout
    assert other.returncode == 1
    assert "OPERATION_ID_REUSED" in other.stderr
    assert "balance: 15" in statement


def test_revoke_token_reads_the_token_from_stdin(empty_url: str) -> None:
    created = run_cli(empty_url, "admin", "create-requester", "Acme")
    token = next(line.split()[1] for line in created.stdout.splitlines() if line.startswith("token"))
    env = {**os.environ, "CROWDPOST_DATABASE_URL": empty_url, "CROWDPOST_LOG_JSON": "false", "COLUMNS": "200"}

    revoked = subprocess.run(
        [sys.executable, "-m", "crowdpost", "admin", "revoke-token", "-"],
        input=token,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    operator = run_cli(empty_url, "admin", "revoke-token", "changethis-admin-token", check=False)

    assert revoked.returncode == 0, revoked.stderr
    assert "revoked: REQUESTER token" in revoked.stdout
    assert operator.returncode == 1
    assert "CROWDPOST_ADMIN_TOKEN" in operator.stderr
    db = Database(make_engine(empty_url))
    from sqlalchemy import select

    from crowdpost.models import ApiToken

    with db.transaction(write=False) as session:
        assert session.execute(select(ApiToken.revoked)).scalar_one() is not None
    db.dispose()


def test_import_tolokers_csv(empty_url: str, tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text("id,languages,country,adult_allowed,city\nu-1,EN;FR,FR,true,213\nu-2,RU,RU,,\n", encoding="utf-8")
    result = run_cli(empty_url, "admin", "import-tolokers", str(path))
    assert "imported 2 Tolokers" in result.stdout


def test_import_with_bad_rows_reports_lines_and_imports_nothing(empty_url: str, tmp_path: Path) -> None:
    path = tmp_path / "people.jsonl"
    path.write_text(
        '{"id": "u-1", "languages": ["EN"]}\n{"id": "u-2", "country": "Narnia"}\n\n'
        '{"id": "u-3", "gender": "X"}\nnot json\n',
        encoding="utf-8",
    )
    result = run_cli(empty_url, "admin", "import-tolokers", str(path), check=False)
    assert result.returncode == 1
    assert "line 2" in result.stderr
    assert "line 4" in result.stderr
    assert "line 5" in result.stderr
    assert "no Tolokers were imported" in result.stderr
    run_cli(empty_url, "migrate")
    db = Database(make_engine(empty_url))
    from sqlalchemy import func, select

    from crowdpost.models import Toloker

    with db.transaction(write=False) as session:
        assert session.execute(select(func.count()).select_from(Toloker)).scalar_one() == 0
    db.dispose()


def test_import_assignments_reports_unknown_pools_by_line(empty_url: str, tmp_path: Path) -> None:
    run_cli(empty_url, "demo")
    path = tmp_path / "assignments.csv"
    path.write_text(
        "user_id,pool_id,status\n"
        "demo0000000000000000000000000001,000000000001,ACCEPTED\n"
        "demo0000000000000000000000000002,000000000777,ACCEPTED\n",
        encoding="utf-8",
    )
    result = run_cli(empty_url, "admin", "import-assignments", str(path), check=False)
    assert result.returncode == 1
    assert "line 3" in result.stderr
    assert "pool_id" in result.stderr


def test_serve_refuses_demo_in_production(empty_url: str) -> None:
    env_args = ("serve", "--demo", "--port", "1")
    env = {
        **os.environ,
        "CROWDPOST_DATABASE_URL": empty_url,
        "CROWDPOST_ENVIRONMENT": "production",
        "CROWDPOST_ADMIN_TOKEN": "s3cret-" + "0123456789abcdefghijklmnopqrstuvwxyz",
    }
    result = subprocess.run(
        [sys.executable, "-m", "crowdpost", *env_args], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert "refusing to load demo data in the 'production' environment" in result.stderr


def test_an_unknown_environment_is_refused_with_a_clear_message(empty_url: str) -> None:
    env = {**os.environ, "CROWDPOST_DATABASE_URL": empty_url, "CROWDPOST_ENVIRONMENT": "staging"}
    result = subprocess.run(
        [sys.executable, "-m", "crowdpost", "migrate"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert "CROWDPOST_ENVIRONMENT" in result.stderr
    assert "Traceback" not in result.stderr


def test_production_requires_an_admin_token(empty_url: str) -> None:
    env = {**os.environ, "CROWDPOST_DATABASE_URL": empty_url, "CROWDPOST_ENVIRONMENT": "production"}
    env.pop("CROWDPOST_ADMIN_TOKEN", None)
    result = subprocess.run(
        [sys.executable, "-m", "crowdpost", "migrate"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode != 0
    assert "CROWDPOST_ADMIN_TOKEN" in result.stderr
