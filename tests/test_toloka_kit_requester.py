"""The real toloka-kit 1.2.3 against a live crowdpost server."""

from __future__ import annotations

from decimal import Decimal

import pytest
from toloka.client import TolokaClient
from toloka.client.exceptions import AuthenticationApiError

from tests.fixtures.factories import Admin


def test_get_requester_returns_exact_balance(server_url: str, admin: Admin) -> None:
    # 0.1 + 0.2 is not 0.3 in binary floating point; the balance must be exact.
    info = admin.create_requester(balance="0.1")
    admin.deposit(info.id, "0.2")
    admin.deposit(info.id, "1234567.891")
    client = TolokaClient(info.token, url=server_url, retries=0)

    requester = client.get_requester()

    assert requester.id == info.id
    assert requester.balance == Decimal("1234568.191")
    assert isinstance(requester.balance, Decimal)


def test_wrong_token_raises_authentication_error(server_url: str, admin: Admin) -> None:
    admin.create_requester()
    client = TolokaClient("not-a-real-token", url=server_url, retries=0)

    with pytest.raises(AuthenticationApiError) as caught:
        client.get_requester()

    assert caught.value.code == "AUTHENTICATION_ERROR"
    assert caught.value.status_code == 401
    assert caught.value.request_id


def test_apikey_shaped_token_is_accepted(server_url: str, admin: Admin, http: object) -> None:
    info = admin.create_requester(balance="5")
    import httpx

    response = httpx.get(f"{server_url}/api/v1/requester", headers={"Authorization": f"ApiKey {info.token}"})

    assert response.status_code == 200
    assert response.json()["balance"] == 5
