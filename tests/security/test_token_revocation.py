"""A leaked token can be revoked: `POST /api/admin/v1/tokens/revoke` and `crowdpost admin
revoke-token`. A revoked token gets 401 on every API from the next request on, in every
process (tokens are looked up on each request; nothing caches them)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from crowdpost.app import create_app
from crowdpost.config import Settings
from crowdpost.db import Database
from tests.fixtures.factories import ADMIN_TOKEN, Admin, RequesterInfo
from tests.fixtures.live_server import serve_in_thread

REVOKE = "/api/admin/v1/tokens/revoke"


def _as(token: str) -> dict[str, str]:
    return {"Authorization": f"OAuth {token}"}


@pytest.fixture
def second_server(settings: Settings) -> Iterator[str]:
    """Another app, with its own engine and pool, on the same database (another process's view)."""
    other = Database.from_settings(settings)
    try:
        with serve_in_thread(create_app(settings, other)) as url:
            yield url
    finally:
        other.dispose()


def test_a_revoked_requester_token_gets_401_on_the_requester_api(
    http: httpx.Client, admin: Admin, requester: RequesterInfo
) -> None:
    """A requester's token works, is revoked by the operator, and from then on every
    requester endpoint (reads and writes) answers 401."""
    assert http.get("/api/v1/requester", headers=_as(requester.token)).status_code == 200

    revoked = admin.http.post(REVOKE, json={"token": requester.token})

    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked"] is True
    assert revoked.json()["role"] == "REQUESTER"
    assert revoked.json()["requester_id"] == requester.id
    for method, path, body in (
        ("GET", "/api/v1/requester", None),
        ("GET", "/api/v1/operations", None),
        ("POST", "/api/v1/user-bonuses", {"user_id": "x", "amount": "0.01"}),
    ):
        answer = http.request(method, path, headers=_as(requester.token), json=body)
        assert answer.status_code == 401, (path, answer.text)
        assert answer.json()["code"] == "AUTHENTICATION_ERROR"


def test_revoking_one_token_leaves_the_requesters_other_tokens_working(
    http: httpx.Client, admin: Admin, requester: RequesterInfo
) -> None:
    """Revocation is per token: a second token of the same requester keeps working."""
    second = admin.http.post(f"/api/admin/v1/requesters/{requester.id}/tokens").json()["token"]

    assert admin.http.post(REVOKE, json={"token": requester.token}).status_code == 200

    assert http.get("/api/v1/requester", headers=_as(requester.token)).status_code == 401
    assert http.get("/api/v1/requester", headers=_as(second)).status_code == 200


def test_a_revoked_toloker_token_gets_401_on_the_toloker_api(http: httpx.Client, admin: Admin) -> None:
    """A Toloker's token is revoked: the Toloker API answers 401 for bonuses and messages."""
    toloker = admin.create_toloker()
    token = admin.toloker_token(toloker)
    assert http.get("/api/toloker/v1/bonuses", headers=_as(token)).status_code == 200

    revoked = admin.http.post(REVOKE, json={"token": token})

    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["role"] == "TOLOKER"
    assert revoked.json()["toloker_id"] == toloker
    for path in ("/api/toloker/v1/bonuses", "/api/toloker/v1/message-threads"):
        answer = http.get(path, headers=_as(token))
        assert answer.status_code == 401, (path, answer.text)


def test_revoking_an_unknown_token_is_404(admin: Admin) -> None:
    """A token that was never issued: 404 DOES_NOT_EXIST, and the answer does not echo it."""
    answer = admin.http.post(REVOKE, json={"token": "cpr_never-issued-token"})

    assert answer.status_code == 404
    assert answer.json()["code"] == "DOES_NOT_EXIST"
    assert "cpr_never-issued-token" not in answer.text


def test_revoking_twice_is_200_with_the_first_revocation_time(admin: Admin, requester: RequesterInfo) -> None:
    """A retried revocation (a client resends the POST) is 200 again and changes nothing."""
    first = admin.http.post(REVOKE, json={"token": requester.token})
    again = admin.http.post(REVOKE, json={"token": requester.token})

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()


def test_only_the_operator_can_revoke(http: httpx.Client, admin: Admin, requester: RequesterInfo) -> None:
    """No token: 401. A requester (revoking another requester's token, or its own): 403, and
    the target token still works."""
    other = admin.create_requester()

    anonymous = http.post(REVOKE, json={"token": other.token})
    as_requester = http.post(REVOKE, json={"token": other.token}, headers=_as(requester.token))

    assert anonymous.status_code == 401
    assert as_requester.status_code == 403
    assert as_requester.json()["code"] == "ACCESS_DENIED"
    assert http.get("/api/v1/requester", headers=_as(other.token)).status_code == 200


def test_the_operator_token_cannot_be_revoked_through_the_api(http: httpx.Client, admin: Admin) -> None:
    """The admin token comes from settings: revoking it is a 400 that says how to rotate it,
    and it keeps working."""
    answer = admin.http.post(REVOKE, json={"token": ADMIN_TOKEN})

    assert answer.status_code == 400
    assert "CROWDPOST_ADMIN_TOKEN" in answer.text
    assert admin.http.get("/api/admin/v1/requesters/000000000001").status_code in (200, 404)


@pytest.mark.parametrize("body", [{}, {"token": ""}, {"token": 7}, {"token": "x" * 10_000}, {"token": "t", "x": 1}])
def test_malformed_revocations_are_400(admin: Admin, body: dict[str, object]) -> None:
    """Missing, empty, non-string, huge tokens and extra fields: 400 VALIDATION_ERROR."""
    answer = admin.http.post(REVOKE, json=body)

    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == "VALIDATION_ERROR"


def test_another_server_on_the_same_database_refuses_a_revoked_token_at_once(
    admin: Admin, requester: RequesterInfo, second_server: str
) -> None:
    """Revoked through one server, the very next request to another server (own engine,
    own connection pool) on the same database gets 401: no process keeps a stale view."""
    with httpx.Client(base_url=second_server, headers=_as(requester.token), timeout=30) as elsewhere:
        assert elsewhere.get("/api/v1/requester").status_code == 200

        assert admin.http.post(REVOKE, json={"token": requester.token}).status_code == 200
        answer = elsewhere.get("/api/v1/requester")

    assert answer.status_code == 401, answer.text


def test_the_cli_revokes_a_token_read_from_stdin_and_a_running_server_refuses_it_at_once(
    http: httpx.Client, requester: RequesterInfo, db_url: str, tmp_path: Path
) -> None:
    """`crowdpost admin revoke-token -` (the token on stdin, out of shell history), run as a
    process against the live server's database: the server's next answer is 401; a second
    run says it was already revoked; an unknown token exits 1."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CROWDPOST_")}
    env.update(CROWDPOST_DATABASE_URL=db_url, CROWDPOST_VAR_DIR=str(tmp_path), CROWDPOST_LOG_JSON="false")
    command = [sys.executable, "-m", "crowdpost", "admin", "revoke-token", "-"]
    assert http.get("/api/v1/requester", headers=_as(requester.token)).status_code == 200

    first = subprocess.run(command, input=requester.token + "\n", env=env, capture_output=True, text=True, timeout=60)
    answer = http.get("/api/v1/requester", headers=_as(requester.token))
    again = subprocess.run(command, input=requester.token, env=env, capture_output=True, text=True, timeout=60)
    unknown = subprocess.run(command, input="cpr_nope", env=env, capture_output=True, text=True, timeout=60)

    assert first.returncode == 0, first.stderr
    assert f"revoked: REQUESTER token of requester {requester.id}" in first.stdout
    assert answer.status_code == 401
    assert again.returncode == 0, again.stderr
    assert "already revoked" in again.stdout
    assert unknown.returncode == 1
    assert "DOES_NOT_EXIST" in unknown.stderr
