"""The pages' foundation, over plain HTTP against a live server (both backends):

- every page and static file carries the security headers (CSP `default-src 'self'`, nosniff,
  frame DENY) and signed-in pages are never cached; the API's answers are left as they were;
- errors on pages are HTML pages (never a stack trace, never JSON), errors on the API keep
  Toloka's JSON bodies;
- signed out, a page redirects to /sign-in?next=..., an htmx request gets HX-Redirect;
- page bodies have their own, lower cap than the API's (anyone may post the sign-in form);
- `safe_next` never sends anyone to another host.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from crowdpost.app import create_app
from crowdpost.config import Settings
from crowdpost.db import Database
from crowdpost.web.session import safe_next
from crowdpost.web.templating import money
from tests.fixtures.factories import Admin
from tests.fixtures.live_server import serve_in_thread
from tests.web.browser import create_web_requester, page_client, post_sign_in, sign_in_http


@pytest.fixture
def client(server_url: str) -> Iterator[httpx.Client]:
    with page_client(server_url) as c:
        yield c


def test_pages_and_static_files_carry_the_security_headers(client: httpx.Client) -> None:
    for path in ("/sign-in", "/static/css/crowdpost.css", "/static/js/htmx.min.js", "/no-such-page"):
        response = client.get(path)
        csp = response.headers.get("content-security-policy", "")
        assert "default-src 'self'" in csp, path
        assert "frame-ancestors 'none'" in csp, path
        assert response.headers.get("x-content-type-options") == "nosniff", path
        assert response.headers.get("x-frame-options") == "DENY", path
    assert client.get("/sign-in").headers.get("cache-control") == "no-store"


def test_the_api_keeps_its_own_headers_and_json_errors(client: httpx.Client) -> None:
    response = client.get("/api/v1/no-such-thing", headers={"Authorization": "OAuth nope"})
    assert response.status_code in (401, 404)
    assert response.headers["content-type"].startswith("application/json")
    assert "content-security-policy" not in response.headers
    assert response.json()["code"] in ("AUTHENTICATION_ERROR", "DOES_NOT_EXIST")


def test_unknown_page_is_an_html_404(client: httpx.Client) -> None:
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "Traceback" not in response.text
    assert "Back to Messages" in response.text


def test_signed_out_pages_redirect_to_sign_in_and_come_back(client: httpx.Client) -> None:
    response = client.get("/messages?folder=sent")
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in?next=/messages%3Ffolder%3Dsent"
    htmx = client.get("/messages", headers={"HX-Request": "true"})
    assert htmx.headers.get("hx-redirect", "").startswith("/sign-in?next=")
    assert client.get("/").headers["location"] == "/messages"


def test_a_malformed_page_form_is_an_html_400(client: httpx.Client) -> None:
    response = post_sign_in(client, {"method": "carrier-pigeon", "email": "a@b.c", "password": "x"})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert "Traceback" not in response.text


def test_page_bodies_have_a_lower_cap_than_the_api(client: httpx.Client, server_url: str, admin: Admin) -> None:
    big = "x" * (4 * 1024 * 1024 + 1)
    response = client.post(
        "/sign-in",
        content=f"email=a%40b.c&password={big}".encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413
    # A signed-in page POST is held to the same cap, and nothing is lost: the session still works.
    person = create_web_requester(admin)
    assert sign_in_http(client, person.email, person.password).status_code == 303
    assert client.post("/messages/mark-all-read", content=big.encode()).status_code == 413
    assert client.get("/messages").status_code == 200


def test_money_is_shown_exactly() -> None:
    assert money(Decimal("1234.5")) == "$1,234.50"
    assert money(Decimal("0.001")) == "$0.001"
    assert money(Decimal("100")) == "$100.00"
    assert money(None) == ""


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "javascript:alert(1)",
        "",
        None,
        "/a\r\nSet-Cookie:x",
    ],
)
def test_next_never_leaves_the_site(target: str | None) -> None:
    assert safe_next(target) == "/messages"


def test_next_keeps_local_paths() -> None:
    assert safe_next("/messages/000000000042?x=1") == "/messages/000000000042?x=1"


def test_a_crashing_page_is_an_html_500_without_internals(settings: Settings, db: Database) -> None:
    app = create_app(settings, db)

    @app.get("/crash-page")
    def crash() -> None:
        raise RuntimeError("secret internals")

    with serve_in_thread(app) as url:
        response = httpx.get(f"{url}/crash-page")
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/html")
    assert "secret internals" not in response.text
    assert "Traceback" not in response.text
    assert "default-src 'self'" in response.headers["content-security-policy"]
