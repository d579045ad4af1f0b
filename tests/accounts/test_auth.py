"""Three roles, two header schemes; wrong token 401, wrong role 403."""

from __future__ import annotations

import httpx
import pytest

from tests.fixtures.factories import ADMIN_TOKEN, Admin, RequesterInfo


def _get(http: httpx.Client, path: str, token: str | None, scheme: str = "OAuth") -> httpx.Response:
    headers = {"Authorization": f"{scheme} {token}"} if token is not None else {}
    return http.get(path, headers=headers)


@pytest.mark.parametrize("header", [None, "", "OAuth", "Basic abc", "OAuth wrong-token", "ApiKey wrong"])
def test_missing_or_wrong_token_is_401(http: httpx.Client, requester: RequesterInfo, header: str | None) -> None:
    response = http.get("/api/v1/requester", headers={"Authorization": header} if header is not None else {})
    assert response.status_code == 401
    assert response.json()["code"] == "AUTHENTICATION_ERROR"


@pytest.mark.parametrize("scheme", ["OAuth", "ApiKey"])
def test_both_schemes_work(http: httpx.Client, requester: RequesterInfo, scheme: str) -> None:
    assert _get(http, "/api/v1/requester", requester.token, scheme).status_code == 200


def test_requester_token_cannot_use_admin_api(http: httpx.Client, requester: RequesterInfo) -> None:
    response = http.post(
        "/api/admin/v1/requesters", json={"public_name": "x"}, headers={"Authorization": f"OAuth {requester.token}"}
    )
    assert response.status_code == 403
    assert response.json()["code"] == "ACCESS_DENIED"


def test_toloker_token_cannot_use_requester_api(http: httpx.Client, admin: Admin) -> None:
    token = admin.toloker_token(admin.create_toloker())
    response = _get(http, "/api/v1/requester", token)
    assert response.status_code == 403
    assert response.json()["code"] == "ACCESS_DENIED"


def test_operator_token_cannot_act_as_requester(http: httpx.Client) -> None:
    response = _get(http, "/api/v1/requester", ADMIN_TOKEN)
    assert response.status_code == 403


def test_each_requester_sees_only_themselves(http: httpx.Client, admin: Admin) -> None:
    first = admin.create_requester(balance="1.00")
    second = admin.create_requester(balance="2.00")
    assert _get(http, "/api/v1/requester", first.token).json()["id"] == first.id
    assert _get(http, "/api/v1/requester", second.token).json()["id"] == second.id


def test_tokens_are_stored_hashed(admin: Admin, db: object) -> None:
    from sqlalchemy import select

    from crowdpost.db import Database
    from crowdpost.models import ApiToken

    info = admin.create_requester()
    assert isinstance(db, Database)
    with db.transaction(write=False) as session:
        stored = list(session.execute(select(ApiToken.token_hash)).scalars())
    assert info.token not in stored
    assert all(len(h) == 64 for h in stored)
