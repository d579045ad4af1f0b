"""The timing test issue 19 demands: hostile texts are answered in about the time of an
ordinary text of the same size, and so is every GET sent meanwhile.

Before issue 19 a 60 KB compose of plain letters kept the server from answering anything for
more than 5 s (9 KB already took 0.26-0.56 s): the policy patterns backtracked quadratically,
holding the GIL. Each pathological text is sent at 9 KB, 60 KB and 1 MB (over the 100,000-
character limit, so refused with a 400 before any check reads it) as a compose, a requester
reply and a Toloker reply, while another thread keeps sending GETs.

No test asserts seconds alone: a loaded CI machine once took 1.25 s for a 9 KB compose that
takes milliseconds. The bound of each answer is the issue's 1 s or, when the machine is that
slow, a few times what an ordinary text of the same size took in the same run (measured the
same way just before), whichever is larger; the quadratic patterns took hundreds of times
that. The checks themselves, run alone, assert linear growth (a ratio too).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import httpx
import pytest

from crowdpost.db import Database
from crowdpost.messaging import policy
from crowdpost.messaging.schemas import TEXT_MAX_CHARS
from tests.fixtures.factories import Admin, RequesterInfo
from tests.messaging.helpers import compose_body, crew, toloker_client
from tests.security.test_text_checks import COMPOSE, PATHOLOGICAL, THREADS, Messaging

LIMIT_S = 1.0
# A hostile text may take this many times an ordinary one of its size (same run, same path).
SLOWER_THAN_ORDINARY = 5.0
SIZES = (9_000, 60_000, 1_000_000)
HOST = "we.toloka.ai"


def _timed_while_probing(
    server_url: str, token: str, send: Callable[[], httpx.Response]
) -> tuple[httpx.Response, float, float]:
    """`send()` in a thread while this one sends GETs (/healthz and a database read) until it is
    answered. Returns the answer, its seconds, and the slowest GET's seconds."""
    outcome: dict[str, object] = {}
    started = threading.Event()

    def run() -> None:
        started.set()
        began = time.perf_counter()
        try:
            outcome["response"] = send()
        except Exception as exc:  # surfaces below, in the test's thread
            outcome["error"] = exc
        outcome["seconds"] = time.perf_counter() - began

    sender = threading.Thread(target=run)
    slowest, probes = 0.0, 0
    with httpx.Client(base_url=server_url, headers={"Authorization": f"OAuth {token}"}, timeout=30) as probe:
        sender.start()
        started.wait()
        while sender.is_alive() or probes < 2:
            path = "/healthz" if probes % 2 == 0 else f"{THREADS}/counts"
            began = time.perf_counter()
            answer = probe.get(path)
            slowest = max(slowest, time.perf_counter() - began)
            assert answer.status_code == 200, answer.text
            probes += 1
    sender.join()
    if "error" in outcome:
        raise AssertionError(f"the request failed: {outcome['error']!r}")
    response = outcome["response"]
    assert isinstance(response, httpx.Response)
    seconds = outcome["seconds"]
    assert isinstance(seconds, float)
    return response, seconds, slowest


@pytest.fixture
def messaging(
    requester_http: httpx.Client, server_url: str, admin: Admin, db: Database, requester: RequesterInfo
) -> Iterator[Messaging]:
    _, pool_id, (worker,) = crew(db, admin, requester.id, [{}])
    with toloker_client(server_url, admin, worker) as toloker:
        yield Messaging(requester_http, toloker, worker, pool_id, admin)


@pytest.fixture
def probe_token(requester: RequesterInfo) -> str:
    return requester.token


def _post(client: httpx.Client, path: str, body: dict[str, Any]) -> httpx.Response:
    return client.post(path, json=body)


def _ordinary(size: int) -> str:
    return ("Thanks for the careful work on street signs this week. " * (size // 50 + 1))[:size]


def _bound(server_url: str, token: str, m: Messaging, size: int) -> float:
    """The slowest an answer (or a GET meanwhile) may be at this size: the issue's second or,
    on a machine too loaded for it, a few times an ordinary compose of the same size."""
    body = compose_body(topic={"EN": f"ordinary {size}"}, text={"EN": _ordinary(size)}, recipients_ids=[m.worker])
    _, seconds, slowest_get = _timed_while_probing(server_url, token, partial(_post, m.requester, COMPOSE, body))
    return max(LIMIT_S, SLOWER_THAN_ORDINARY * max(seconds, slowest_get))


def _assert_fast_everywhere(m: Messaging, server_url: str, token: str, name: str) -> None:
    # Warm the path once (first request compiles schemas, opens connections).
    warm = m.requester.post(COMPOSE, json=compose_body(topic={"EN": "warm"}, recipients_ids=[m.worker]))
    assert warm.status_code == 201, warm.text
    for size in SIZES:
        text = PATHOLOGICAL[name](size)
        expected = 201 if size <= TEXT_MAX_CHARS else 400
        bound = _bound(server_url, token, m, size)
        topic = {"EN": f"{name} {size}"}
        body = compose_body(topic=topic, text={"EN": text}, recipients_ids=[m.worker])
        sent, seconds, slowest_get = _timed_while_probing(server_url, token, partial(_post, m.requester, COMPOSE, body))
        assert sent.status_code == expected, sent.text[:300]
        assert seconds < bound, f"compose of {size} chars took {seconds:.2f} s (bound {bound:.2f} s)"
        assert slowest_get < bound, f"a GET during the compose of {size} chars took {slowest_get:.2f} s"
        if expected == 400:
            assert sent.json()["payload"]["text.EN"]["code"] == "STRING_LENGTH_GREATER_THAN_MAX"
        thread_id = sent.json()["id"] if expected == 201 else warm.json()["id"]
        reply = {"text": {"EN": text}}
        for label, send in (
            ("requester reply", partial(_post, m.requester, f"{THREADS}/{thread_id}/reply", reply)),
            ("Toloker reply", partial(_post, m.toloker, f"/message-threads/{thread_id}/reply", reply)),
        ):
            answer, seconds, slowest_get = _timed_while_probing(server_url, token, send)
            assert answer.status_code == expected, answer.text[:300]
            assert seconds < bound, f"{label} of {size} chars took {seconds:.2f} s (bound {bound:.2f} s)"
            assert slowest_get < bound, f"a GET during the {label} of {size} chars took {slowest_get:.2f} s"


def test_long_run_of_letters_is_answered_within_a_second(
    messaging: Messaging,
    server_url: str,
    probe_token: str,
) -> None:
    """ "aaa..." at 9 KB, 60 KB and 1 MB: each answer and each GET meanwhile in under 1 s."""
    _assert_fast_everywhere(messaging, server_url, probe_token, "letters")


def test_lt_followed_by_spaces_is_answered_within_a_second(
    messaging: Messaging,
    server_url: str,
    probe_token: str,
) -> None:
    """ "<" then spaces at 9 KB, 60 KB and 1 MB: each answer and each GET meanwhile in under 1 s."""
    _assert_fast_everywhere(messaging, server_url, probe_token, "lt_then_spaces")


def test_run_of_lt_space_is_answered_within_a_second(
    messaging: Messaging,
    server_url: str,
    probe_token: str,
) -> None:
    """ "< < < ..." at 9 KB, 60 KB and 1 MB: each answer and each GET meanwhile in under 1 s."""
    _assert_fast_everywhere(messaging, server_url, probe_token, "lt_space_run")


def test_run_of_a_at_is_answered_within_a_second(
    messaging: Messaging,
    server_url: str,
    probe_token: str,
) -> None:
    """ "a@a@..." at 9 KB, 60 KB and 1 MB: each answer and each GET meanwhile in under 1 s."""
    _assert_fast_everywhere(messaging, server_url, probe_token, "a_at_run")


def test_digit_and_phone_runs_are_answered_within_a_second(
    messaging: Messaging,
    server_url: str,
    probe_token: str,
) -> None:
    """Runs of digits, of "1 " and of phone-like blocks at 9 KB, 60 KB and 1 MB: each answer
    and each GET meanwhile in under 1 s."""
    for name in ("digit_run", "digit_space_run", "phone_like_run", "phones_run"):
        _assert_fast_everywhere(messaging, server_url, probe_token, name)


def test_malformed_urls_are_answered_within_a_second(
    messaging: Messaging,
    server_url: str,
    probe_token: str,
) -> None:
    """ "http://[x " repeated at 9 KB, 60 KB and 1 MB: each answer and each GET meanwhile in under 1 s."""
    _assert_fast_everywhere(messaging, server_url, probe_token, "malformed_urls")


# --- the checks themselves, on 1 MB (ten times what a request may carry) ----------------------

MEGABYTE = 1_000_000
CHECKS: dict[str, Callable[[str], object]] = {
    "e-mail": policy._EMAIL.search,
    "phone": policy._phone,
    "handle": policy._HANDLE.search,
    "messengers": policy._MESSENGERS.search,
    "advertising": policy._ADS.search,
    "off-platform": policy._OFF_PLATFORM.search,
    "links": policy._URL.findall,
    "data URI": policy._DATA_URI.search,
    "tags": policy._TAG.findall,
    "event handlers": policy._EVENT_ATTR.search,
}


@pytest.fixture(scope="module", params=sorted(PATHOLOGICAL))
def megabyte_text(request: pytest.FixtureRequest) -> str:
    return PATHOLOGICAL[request.param](MEGABYTE)


def _once(call: Callable[[], object]) -> float:
    began = time.perf_counter()
    call()
    return time.perf_counter() - began


def _best_seconds(small: Callable[[], object], large: Callable[[], object]) -> tuple[float, float]:
    """The best of five runs of each, interleaved: both see the same machine (a CI neighbour
    that slowed only the large runs once made linear growth look like 25x)."""
    best_small = best_large = float("inf")
    for _ in range(5):
        best_small = min(best_small, _once(small))
        best_large = min(best_large, _once(large))
    return best_small, best_large


# Linear work on 8x the text takes ~8x the time; the quadratic patterns took ~64x. A ratio is
# what these tests assert, not seconds, so a loaded machine (which slows both runs) cannot fail
# them; the bound sits at half the quadratic ratio because a 1 MB text leaves the CPU caches a
# 125 KB one fits in. Under FLOOR_S a check is too fast to be the problem and its ratio is
# timer noise.
GROWTH = 8
MAX_RATIO = 32.0
FLOOR_S = 0.05


def _assert_linear(name: str, check: Callable[[str], object], text: str) -> None:
    small, large = text[: len(text) // GROWTH], text
    small_s, large_s = _best_seconds(partial(check, small), partial(check, large))
    if large_s < FLOOR_S:
        return
    ratio = large_s / max(small_s, 1e-6)
    assert ratio < MAX_RATIO, f"{name}: {GROWTH}x the text took {ratio:.0f}x the time ({large_s:.2f} s on {len(large)})"


def test_each_policy_check_is_linear_on_a_megabyte(megabyte_text: str) -> None:
    """Every pattern check alone on 1 MB of a pathological text, and all of them together
    (`pattern_warnings`), grow linearly: 8x the text costs well under 32x the time (the
    quadratic patterns cost 64x, and minutes at this size)."""
    for name, check in CHECKS.items():
        _assert_linear(name, check, megabyte_text)
    _assert_linear("all checks", lambda text: policy.pattern_warnings("text.EN", text, text, HOST), megabyte_text)


def test_whole_policy_check_is_linear_up_to_the_text_limit(megabyte_text: str) -> None:
    """`check_policy` (sanitizer included) on a text of 100,000 characters of a pathological
    text (the most a request may carry) grows linearly from 12,500 characters."""
    topic = megabyte_text[:1000]
    _assert_linear(
        "check_policy",
        lambda text: policy.check_policy({"EN": topic}, {"EN": text}, HOST),
        megabyte_text[:TEXT_MAX_CHARS],
    )
