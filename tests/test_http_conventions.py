"""Every answer is a Toloka error body with the right status; nothing malformed gets a 500."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import httpx
import pytest
from fastapi import Depends

from crowdpost.app import create_app
from crowdpost.config import Settings
from crowdpost.db import Database
from crowdpost.kit.list_query import list_params
from crowdpost.kit.pagination import ListParams
from tests.fixtures.factories import ADMIN_TOKEN
from tests.fixtures.live_server import serve_in_thread

ADMIN = {"Authorization": f"OAuth {ADMIN_TOKEN}"}


def assert_toloka_error(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code
    assert body["request_id"] == response.headers["x-request-id"]
    assert isinstance(body["message"], str)
    assert body["message"]
    assert "Traceback" not in response.text
    assert "retry-after" not in response.headers
    return dict(body)


def test_malformed_json_is_400(http: httpx.Client) -> None:
    response = http.post("/api/admin/v1/requesters", content=b'{"public_name": ', headers=ADMIN | _JSON)
    body = assert_toloka_error(response, 400, "VALIDATION_ERROR")
    assert "body" in body["payload"]  # type: ignore[operator]


def test_non_utf8_body_is_400(http: httpx.Client) -> None:
    response = http.post("/api/admin/v1/requesters", content=b'{"public_name": "\xff\xfe"}', headers=ADMIN | _JSON)
    assert_toloka_error(response, 400, "VALIDATION_ERROR")


def test_wrong_types_name_the_field(http: httpx.Client) -> None:
    response = http.post("/api/admin/v1/requesters", json={"public_name": "A", "balance": True}, headers=ADMIN)
    body = assert_toloka_error(response, 400, "VALIDATION_ERROR")
    assert "balance" in body["payload"]  # type: ignore[operator]


def test_unknown_fields_are_refused(http: httpx.Client) -> None:
    response = http.post("/api/admin/v1/requesters", json={"public_name": "A", "colour": "red"}, headers=ADMIN)
    body = assert_toloka_error(response, 400, "VALIDATION_ERROR")
    assert body["payload"] == {
        "colour": {"code": "VALUE_NOT_ALLOWED", "message": "Extra inputs are not permitted", "params": []}
    }


def test_json_that_is_not_an_object_is_400(http: httpx.Client) -> None:
    for raw in (b"[]", b"42", b'"text"', b"null"):
        response = http.post("/api/admin/v1/requesters", content=raw, headers=ADMIN | _JSON)
        assert_toloka_error(response, 400, "VALIDATION_ERROR")


def test_five_megabyte_garbage_is_400(http: httpx.Client) -> None:
    response = http.post("/api/admin/v1/tolokers", content=b"[" + b"{" * 5_000_000, headers=ADMIN | _JSON)
    assert_toloka_error(response, 400, "VALIDATION_ERROR")


def test_deeply_nested_json_is_400(http: httpx.Client) -> None:
    response = http.post("/api/admin/v1/tolokers", content=b"[" * 100_000 + b"]" * 100_000, headers=ADMIN | _JSON)
    assert_toloka_error(response, 400, "VALIDATION_ERROR")


@pytest.fixture
def small_body_server(settings: Settings, db: Database) -> Iterator[str]:
    with serve_in_thread(create_app(settings.model_copy(update={"max_body_bytes": 1_000_000}), db)) as url:
        yield url


def test_oversized_body_is_413(small_body_server: str) -> None:
    five_mb = b'[{"languages": ["EN"]}' + b', {"languages": ["EN"]}' * 250_000 + b"]"
    assert len(five_mb) > 5_000_000
    response = httpx.post(f"{small_body_server}/api/admin/v1/tolokers", content=five_mb, headers=ADMIN | _JSON)
    assert_toloka_error(response, 413, "PAYLOAD_TOO_LARGE")


def test_oversized_chunked_body_is_413(small_body_server: str) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(50):
            yield b" " * 100_000

    response = httpx.post(f"{small_body_server}/api/admin/v1/tolokers", content=chunks(), headers=ADMIN | _JSON)
    assert_toloka_error(response, 413, "PAYLOAD_TOO_LARGE")


def test_unknown_path_is_404(http: httpx.Client) -> None:
    assert_toloka_error(http.get("/api/v1/no-such-thing"), 404, "DOES_NOT_EXIST")


def test_wrong_method_is_405(http: httpx.Client) -> None:
    assert_toloka_error(http.delete("/api/admin/v1/requesters", headers=ADMIN), 405, "METHOD_NOT_ALLOWED")


def test_unknown_method_is_405(http: httpx.Client) -> None:
    # A method no route could take (issue 19): 405 on any path, known or not, and no 500.
    for path in ("/api/v1/requester", "/", "/healthz", "/api/v1/no-such-thing"):
        assert_toloka_error(http.request("BREW", path, headers=ADMIN), 405, "METHOD_NOT_ALLOWED")


def test_api_body_without_a_token_is_401_before_it_is_parsed(http: httpx.Client) -> None:
    # The token is checked before the body is read (issue 19): malformed JSON sent
    # anonymously is a 401, not the 400 a caller with a token gets for it.
    response = http.post("/api/admin/v1/requesters", content=b'{"public_name": ', headers=_JSON)
    assert_toloka_error(response, 401, "AUTHENTICATION_ERROR")


def test_non_json_content_type_is_415(http: httpx.Client) -> None:
    response = http.post(
        "/api/admin/v1/requesters", content=b"public_name=A", headers=ADMIN | {"Content-Type": "text/plain"}
    )
    assert_toloka_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")


def test_malformed_id_is_404(http: httpx.Client) -> None:
    response = http.get("/api/admin/v1/requesters/abc", headers=ADMIN)
    assert_toloka_error(response, 404, "DOES_NOT_EXIST")


def test_list_parameters_are_checked(settings: Settings, db: Database) -> None:
    app = create_app(settings, db)

    @app.get("/api/test/list")  # under /api/: outside it, errors are HTML pages
    def listing(params: Annotated[ListParams, Depends(list_params)]) -> dict[str, object]:
        return {"limit": params.limit, "sort": [k.name for k in params.sort], "id": params.id_range}

    with serve_in_thread(app) as url:
        assert httpx.get(f"{url}/api/test/list").json() == {"limit": 50, "sort": [], "id": {}}
        assert httpx.get(f"{url}/api/test/list", params={"limit": 300, "sort": "-created,id", "id_gt": "x"}).json() == {
            "limit": 300,
            "sort": ["created", "id"],
            "id": {"gt": "x"},
        }
        assert_toloka_error(httpx.get(f"{url}/api/test/list", params={"limit": 301}), 400, "VALIDATION_ERROR")
        assert_toloka_error(httpx.get(f"{url}/api/test/list", params={"limit": "ten"}), 400, "VALIDATION_ERROR")
        assert_toloka_error(
            httpx.get(f"{url}/api/test/list", params={"created_gt": "yesterday"}), 400, "VALIDATION_ERROR"
        )


def test_every_response_has_a_request_id(http: httpx.Client) -> None:
    first = http.get("/healthz")
    second = http.get("/healthz")
    assert first.status_code == 200
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


def test_unexpected_exception_is_500_without_stack_trace(settings: Settings, db: Database) -> None:
    app = create_app(settings, db)

    @app.get("/api/test/boom")  # pages answer an HTML 500 instead (tests/web/test_foundation.py)
    def boom() -> None:
        raise RuntimeError("secret internals")

    with serve_in_thread(app) as url:
        response = httpx.get(f"{url}/api/test/boom")
    body = assert_toloka_error(response, 500, "INTERNAL_ERROR")
    assert "secret internals" not in response.text
    assert body["message"] == "Internal error"


def test_http_10_is_not_spoken_back(server_url: str) -> None:
    # toloka-kit dies on HTTP/1.0 responses with retryable statuses; we always answer 1.1.
    import socket
    from urllib.parse import urlparse

    parsed = urlparse(server_url)
    with socket.create_connection((parsed.hostname, parsed.port)) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        status_line = sock.recv(64).split(b"\r\n")[0]
    assert status_line.startswith(b"HTTP/1.1 200")


def test_readyz_checks_the_database(http: httpx.Client) -> None:
    response = http.get("/readyz")
    assert response.status_code == 200
    assert response.json()["status"] == "ready"


def test_metrics_are_prometheus_text(http: httpx.Client) -> None:
    http.get("/healthz")
    response = http.get("/metrics")
    assert response.status_code == 200
    assert "crowdpost_http_requests_total" in response.text


_JSON = {"Content-Type": "application/json"}
