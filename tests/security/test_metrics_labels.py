"""Issue 19: metric labels come from fixed sets; unknown methods are a 405, never a new series.

Before the change the method label was the raw HTTP method, so 400 requests with made-up
methods and paths added thousands of series to `/metrics`.
"""

from __future__ import annotations

import random
import string

import httpx

from crowdpost.middleware import STANDARD_METHODS
from tests.fixtures.factories import ADMIN_TOKEN

ADMIN = {"Authorization": f"OAuth {ADMIN_TOKEN}"}
_COUNTER = "crowdpost_http_requests_total{"


def _labels(line: str) -> tuple[str, str, str]:
    """(method, route, status) of `crowdpost_http_requests_total{method="GET",route="/x",status="200"} 3.0`."""
    inside = line[len(_COUNTER) : line.rindex("}")]
    values = dict(pair.split("=", 1) for pair in inside.split('",'))
    return values["method"].strip('"'), values["route"].strip('"'), values["status"].strip('"')


def series(client: httpx.Client) -> set[tuple[str, str, str]]:
    """The (method, route, status) label sets of `crowdpost_http_requests_total`."""
    response = client.get("/metrics")
    assert response.status_code == 200
    return {_labels(line) for line in response.text.splitlines() if line.startswith(_COUNTER)}


def _word(rng: random.Random, length: int) -> str:
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(length))


def _hostile_batch(client: httpx.Client, words_seed: int) -> list[str]:
    """400 requests: every other one with a made-up method (`XQZVL`, ...), the rest with a standard
    one; random paths under no route, under the three APIs and under a route with an id;
    anonymous or with the operator token, with a body or not. The kinds of request follow a
    fixed sequence; the made-up words are drawn from `words_seed`. Returns the words sent."""
    kinds = random.Random(19)
    words = random.Random(words_seed)
    sent: list[str] = []
    for index in range(400):
        made_up = _word(words, kinds.randint(6, 12)).upper()
        method = made_up if index % 2 == 0 else kinds.choice(sorted(STANDARD_METHODS))
        word = _word(words, 10)
        sent += [made_up, word]
        shape = kinds.choice(["/{}", "/api/v1/{}/{}", "/api/admin/v1/requesters/{}", "/api/toloker/v1/{}"])
        path = shape.format(word, word)
        headers = ADMIN if index % 3 == 0 else {}
        content = b"{}" if index % 5 == 0 else None
        response = client.request(method, path, headers=headers, content=content)
        assert response.status_code < 500, (method, path, response.text)
        if method != "HEAD" and response.headers["content-type"].startswith("application/json"):
            assert response.json()["request_id"] == response.headers["x-request-id"]
        elif method != "HEAD":  # an unknown page address is an HTML page (crowdpost.web.errors)
            assert not path.startswith("/api/"), (method, path)
            assert "x-request-id" in response.headers
    return sent


def test_made_up_methods_and_paths_add_no_series(http: httpx.Client) -> None:
    """Two rounds of 400 made-up methods and random paths (`_hostile_batch`). The first adds a
    small fixed set of series (method: standard or `other`; route: a template or `unmatched`;
    a status); the second, the same kinds of request with other words, adds none; no
    made-up method or path appears in `/metrics`. Before the change: thousands of series."""
    before = series(http)
    sent = _hostile_batch(http, words_seed=1)
    first = series(http)
    sent += _hostile_batch(http, words_seed=2)
    second = series(http)

    for method, route, status in second:
        assert method in STANDARD_METHODS | {"other"}
        assert route == "unmatched" or route.startswith("/"), route
        assert status.isdigit()
    text = http.get("/metrics").text
    assert [word for word in sent if word in text] == []
    # 8 method labels x {unmatched, /api/admin/v1/requesters/{requester_id}} x a few statuses
    assert len(first - before) <= 40, sorted(first - before)
    assert second - first <= {("GET", "/metrics", "200")}, sorted(second - first)


def test_made_up_method_is_405_json(http: httpx.Client) -> None:
    """`FOO /api/v1/requester` and `BREW /` (with a token or not, with a body or not) are a
    405 METHOD_NOT_ALLOWED Toloka error body, never a 404 or a 500."""
    for method, path in (("FOO", "/api/v1/requester"), ("BREW", "/"), ("PROPFIND", "/healthz")):
        for headers, content in (({}, None), (ADMIN, b'{"a": 1}')):
            response = http.request(method, path, headers=headers, content=content)
            assert response.status_code == 405, response.text
            body = response.json()
            assert body["code"] == "METHOD_NOT_ALLOWED"
            assert body["request_id"] == response.headers["x-request-id"]
            assert method in body["message"]


def test_made_up_methods_share_the_other_label(http: httpx.Client) -> None:
    """Ten different made-up methods are counted in the one `other` series, not ten new ones."""
    before = series(http)
    counted_before = _count(http, 'method="other",route="unmatched",status="405"')
    for index in range(10):
        assert http.request(f"MADEUP{index}", "/api/v1/requester").status_code == 405
    assert _count(http, 'method="other",route="unmatched",status="405"') == counted_before + 10
    assert {labels[0] for labels in series(http) - before} <= {"other"}


def test_route_label_is_the_route_template(http: httpx.Client) -> None:
    """Requests for different ids are one series labelled with the full route template."""
    for requester_id in ("1", "22", "333", "abc"):
        http.get(f"/api/admin/v1/requesters/{requester_id}", headers=ADMIN)
    routes = {route for _method, route, _status in series(http)}
    assert "/api/admin/v1/requesters/{requester_id}" in routes
    assert not any(route.startswith("/api/admin/v1/requesters/") and "{" not in route for route in routes)


def _count(client: httpx.Client, labels: str) -> float:
    prefix = "crowdpost_http_requests_total{" + labels + "} "
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(prefix):
            return float(line[len(prefix) :])
    return 0.0
