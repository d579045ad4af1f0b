"""Linear-time text checks: hostile message texts are answered normally, over-limit ones with a 400.

Before issue 19 the policy patterns backtracked quadratically on raw text before any length
check: a 60 KB compose of plain letters kept the server from answering anything for more than
5 s, and `http://[x` in a text ended in a 500 (`urlsplit` raised). Every test here sends the
attack through the live server (SQLite and PostgreSQL) and asserts the answer a client gets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from crowdpost.db import Database
from crowdpost.messaging.policy import sanitize_html
from tests.fixtures.factories import Admin, RequesterInfo
from tests.messaging.helpers import compose_body, crew, toloker_client

THREADS = "/api/v1/message-threads"
COMPOSE = f"{THREADS}/compose"

# The texts that froze the server, as functions of their length in characters.
PATHOLOGICAL: dict[str, Callable[[int], str]] = {
    "letters": lambda n: "a" * n,
    "lt_then_spaces": lambda n: "<" + " " * (n - 1),
    "lt_space_run": lambda n: ("< " * (n // 2 + 1))[:n],
    "a_at_run": lambda n: ("a@" * (n // 2 + 1))[:n],
    "digit_run": lambda n: "1" * n,
    "digit_space_run": lambda n: ("1 " * (n // 2 + 1))[:n],
    "phone_like_run": lambda n: ("(555) 123-4567 " * (n // 15 + 1))[:n],
    "phones_run": lambda n: ("+1 (555) 123-4567-" * (n // 18 + 1))[:n],
    "malformed_urls": lambda n: ("http://[x " * (n // 10 + 1))[:n],
}
ATTACK_CHARS = 60_000  # the size that kept the server busy for more than 5 s


@dataclass
class Messaging:
    """A requester with one Toloker who worked for them, and a Toloker client."""

    requester: httpx.Client
    toloker: httpx.Client
    worker: str
    pool_id: str
    admin: Admin


@pytest.fixture
def messaging(
    requester_http: httpx.Client, server_url: str, admin: Admin, db: Database, requester: RequesterInfo
) -> Iterator[Messaging]:
    _, pool_id, (worker,) = crew(db, admin, requester.id, [{}])
    with toloker_client(server_url, admin, worker) as toloker:
        yield Messaging(requester_http, toloker, worker, pool_id, admin)


def _texts(thread: dict[str, Any]) -> list[str]:
    return [m["text"]["EN"] for m in thread["messages"]]


def _assert_sent_everywhere(m: Messaging, text: str, expected_warnings: list[str] | None = None) -> None:
    """Compose (also strict), requester reply and Toloker reply with `text`: each a normal 201."""
    stored = sanitize_html(text)
    sent = m.requester.post(COMPOSE, json=compose_body(text={"EN": text}, recipients_ids=[m.worker]))
    assert sent.status_code == 201, sent.text[:500]
    assert [w["code"] for w in sent.json()["policy_warnings"]] == (expected_warnings or [])
    assert _texts(sent.json()) == [stored]

    strict = m.requester.post(
        COMPOSE,
        json=compose_body(topic={"EN": "strict"}, text={"EN": text + " "}, recipients_ids=[m.worker]),
        params={"strict": "true"},
    )
    assert strict.status_code == (400 if expected_warnings else 201), strict.text[:500]

    replied = m.requester.post(f"{THREADS}/{sent.json()['id']}/reply", json={"text": {"EN": "again: " + text}})
    assert replied.status_code == 201, replied.text[:500]
    assert sanitize_html("again: " + text) in _texts(replied.json())

    answered = m.toloker.post(f"/message-threads/{sent.json()['id']}/reply", json={"text": {"EN": "back: " + text}})
    assert answered.status_code == 201, answered.text[:500]
    assert sanitize_html("back: " + text) in _texts(answered.json())


def test_long_run_of_letters_is_sent_normally(messaging: Messaging) -> None:
    """60 KB of "a" (the old `_EMAIL` re-read the run from each of its starts): 201 everywhere."""
    _assert_sent_everywhere(messaging, PATHOLOGICAL["letters"](ATTACK_CHARS))


def test_lt_followed_by_spaces_is_sent_normally(messaging: Messaging) -> None:
    """A "<" then 60 K spaces (`_TAG`'s two `\\s*` shared the spaces; `_EVENT_ATTR` read to the end): 201."""
    _assert_sent_everywhere(messaging, PATHOLOGICAL["lt_then_spaces"](ATTACK_CHARS))


def test_run_of_lt_space_is_sent_normally(messaging: Messaging) -> None:
    """ "< " repeated to 60 KB (`<[^>]*` read to the end from every "<"): 201 everywhere."""
    _assert_sent_everywhere(messaging, PATHOLOGICAL["lt_space_run"](ATTACK_CHARS))


def test_run_of_a_at_is_sent_normally(messaging: Messaging) -> None:
    """ "a@" repeated to 60 KB (an e-mail attempt at every "@"): 201, and no e-mail is seen."""
    _assert_sent_everywhere(messaging, PATHOLOGICAL["a_at_run"](ATTACK_CHARS))


def test_long_digit_runs_are_sent_normally(messaging: Messaging) -> None:
    """60 KB of digits, of "1 " and of phone-like blocks (the phone and e-mail patterns): 201;
    a run of real phones is still a CONTACT_DETAILS warning (and a 400 in strict mode)."""
    for name in ("digit_run", "digit_space_run", "phone_like_run"):
        _assert_sent_everywhere(messaging, PATHOLOGICAL[name](ATTACK_CHARS))
    _assert_sent_everywhere(messaging, PATHOLOGICAL["phones_run"](ATTACK_CHARS), ["CONTACT_DETAILS"])


def test_malformed_url_is_no_crash(messaging: Messaging) -> None:
    """`http://[x` (urlsplit raises ValueError) in a text, alone or 6,000 times: 201, never a 500."""
    _assert_sent_everywhere(messaging, "See http://[x and https://[::1/project?projectId=1 and http://a]b/x")
    _assert_sent_everywhere(messaging, PATHOLOGICAL["malformed_urls"](ATTACK_CHARS))


def test_realistic_warnings_survive_next_to_a_hostile_text(messaging: Messaging) -> None:
    """A contact detail after 60 KB of letters is still found: the checks got linear, not blind."""
    text = PATHOLOGICAL["letters"](ATTACK_CHARS) + " write to john.doe@example.org or call +44 20 7946 0958"
    sent = messaging.requester.post(COMPOSE, json=compose_body(text={"EN": text}, recipients_ids=[messaging.worker]))

    assert sent.status_code == 201, sent.text[:500]
    assert [(w["code"], w["match"]) for w in sent.json()["policy_warnings"]] == [
        ("CONTACT_DETAILS", "john.doe@example.org"),
        ("CONTACT_DETAILS", "+44 20 7946 0958"),
    ]


# --- limits, enforced by the request model -------------------------------------------------


def _refused(response: httpx.Response, field: str, code: str) -> None:
    assert response.status_code == 400, response.text[:500]
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR"
    assert body["payload"][field]["code"] == code, body["payload"]


def _nothing_sent(m: Messaging) -> None:
    assert m.requester.get(THREADS).json()["items"] == []
    assert m.toloker.get("/message-threads").json()["items"] == []


def test_topic_over_1000_characters_is_refused_naming_the_field(messaging: Messaging) -> None:
    """A 1,001-character topic is a 400 on `topic.EN`; 1,000 characters are sent."""
    over = compose_body(topic={"EN": "t" * 1001}, recipients_ids=[messaging.worker])
    at_limit = compose_body(topic={"EN": "t" * 1000}, recipients_ids=[messaging.worker])

    _refused(messaging.requester.post(COMPOSE, json=over), "topic.EN", "STRING_LENGTH_GREATER_THAN_MAX")
    _nothing_sent(messaging)
    assert messaging.requester.post(COMPOSE, json=at_limit).status_code == 201


def test_text_over_100000_characters_is_refused_wherever_a_text_enters(messaging: Messaging) -> None:
    """100,001 characters: 400 on `text.EN` for compose, both replies and platform messages,
    and on `text` for an appeal; nothing is stored. 100,000 characters are sent."""
    over, at_limit = "x" * 100_001, "y" * 100_000
    m = messaging
    sent = m.requester.post(COMPOSE, json=compose_body(recipients_ids=[m.worker]))
    assert sent.status_code == 201
    (thread,) = m.toloker.get("/message-threads").json()["items"]
    (rejected,) = m.admin.add_assignments(
        [{"user_id": m.worker, "pool_id": m.pool_id, "status": "REJECTED", "submitted": _ago(1), "rejected": _ago(1)}]
    )

    _refused(
        m.requester.post(COMPOSE, json=compose_body(text={"EN": over}, recipients_ids=[m.worker])),
        "text.EN",
        "STRING_LENGTH_GREATER_THAN_MAX",
    )
    _refused(
        m.requester.post(f"{THREADS}/{sent.json()['id']}/reply", json={"text": {"EN": over}}),
        "text.EN",
        "STRING_LENGTH_GREATER_THAN_MAX",
    )
    _refused(
        m.toloker.post(f"/message-threads/{thread['id']}/reply", json={"text": {"EN": over}}),
        "text.EN",
        "STRING_LENGTH_GREATER_THAN_MAX",
    )
    _refused(
        m.toloker.post(f"/assignments/{rejected}/appeal", json={"text": over}), "text", "STRING_LENGTH_GREATER_THAN_MAX"
    )
    _refused(
        m.admin.http.post(
            "/api/admin/v1/messages", json={"topic": {"EN": "t"}, "text": {"EN": over}, "all_requesters": True}
        ),
        "text.EN",
        "STRING_LENGTH_GREATER_THAN_MAX",
    )
    assert len(m.requester.get(THREADS).json()["items"]) == 1
    assert len(m.requester.get(f"{THREADS}/{sent.json()['id']}").json()["messages"]) == 1

    assert (
        m.requester.post(COMPOSE, json=compose_body(text={"EN": at_limit}, recipients_ids=[m.worker])).status_code
        == 201
    )
    assert m.toloker.post(f"/message-threads/{thread['id']}/reply", json={"text": {"EN": at_limit}}).status_code == 201
    assert m.toloker.post(f"/assignments/{rejected}/appeal", json={"text": at_limit}).status_code == 201


def _ago(days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).replace(tzinfo=None).isoformat(timespec="milliseconds")


def _languages(count: int) -> list[str]:
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return [a + b for a in letters for b in letters][:count]


def test_more_than_50_languages_is_refused_naming_the_field(messaging: Messaging) -> None:
    """51 language keys in `text` or `topic` (compose, reply, platform message): 400 on that
    field, nothing sent; 50 languages are sent."""
    m = messaging
    many = dict.fromkeys(_languages(51), "hello")
    fifty = dict.fromkeys(_languages(50), "hello")

    _refused(
        m.requester.post(COMPOSE, json=compose_body(text=many, recipients_ids=[m.worker])),
        "text",
        "ARRAY_SIZE_GREATER_THAN_MAX",
    )
    _refused(
        m.requester.post(COMPOSE, json=compose_body(topic=many, recipients_ids=[m.worker])),
        "topic",
        "ARRAY_SIZE_GREATER_THAN_MAX",
    )
    _refused(
        m.admin.http.post("/api/admin/v1/messages", json={"topic": many, "text": {"EN": "x"}, "all_requesters": True}),
        "topic",
        "ARRAY_SIZE_GREATER_THAN_MAX",
    )
    _nothing_sent(m)
    sent = m.requester.post(COMPOSE, json=compose_body(topic=fifty, text=fifty, recipients_ids=[m.worker]))
    assert sent.status_code == 201, sent.text[:500]
    _refused(
        m.requester.post(f"{THREADS}/{sent.json()['id']}/reply", json={"text": many}),
        "text",
        "ARRAY_SIZE_GREATER_THAN_MAX",
    )
    assert m.requester.post(f"{THREADS}/{sent.json()['id']}/reply", json={"text": fifty}).status_code == 201


def test_language_key_not_in_toloka_form_is_refused_naming_the_field(messaging: Messaging) -> None:
    """A key that is not a Toloka language code ("EN", "RU", "ZH-HANS") is a 400 on `text.<key>`
    or `topic.<key>` (a Cyrillic look-alike included); nothing is sent."""
    m = messaging
    for key in ["en", "English", "E", "EN_US", "EN-", "", " EN", "\u0415N", "EN-ABCDE", "EN-12"]:
        _refused(
            m.requester.post(COMPOSE, json=compose_body(text={"EN": "hi", key: "hi"}, recipients_ids=[m.worker])),
            f"text.{key}",
            "PATTERN_MISMATCH",
        )
        _refused(
            m.requester.post(COMPOSE, json=compose_body(topic={key: "hi"}, recipients_ids=[m.worker])),
            f"topic.{key}",
            "PATTERN_MISMATCH",
        )
    _nothing_sent(m)


def test_toloka_language_codes_are_accepted(messaging: Messaging) -> None:
    """What toloka-kit sends ("EN", "RU", and the region form "ZH-HANS") is a normal 201."""
    m = messaging
    texts = {"EN": "hello", "RU": "привет", "ZH-HANS": "你好"}
    sent = m.requester.post(COMPOSE, json=compose_body(topic=texts, text=texts, recipients_ids=[m.worker]))

    assert sent.status_code == 201, sent.text[:500]
    assert sent.json()["messages"][0]["text"] == texts


# --- keyword search -------------------------------------------------------------------------


def test_search_with_more_than_20_words_is_refused(messaging: Messaging) -> None:
    """`q` with 21 words (or 21 words in one phrase) is a 400 naming `q`; 20 words are searched."""
    m = messaging
    twenty_one = " ".join(f"w{i}" for i in range(21))

    _refused(m.requester.get(THREADS, params={"q": twenty_one}), "q", "ARRAY_SIZE_GREATER_THAN_MAX")
    _refused(m.requester.get(THREADS, params={"q": f'"{twenty_one}"'}), "q", "ARRAY_SIZE_GREATER_THAN_MAX")
    _refused(m.requester.get(THREADS, params={"q": "x" * 201}), "q", "STRING_LENGTH_GREATER_THAN_MAX")
    twenty = m.requester.get(THREADS, params={"q": " ".join(f"w{i}" for i in range(20))})
    assert twenty.status_code == 200, twenty.text
    assert twenty.json()["items"] == []


def test_search_or_is_a_word_not_an_or_chain(messaging: Messaging) -> None:
    """ "apples or pears or ..." must not become an OR query (PostgreSQL's websearch syntax):
    every word must occur, so a thread with "apples" only does not match."""
    m = messaging
    apples = m.requester.post(COMPOSE, json=compose_body(text={"EN": "apples"}, recipients_ids=[m.worker])).json()
    both = m.requester.post(
        COMPOSE, json=compose_body(text={"EN": "apples or pears"}, recipients_ids=[m.worker])
    ).json()

    def found(q: str) -> list[str]:
        response = m.requester.get(THREADS, params={"q": q})
        assert response.status_code == 200, response.text
        return sorted(t["id"] for t in response.json()["items"])

    assert found("apples") == sorted([apples["id"], both["id"]])
    assert found("apples or pears") == [both["id"]]
    assert found("apples or nothing or pears") == []
