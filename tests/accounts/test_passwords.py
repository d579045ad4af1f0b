"""Requester passwords: argon2id hashes, the length rule, and the operator's two ways to set
one (`POST /api/admin/v1/requesters/{id}/password`, `crowdpost admin set-password`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
from argon2 import PasswordHasher, profiles
from sqlalchemy import select
from typer.testing import CliRunner, Result

from crowdpost.accounts import passwords
from crowdpost.accounts.passwords import check_new_password, do_set_password, hash_password, verify_password
from crowdpost.accounts.service import do_create_requester
from crowdpost.accounts.web_sessions import authenticate_web, do_sign_in_with_password
from crowdpost.cli import app
from crowdpost.config import Settings, get_settings
from crowdpost.db import Database
from crowdpost.errors import DoesNotExist, ValidationFailed
from crowdpost.kit.ids import format_id, parse_id
from crowdpost.models import Requester
from tests.fixtures.factories import Admin, RequesterInfo

PASSWORD = "correct horse battery"


@pytest.fixture
def cheap_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id with the cheapest parameters, for tests that are not about the parameters."""
    monkeypatch.setattr(passwords, "HASHER", PasswordHasher.from_parameters(profiles.CHEAPEST))


def test_hashes_are_salted_argon2id_with_the_default_parameters() -> None:
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert first != second
    assert PASSWORD not in first
    assert verify_password(first, PASSWORD)
    assert verify_password(second, PASSWORD)
    assert not verify_password(first, PASSWORD + " ")
    assert not verify_password("not a hash", PASSWORD)
    assert not verify_password(first[:-4], PASSWORD)


@pytest.mark.parametrize(
    ("length", "code"),
    [(0, "STRING_LENGTH_LESS_THAN_MIN"), (9, "STRING_LENGTH_LESS_THAN_MIN"), (1025, "STRING_LENGTH_GREATER_THAN_MAX")],
)
def test_a_new_password_has_ten_to_1024_characters(length: int, code: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        check_new_password("p" * length)
    assert refused.value.payload["password"]["code"] == code


@pytest.mark.parametrize("length", [10, 1024])
def test_the_bounds_are_allowed(length: int) -> None:
    check_new_password("p" * length)


def stored_hash(db: Database, requester_id: int) -> str | None:
    with db.transaction(write=False) as session:
        return session.execute(select(Requester.password_hash).where(Requester.id == requester_id)).scalar_one()


def test_setting_a_password_stores_only_its_hash(db: Database, cheap_hashing: None) -> None:
    with db.transaction() as session:
        requester_id = do_create_requester(session, public_name="Buyer", email="b@example.test").requester.id
    assert stored_hash(db, requester_id) is None
    with db.transaction() as session:
        do_set_password(session, requester_id, PASSWORD)
    stored = stored_hash(db, requester_id)
    assert stored is not None
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    assert verify_password(stored, PASSWORD)


def test_setting_a_password_of_nobody_or_too_short_is_refused(db: Database, cheap_hashing: None) -> None:
    with pytest.raises(DoesNotExist), db.transaction() as session:
        do_set_password(session, 987_654, PASSWORD)
    with db.transaction() as session:
        requester_id = do_create_requester(session, public_name="Buyer").requester.id
    with pytest.raises(ValidationFailed), db.transaction() as session:
        do_set_password(session, requester_id, "short")
    assert stored_hash(db, requester_id) is None


# --- The operator's endpoint --------------------------------------------------------------


def test_the_operator_sets_a_password_that_signs_in(
    admin: Admin, requester: RequesterInfo, db: Database, settings: Settings, cheap_hashing: None
) -> None:
    requester_id = parse_id(requester.id)
    assert requester_id is not None
    with db.transaction() as session:
        session.execute(select(Requester).where(Requester.id == requester_id)).scalar_one().email = "ops@x.test"
    response = admin.http.post(f"/api/admin/v1/requesters/{requester.id}/password", json={"password": PASSWORD})
    assert response.status_code == 204, response.text
    assert response.content == b""
    result = do_sign_in_with_password(db, settings, "ops@x.test", PASSWORD)
    web = authenticate_web(db, settings, result.cookie_value)
    assert web is not None
    assert web.requester_id == requester_id


def test_the_endpoint_refuses_an_unknown_requester_and_a_bad_password(
    admin: Admin, requester: RequesterInfo, db: Database, cheap_hashing: None
) -> None:
    unknown = admin.http.post(f"/api/admin/v1/requesters/{format_id(987_654)}/password", json={"password": PASSWORD})
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "DOES_NOT_EXIST"
    short = admin.http.post(f"/api/admin/v1/requesters/{requester.id}/password", json={"password": "short"})
    assert short.status_code == 400
    assert short.json()["code"] == "VALIDATION_ERROR"
    assert short.json()["payload"]["password"]["code"] == "STRING_LENGTH_LESS_THAN_MIN"
    missing = admin.http.post(f"/api/admin/v1/requesters/{requester.id}/password", json={})
    assert missing.status_code == 400
    assert "password" in missing.json()["payload"]
    requester_id = parse_id(requester.id)
    assert requester_id is not None
    assert stored_hash(db, requester_id) is None


def test_only_the_operator_sets_passwords(http: httpx.Client, requester: RequesterInfo) -> None:
    response = http.post(
        f"/api/admin/v1/requesters/{requester.id}/password",
        json={"password": PASSWORD},
        headers={"Authorization": f"OAuth {requester.token}"},
    )
    assert response.status_code == 403


# --- The command --------------------------------------------------------------------------


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str, str], Result]]:
    """`crowdpost admin set-password` in this process (typer's runner), on this test's database."""
    monkeypatch.setenv("CROWDPOST_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("CROWDPOST_LOG_JSON", "false")
    get_settings.cache_clear()
    runner = CliRunner()

    def run(requester_id: str, stdin: str) -> Result:
        return runner.invoke(app, ["admin", "set-password", requester_id], input=stdin)

    yield run
    get_settings.cache_clear()


def test_the_command_reads_the_password_from_stdin(
    db: Database, cli: Callable[[str, str], Result], cheap_hashing: None
) -> None:
    with db.transaction() as session:
        requester_id = do_create_requester(session, public_name="Buyer").requester.id
    public_id = format_id(requester_id)
    # Spaces inside and around a password are part of it; only the line ending is not.
    done = cli(public_id, f" {PASSWORD} \n")
    assert done.exit_code == 0, done.output
    assert "sessions ended" in done.stdout
    assert PASSWORD not in done.output
    stored = stored_hash(db, requester_id)
    assert stored is not None
    assert verify_password(stored, f" {PASSWORD} ")

    short = cli(public_id, "short\n")
    unknown = cli(format_id(987_654), f"{PASSWORD}\n")
    empty = cli(public_id, "")
    assert (short.exit_code, unknown.exit_code, empty.exit_code) == (1, 1, 2)
    assert "VALIDATION_ERROR" in short.stderr
    assert "DOES_NOT_EXIST" in unknown.stderr
    assert "no password given" in empty.stderr
    assert stored_hash(db, requester_id) == stored
