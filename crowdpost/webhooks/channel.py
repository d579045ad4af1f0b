"""The "webhook" outbox channel: each subscription's claimed events go out as one signed POST
`{"events": [...]}`, in id order, to the address the SSRF guard checked.

Outcomes: 2xx delivered; 5xx, 429, 408, a timeout or a refused connection retry; any other
answer (4xx, a redirect, which is never followed) fails for good. Every attempt is logged
in `webhook_deliveries`; PAUSE_AFTER failed attempts in a row pause the subscription and
tell its requester in a notification thread.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from crowdpost.config import Settings
from crowdpost.db import Database
from crowdpost.kit.ids import format_id
from crowdpost.kit.timefmt import utcnow
from crowdpost.messaging import platform
from crowdpost.outbox.channels import OutboxRow, Outcome

from . import repository, signing, ssrf

CHANNEL = "webhook"
BATCH_SIZE = 100
TIMEOUT_SECONDS = 10.0
PAUSE_AFTER = 100
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


def deliver(db: Database, settings: Settings, rows: Sequence[OutboxRow]) -> Sequence[Outcome]:
    outcomes: dict[int, Outcome] = {}
    groups: dict[int, list[OutboxRow]] = {}
    for row in rows:
        groups.setdefault(row.ref_id or 0, []).append(row)
    for subscription_id, group in groups.items():
        outcome = _deliver_group(db, settings, subscription_id, group)
        for row in group:
            outcomes[row.id] = outcome
    return [outcomes[row.id] for row in rows]


def _deliver_group(db: Database, settings: Settings, subscription_id: int, rows: list[OutboxRow]) -> Outcome:
    with db.transaction(write=False) as session:
        sub = repository.get_subscription(session, subscription_id)
        if sub is None:
            return Outcome.fail("the subscription was deleted")
        if sub.paused:
            return Outcome.fail("the subscription is paused")
        url, secret = sub.webhook_url, sub.secret_key
    body = json.dumps({"events": [event_body(row) for row in rows]}, separators=(",", ":")).encode()
    started = time.monotonic()
    status_code, outcome = _post(settings, url, secret, body)
    latency_ms = int((time.monotonic() - started) * 1000)
    with db.transaction() as session:
        paused = repository.record_delivery(
            session,
            subscription_id,
            attempted_at=utcnow(),
            status_code=status_code,
            latency_ms=latency_ms,
            error=outcome.error,
            event_count=len(rows),
            ok=outcome.ok,
            pause_after=PAUSE_AFTER,
        )
        if paused is not None:
            _tell_paused(session, paused.requester_id, paused.id, paused.webhook_url, outcome.error)
    return outcome


def _post(settings: Settings, url: str, secret: str | None, body: bytes) -> tuple[int | None, Outcome]:
    try:
        # Again at delivery: the name may resolve elsewhere now (DNS rebinding).
        target = ssrf.check_url(url, allow_private=settings.webhook_allow_private)
    except ssrf.UnsafeUrl as exc:
        return None, Outcome.fail(str(exc))
    headers = {"Content-Type": "application/json", "User-Agent": "crowdpost-webhooks"}
    if secret:
        headers["Toloka-Signature"] = signing.signature_header(secret, body, int(time.time() * 1000))
    pinned, extensions = _pin(url, target, headers)
    try:
        with httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False, trust_env=False) as client:
            request = client.build_request("POST", pinned, content=body, headers=headers, extensions=extensions)
            # The answer's body is never read: only its status matters, and it may be large.
            response = client.send(request, stream=True)
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
