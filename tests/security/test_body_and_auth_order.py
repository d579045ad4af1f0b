"""Issue 19: a token is checked before a body is read; the body cap counts bytes received.

Bodies go over a raw socket (`bench.hostile_bodies.post_raw`) that keeps writing while it
reads, or stops after a few bytes and waits: a server that waited for the rest of the body
would never answer, and the call would end with no status (`timeout` bounds each wait).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text, update

from bench.common import server as serve_process
from bench.hostile_bodies import (
    MB,
    RawAnswer,
    concurrently,
    current_rss,
    json_array,
    peak_rss,
    post_raw,
    reset_peak,
)
from crowdpost.accounts.tokens import hash_token
from crowdpost.app import create_app
from crowdpost.config import Settings
from crowdpost.db import Database
from crowdpost.kit.timefmt import utcnow
from crowdpost.models import ApiToken
from tests.fixtures.factories import ADMIN_TOKEN, RequesterInfo
from tests.fixtures.live_server import serve_in_thread

BONUSES = "/api/v1/user-bonuses"
TWENTY_FOUR_MB = json_array(24 * MB)
WAIT = 20  # seconds per socket wait; the answer is expected long before


def _oauth(token: str) -> dict[str, str]:
    return {"Authorization": f"OAuth {token}"}


def assert_refused(answer: RawAnswer, status: int, code: str) -> None:
    assert answer.status == status, (answer.error, answer.body[:300])
    body = answer.json()
    assert body["code"] == code
    assert body["request_id"]
    assert body["message"]


@pytest.fixture
def small_cap_server(settings: Settings, db: Database) -> Iterator[str]:
    """The app with a 1 MB body cap."""
    with serve_in_thread(create_app(settings.model_copy(update={"max_body_bytes": MB}), db)) as url:
        yield url


def test_anonymous_body_is_not_read(server_url: str) -> None:
    """Headers announcing 24 MB, then 16 bytes, then silence: the server answers 401 without
    waiting for the rest (before the change it waited for the whole body, then parsed it)."""
    answer = post_raw(server_url, BONUSES, TWENTY_FOUR_MB, send_at_most=16, timeout=WAIT)
    assert_refused(answer, 401, "AUTHENTICATION_ERROR")
    # At most the 16 bytes (the answer may even come before the client sent them); never more.
    assert answer.body_bytes_sent <= 16


def test_anonymous_chunked_body_is_not_read(server_url: str) -> None:
    """A chunked upload with no Content-Length, stopped after its first 16 bytes: 401 at once."""
    answer = post_raw(server_url, BONUSES, TWENTY_FOUR_MB, chunked=True, send_at_most=16, timeout=WAIT)
    assert_refused(answer, 401, "AUTHENTICATION_ERROR")


def test_malformed_authorization_is_refused_before_the_body(server_url: str) -> None:
    """A header with an unknown scheme or no token is refused before the body, as a missing one."""
    for header in ("Basic dXNlcjpwYXNz", "OAuth", "OAuth    ", "cpr_no_scheme"):
        answer = post_raw(
            server_url, BONUSES, TWENTY_FOUR_MB, headers={"Authorization": header}, send_at_most=16, timeout=WAIT
        )
        assert_refused(answer, 401, "AUTHENTICATION_ERROR")


def test_unknown_token_is_refused_before_the_body(server_url: str) -> None:
    """A well-formed token that is in no database row: looked up, refused, body never awaited."""
    answer = post_raw(
        server_url, BONUSES, TWENTY_FOUR_MB, headers=_oauth("cpr_made-up-token"), send_at_most=16, timeout=WAIT
    )
    assert_refused(answer, 401, "AUTHENTICATION_ERROR")
    assert "unknown or revoked" in answer.json()["message"]


def test_revoked_token_is_refused_before_the_body(server_url: str, requester: RequesterInfo, db: Database) -> None:
    """A requester's token marked revoked in storage gets 401 on its next POST, before the body."""
    with db.transaction() as session:
        session.execute(
            update(ApiToken).where(ApiToken.token_hash == hash_token(requester.token)).values(revoked=utcnow())
        )
    answer = post_raw(
        server_url, BONUSES, TWENTY_FOUR_MB, headers=_oauth(requester.token), send_at_most=16, timeout=WAIT
    )
    assert_refused(answer, 401, "AUTHENTICATION_ERROR")


def test_token_check_does_not_wait_for_writers(server_url: str, db: Database) -> None:
    """While another connection holds the write lock (SQLite: BEGIN IMMEDIATE; PostgreSQL: the
    token table locked against writers), a POST with a made-up token still gets its 401: the
    early check is a plain read and neither takes nor waits for the lock."""
    engine = db.write_engine if db.is_sqlite else db.engine
    with engine.connect() as connection, connection.begin():
        if not db.is_sqlite:
            connection.execute(text("LOCK TABLE api_tokens IN EXCLUSIVE MODE"))
        answer = post_raw(
            server_url, BONUSES, TWENTY_FOUR_MB, headers=_oauth("cpr_made-up-token"), send_at_most=16, timeout=WAIT
        )
    assert_refused(answer, 401, "AUTHENTICATION_ERROR")


def test_valid_token_body_is_read_and_checked(server_url: str, requester: RequesterInfo) -> None:
    """The other side: with a live token the body is read and validated (`{}` is no bonus: 400)."""
    answer = post_raw(server_url, BONUSES, json_array(1024, items=2), headers=_oauth(requester.token), timeout=WAIT)
    assert_refused(answer, 400, "VALIDATION_ERROR")


def test_token_of_another_role_still_gets_403(server_url: str) -> None:
    """The early check only authenticates: the operator token on the requester API is still the
    dependency's 403, after the body is read."""
    answer = post_raw(server_url, BONUSES, json_array(1024, items=2), headers=_oauth(ADMIN_TOKEN), timeout=WAIT)
    assert_refused(answer, 403, "ACCESS_DENIED")


def test_anonymous_oversized_body_is_401_not_413(small_cap_server: str) -> None:
    """Authentication comes first on the API: 24 MB announced over a 1 MB cap, anonymous -> 401."""
    answer = post_raw(small_cap_server, BONUSES, TWENTY_FOUR_MB, send_at_most=16, timeout=WAIT)
    assert_refused(answer, 401, "AUTHENTICATION_ERROR")


def test_content_length_over_the_cap_is_413_without_reading(small_cap_server: str) -> None:
    """A live token, Content-Length 24 MB over a 1 MB cap, 16 bytes sent: 413 without the rest."""
    answer = post_raw(
        small_cap_server, "/api/admin/v1/tolokers", TWENTY_FOUR_MB, headers=_oauth(ADMIN_TOKEN), send_at_most=16
    )
    assert_refused(answer, 413, "PAYLOAD_TOO_LARGE")


def test_chunked_body_over_the_cap_is_413(small_cap_server: str) -> None:
    """A live token, 24 MB chunked (no Content-Length) against a 1 MB cap: the bytes received are
    counted, reading stops past the cap and the 413 comes back before the upload ends."""
    answer = post_raw(
        small_cap_server, "/api/admin/v1/tolokers", TWENTY_FOUR_MB, chunked=True, headers=_oauth(ADMIN_TOKEN)
    )
    assert_refused(answer, 413, "PAYLOAD_TOO_LARGE")
    assert answer.body_bytes_sent < len(TWENTY_FOUR_MB)


def test_chunked_body_under_the_cap_is_read(small_cap_server: str) -> None:
    """The cap is not off by one the other way: a chunked body of exactly the cap is read whole
    (then refused as not a Toloker list: 400, not 413)."""
    exactly_the_cap = b'{"a": "' + b"a" * (MB - 9) + b'"}'
    assert len(exactly_the_cap) == MB
    answer = post_raw(
        small_cap_server, "/api/admin/v1/tolokers", exactly_the_cap, chunked=True, headers=_oauth(ADMIN_TOKEN)
    )
    assert_refused(answer, 400, "VALIDATION_ERROR")


def test_two_concurrent_anonymous_24_mb_posts_keep_peak_rss_under_64_mb(db_url: str, tmp_path: Path) -> None:
    """`crowdpost serve` as its own process; two anonymous 24 MB POSTs at once, then two chunked:
    each answered 401, and the server's peak RSS (VmHWM) rises by less than 64 MB (before the
    change: ~1.3 GB, see bench/RESULTS.md "Hostile bodies")."""
    env = {"CROWDPOST_VAR_DIR": str(tmp_path), "CROWDPOST_EMBEDDED_WORKER": "false"}
    with serve_process(db_url, worker=False, extra_env=env) as (base, proc):
        assert httpx.get(f"{base}/healthz").status_code == 200
        for chunked in (False, True):
            reset_peak(proc.pid)  # where refused, the startup peak only makes the rise look larger
            before = current_rss(proc.pid)
            answers = concurrently(
                2, functools.partial(post_raw, base, BONUSES, TWENTY_FOUR_MB, chunked=chunked, timeout=WAIT)
            )
            rise = peak_rss(proc.pid) - before
            assert [answer.status for answer in answers] == [401, 401], [answer.error for answer in answers]
            assert rise < 64 * MB, f"peak RSS rose by {rise / MB:.0f} MB (chunked={chunked})"
