"""The outermost ASGI layer: request ids, body limits, access logs, metrics, crash barrier.

Written as plain ASGI (not BaseHTTPMiddleware) so the request-id context variable is
visible to the error handlers and the body is read once.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crowdpost.errors import ApiError, PayloadTooLarge, request_id_var
from crowdpost.kit.jsonwire import dumps

access_log = logging.getLogger("crowdpost.access")
error_log = logging.getLogger("crowdpost.errors")

REQUESTS = Counter("crowdpost_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "crowdpost_http_request_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def new_request_id() -> str:
    return uuid.uuid4().hex


def _route_label(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status_holder = {"status": 500, "sent": False}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                status_holder["sent"] = True
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"retry-after"]
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            body_receive = await self._bounded_receive(scope, receive)
            await self.app(scope, body_receive, send_wrapper)
        except ApiError as exc:
            if not status_holder["sent"]:
                await _send_error(send_wrapper, exc)
        except Exception as exc:
            error_log.exception("unhandled error", extra={"request_id": request_id}, exc_info=exc)
            if not status_holder["sent"]:
                await _send_error(send_wrapper, ApiError())
        finally:
            elapsed = time.perf_counter() - started
            route = _route_label(scope)
            status = status_holder["status"]
            REQUESTS.labels(scope["method"], route, str(status)).inc()
            LATENCY.labels(scope["method"], route).observe(elapsed)
            access_log.info(
                "%s %s %s",
                scope["method"],
                scope["path"],
                status,
                extra={
                    "request_id": request_id,
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )
            request_id_var.reset(token)

    async def _bounded_receive(self, scope: Scope, receive: Receive) -> Receive:
        """Read the whole body up front (it is parsed whole anyway), refusing oversize ones."""
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > self.max_body_bytes:
                    raise PayloadTooLarge(f"Request body exceeds {self.max_body_bytes} bytes")
        chunks: list[bytes] = []
        size = 0
        more = True
        disconnect: Message | None = None
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                disconnect = message
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise PayloadTooLarge(f"Request body exceeds {self.max_body_bytes} bytes")
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                if disconnect is not None:
                    return disconnect
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replay


async def _send_error(send: Send, exc: ApiError) -> None:
    payload: Any = dumps(exc.body())
    await send(
        {
            "type": "http.response.start",
            "status": exc.status_code,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
