"""The "webhook" outbox channel: each subscription's claimed events go out as one signed POST
`{"events": [...]}`, in id order, to the address the SSRF guard checked.

Outcomes: 2xx delivered; 5xx, 429, 408, a timeout or a refused connection retry; any other
answer (4xx, a redirect, which is never followed) fails for good. Every attempt is logged
in `webhook_deliveries`; PAUSE_AFTER failed attempts in a row pause the subscription and
tell its requester in a notification thread.
"""

from __future__ import annotations

import functools
import json
import ssl
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from crowdpost.config import Settings
from crowdpost.db import Database
from crowdpost.kit.ids import format_id
from crowdpost.kit.timefmt import utcnow
from crowdpost.messaging import platform
from crowdpost.outbox.channels import OutboxRow, Outcome
from crowdpost.webhooks import repository, signing, ssrf

CHANNEL = "webhook"
BATCH_SIZE = 100
TIMEOUT_SECONDS = 10.0
PAUSE_AFTER = 100
# An answer's body is read (and discarded) only this far, so the connection can be kept.
DRAIN_BYTES = 64 * 1024
DRAIN_SECONDS = 1.0
_RETRY_STATUSES = frozenset({408, 429})
# Stable event ids: the same outbox row is the same event on every retry.
_EVENT_NAMESPACE = uuid.UUID("6f1c7a52-3d5e-4d0e-9a43-6a1f3c1b9e11")


def event_uuid(row: OutboxRow) -> str:
    return str(uuid.uuid5(_EVENT_NAMESPACE, f"{row.id}:{row.created.isoformat()}"))


def event_body(row: OutboxRow) -> dict[str, Any]:
    return {
        "uuid": event_uuid(row),
        "event_time": row.created.isoformat(timespec="milliseconds"),
        **(row.payload or {}),
        "webhook_subscription_id": format_id(row.ref_id or 0),
        "type": row.kind,
    }


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """httpx's default verifying context, made once: loading the CA bundle costs more than a
    POST to a nearby receiver, and every client of the process can share the result."""
    return httpx.create_ssl_context()


class _Clients:
    """One keep-alive httpx client per checked destination, for the length of one batch: the
    POSTs of many subscriptions to one receiver share its connection. Keyed by the host name
    as well as the pinned address, so a TLS connection made (SNI, certificate) for one name
    never carries another name's events."""

    def __init__(self) -> None:
        self._clients: dict[tuple[str, str, str, int], httpx.Client] = {}

    def __enter__(self) -> _Clients:
        return self

    def __exit__(self, *exc: object) -> None:
        for client in self._clients.values():
            client.close()

    def for_target(self, target: ssrf.Target) -> httpx.Client:
        key = (target.scheme, target.host, str(target.address), target.port)
        client = self._clients.get(key)
        if client is None:
            client = httpx.Client(
                timeout=TIMEOUT_SECONDS, follow_redirects=False, trust_env=False, verify=_tls_context()
            )
            self._clients[key] = client
        return client


@dataclass(frozen=True)
class _Attempt:
    subscription_id: int
    attempted_at: datetime
    status_code: int | None
    latency_ms: int
    error: str | None
    event_count: int
    ok: bool

    def log_row(self) -> dict[str, Any]:
        """The attempt as a `webhook_deliveries` row (every field but `ok`)."""
        row = asdict(self)
        del row["ok"]
        return row


def deliver(db: Database, settings: Settings, rows: Sequence[OutboxRow]) -> Sequence[Outcome]:
    """One read of the batch's subscriptions, one POST per subscription (in id order), then
    every attempt logged in one transaction (a worker killed in between loses the log of that
    batch's attempts, not the events: their rows are not DONE, so they go again)."""
    outcomes: dict[int, Outcome] = {}
    groups: dict[int, list[OutboxRow]] = {}
    for row in rows:
        groups.setdefault(row.ref_id or 0, []).append(row)
    with db.transaction(write=False) as session:
        subscriptions = {
            sub.id: (sub.webhook_url, sub.secret_key, sub.paused)
            for sub in repository.get_subscriptions(session, list(groups))
        }
    attempts: list[_Attempt] = []
    with _Clients() as clients:
        for subscription_id, group in groups.items():
            found = subscriptions.get(subscription_id)
            if found is None:
                outcome = Outcome.fail("the subscription was deleted")
            elif found[2]:
                outcome = Outcome.fail("the subscription is paused")
            else:
                outcome, attempt = _deliver_group(settings, subscription_id, found[0], found[1], group, clients)
                attempts.append(attempt)
            for row in group:
                outcomes[row.id] = outcome
    if attempts:
        _record(db, attempts)
    return [outcomes[row.id] for row in rows]


def _deliver_group(
    settings: Settings, subscription_id: int, url: str, secret: str | None, rows: list[OutboxRow], clients: _Clients
) -> tuple[Outcome, _Attempt]:
    body = json.dumps({"events": [event_body(row) for row in rows]}, separators=(",", ":")).encode()
    started = time.monotonic()
    status_code, outcome = _post(settings, url, secret, body, clients)
    latency_ms = int((time.monotonic() - started) * 1000)
    attempt = _Attempt(subscription_id, utcnow(), status_code, latency_ms, outcome.error, len(rows), outcome.ok)
    return outcome, attempt


def _record(db: Database, attempts: Sequence[_Attempt]) -> None:
    """Successes in two statements; each failure counted (and maybe pausing) on its own."""
    with db.transaction() as session:
        repository.record_successes(session, [a.log_row() for a in attempts if a.ok])
        for attempt in (a for a in attempts if not a.ok):
            paused = repository.record_delivery(session, attempt.log_row(), ok=False, pause_after=PAUSE_AFTER)
            if paused is not None:
                _tell_paused(session, paused.requester_id, paused.id, paused.webhook_url, attempt.error)


def _post(
    settings: Settings, url: str, secret: str | None, body: bytes, clients: _Clients
) -> tuple[int | None, Outcome]:
    try:
        # Again at delivery: the name may resolve elsewhere now (DNS rebinding).
        target = ssrf.check_url(url, allow_private=settings.webhook_allow_private)
    except ssrf.UnsafeUrl as exc:
        return None, Outcome.fail(str(exc))
    headers = {"Content-Type": "application/json", "User-Agent": "crowdpost-webhooks"}
    if secret:
        headers["Toloka-Signature"] = signing.signature_header(secret, body, int(time.time() * 1000))
    pinned, extensions = _pin(url, target, headers)
    client = clients.for_target(target)
    try:
        request = client.build_request("POST", pinned, content=body, headers=headers, extensions=extensions)
        # Only the status matters. A short answer is drained, so its connection serves the next
        # POST; a long or slow one is left unread and its connection dropped.
        response = client.send(request, stream=True)
        try:
            _drain(response)
        finally:
            response.close()
        status = response.status_code
    except httpx.TimeoutException:
        return None, Outcome.retry("timed out")
    except httpx.HTTPError as exc:
        return None, Outcome.retry(f"connection failed: {type(exc).__name__}")
    if 200 <= status < 300:
        return status, Outcome.delivered()
    if status >= 500 or status in _RETRY_STATUSES:
        return status, Outcome.retry(f"HTTP {status}")
    return status, Outcome.fail(f"HTTP {status}")


def _drain(response: httpx.Response) -> None:
    """Reads at most DRAIN_BYTES of the answer, for at most DRAIN_SECONDS, and discards them."""
    deadline = time.monotonic() + DRAIN_SECONDS
    read = 0
    for chunk in response.iter_raw():
        read += len(chunk)
        if read > DRAIN_BYTES or time.monotonic() > deadline:
            return


def _pin(url: str, target: ssrf.Target, headers: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """The URL with the checked address in place of the name (the connection goes exactly
    there), the name kept in Host and, for https, in SNI and certificate checks."""
    parts = urlsplit(url)
    address = f"[{target.address}]" if target.address.version == 6 else str(target.address)
    netloc = f"{address}:{target.port}"
    headers["Host"] = parts.netloc.rpartition("@")[2]
    extensions: dict[str, Any] = {}
    if target.scheme == "https":
        extensions["sni_hostname"] = target.host
    return urlunsplit((target.scheme, netloc, parts.path or "/", parts.query, "")), extensions


def _tell_paused(session: Any, requester_id: int, subscription_id: int, url: str, error: str | None) -> None:
    platform.do_system_thread(
        session,
        requester_id,
        {"EN": "Webhook subscription paused"},
        {
            "EN": (
                f"Webhook subscription {format_id(subscription_id)} to {url} was paused after "
                f"{PAUSE_AFTER} failed deliveries in a row (last error: {error or 'unknown'}). "
                "Fix the receiver, then subscribe again with PUT /webhook-subscriptions to resume it."
            )
        },
    )


def not_ready(settings: Settings) -> str | None:
    return None
