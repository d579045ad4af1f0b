"""One client process of the chaos test: it pays, starts operations, sends, replies and pages
until its deadline, retrying like toloka-kit, and writes what it was told to a JSON file.

A request is sent again, unchanged (same body, same operation_id), after a connection error,
a timeout, a 5xx, a 408 or a 429, as toloka-kit's retry policy does; each try goes to the next
API process, as a load balancer would send it. Unlike toloka-kit it does not give up after a
few tries (only after `GIVE_UP_SECONDS`), so almost every request ends with an answer to check.

`time.monotonic()` is one clock for every process on Linux: a row confirmed (its 2xx read)
before another process's read began was committed before that read.
"""

from __future__ import annotations

import itertools
import json
import random
import time
import uuid
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import simplejson

RETRY_STATUSES = {408, 429, 500, 502, 503, 504}
REQUEST_TIMEOUT = 30.0
GIVE_UP_SECONDS = 120.0


@dataclass
class ClientPlan:
    number: int
    urls: list[str]
    requester_token: str
    toloker_id: str
    toloker_token: str
    tolokers: list[str]
    countries: list[str]
    deadline: float  # time.monotonic()
    out: str
    seed: int


@dataclass
class Record:
    """What one client sent and was told."""

    requests: int = 0
    retries: int = 0
    gave_up: int = 0
    # why tries were repeated: an HTTP status, or the exception's class name
    retry_causes: dict[str, int] = field(default_factory=dict)
    # sync bonuses: [operation_id, [private comments], status, [bonus ids], confirmed_at]
    sync: list[list[Any]] = field(default_factory=list)
    # async operations: [operation_id, [private comments], status, code]
    operations: list[list[Any]] = field(default_factory=list)
    # composes: [marker, country, status, thread id or None]
    composes: list[list[Any]] = field(default_factory=list)
    # replies: [marker, status]
    replies: list[list[Any]] = field(default_factory=list)
    # paging passes: [started_at, [ids in the order seen]]
    passes: list[list[Any]] = field(default_factory=list)


class Client:
    def __init__(self, plan: ClientPlan) -> None:
        self.plan = plan
        self.record = Record()
        self.rng = random.Random(plan.seed)
        self._next = itertools.cycle(range(len(plan.urls)))
        for _ in range(plan.number % len(plan.urls)):
            next(self._next)
        self.http = httpx.Client(timeout=REQUEST_TIMEOUT)

    def send(self, method: str, path: str, token: str, body: Any = None, **params: Any) -> tuple[int, Any]:
        """(status, JSON body) of the first answer that is not worth retrying; (0, None) when
        it gave up."""
        content = None if body is None else simplejson.dumps(body, use_decimal=True)
        headers = {"Authorization": f"OAuth {token}", "Content-Type": "application/json"}
        started = time.monotonic()
        first = True
        while True:
            self.record.requests += 1
            if not first:
                self.record.retries += 1
            first = False
            url = self.plan.urls[next(self._next)] + path
            try:
                response = self.http.request(method, url, content=content, headers=headers, params=params)
            except httpx.HTTPError as exc:
                cause = type(exc).__name__
            else:
                if response.status_code not in RETRY_STATUSES:
                    body = simplejson.loads(response.content, use_decimal=True) if response.content else None
                    return response.status_code, body
                cause = str(response.status_code)
            self.record.retry_causes[cause] = self.record.retry_causes.get(cause, 0) + 1
            if time.monotonic() - started > GIVE_UP_SECONDS:
                self.record.gave_up += 1
                return 0, None
            time.sleep(0.05 + self.rng.random() * 0.1)

    def pay_sync(self) -> None:
        operation_id = str(uuid.uuid4())
        items = [
            {
                "user_id": self.rng.choice(self.plan.tolokers),
                "amount": Decimal("0.013"),
                "public_title": {"EN": "Thanks"},
                "public_message": {"EN": "Good work"},
                "private_comment": f"sync {operation_id} {n}",
            }
            for n in range(self.rng.randint(1, 3))
        ]
        status, body = self.send(
            "POST", "/api/v1/user-bonuses", self.plan.requester_token, items, operation_id=operation_id
        )
        confirmed = time.monotonic()
        ids = [item["id"] for item in body["items"].values()] if status == 201 else []
        self.record.sync.append([operation_id, [i["private_comment"] for i in items], status, ids, confirmed])

    def start_operation(self) -> None:
        operation_id = str(uuid.uuid4())
        items = [
            {
                "user_id": self.plan.tolokers[n % len(self.plan.tolokers)],
                "amount": Decimal("0.011"),
                "public_title": {"EN": "Batch"},
                "public_message": {"EN": "Thanks for the batch"},
                "private_comment": f"async {operation_id} {n}",
            }
            for n in range(120)
        ]
        status, body = self.send(
            "POST",
            "/api/v1/user-bonuses",
            self.plan.requester_token,
            items,
            async_mode="true",
            skip_invalid_items="true",
            operation_id=operation_id,
        )
        code = body.get("code") if isinstance(body, dict) else None
        self.record.operations.append([operation_id, [i["private_comment"] for i in items], status, code])

    def compose(self) -> None:
        marker = f"chaos {uuid.uuid4()}"
        country = self.rng.choice(self.plan.countries)
        body = {
            "recipients_select_type": "FILTER",
            "topic": {"EN": marker},
            "text": {"EN": f"News for {country}: {marker}"},
            "answerable": True,
            "recipients_filter": {
                "and": [{"category": "profile", "key": "country", "operator": "EQ", "value": country}]
            },
        }
        status, answer = self.send("POST", "/api/v1/message-threads/compose", self.plan.requester_token, body)
        thread_id = answer.get("id") if status in (200, 201) and isinstance(answer, dict) else None
        self.record.composes.append([marker, country, status, thread_id])

    def reply(self) -> None:
        status, inbox = self.send(
            "GET", "/api/toloker/v1/message-threads", self.plan.toloker_token, limit=20, sort="-id"
        )
        if status != 200:
            return
        answerable = [t for t in inbox["items"] if t.get("answerable")]
        if not answerable:
            return
        marker = f"reply {uuid.uuid4()}"
        thread = self.rng.choice(answerable)
        status, _ = self.send(
            "POST",
            f"/api/toloker/v1/message-threads/{thread['id']}/reply",
            self.plan.toloker_token,
            {"text": {"EN": marker}},
        )
        self.record.replies.append([marker, status])

    def page(self) -> None:
        started = time.monotonic()
        seen: list[str] = []
        last: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 300, "sort": "id"}
            if last is not None:
                params["id_gt"] = last
            status, body = self.send("GET", "/api/v1/user-bonuses", self.plan.requester_token, **params)
            if status != 200:
                return  # gave up: no pass to check
            seen.extend(item["id"] for item in body["items"])
            if not body["has_more"] or not body["items"]:
                break
            last = body["items"][-1]["id"]
        self.record.passes.append([started, seen])

    def run(self) -> None:
        actions = [self.pay_sync] * 6 + [self.start_operation, self.compose, self.reply, self.page, self.page]
        try:
            while time.monotonic() < self.plan.deadline:
                self.rng.choice(actions)()
        finally:
            self.http.close()
            Path(self.plan.out).write_text(json.dumps(asdict(self.record)))


def main(plan: ClientPlan) -> None:
    """The process's target (spawned: everything it needs comes in `plan`)."""
    Client(plan).run()
