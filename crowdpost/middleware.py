"""The outermost ASGI layer: request ids, early authentication, body limits, access logs,
metrics, crash barrier.

Written as plain ASGI (not BaseHTTPMiddleware) so the request-id context variable is
visible to the error handlers and the body is read once.

Order, before any body byte is received:
1. a method outside the standard set -> 405 METHOD_NOT_ALLOWED;
2. an API request (`/api/...`) that carries a body is authenticated: a missing, malformed,
   unknown or revoked token -> 401 AUTHENTICATION_ERROR, and the body is never read
   (uvicorn buffers at most 64 KiB of it, then discards the rest unparsed);
3. a declared Content-Length over the cap -> 413 PAYLOAD_TOO_LARGE;
4. the body is read, counting the bytes received (chunked uploads too), and refused with
   413 as soon as it passes the cap.
The cap is `max_body_bytes` for the API and the lower `max_page_body_bytes` for pages, whose
forms (the sign-in form among them) anyone may post.
`POST /rewards/file` (a CSV upload) has its own, `max_bonus_file_bytes`, still checked before reading.
The route's own dependencies still run afterwards (403 for a token of another role).
API requests without a body (GET, DELETE) are left to those dependencies: a second token
lookup would buy nothing there, and an unknown path stays a 404.

Metric labels come from fixed sets: the standard methods plus `other`; the matched route
template plus `unmatched`; the HTTP status.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from prometheus_client import Counter, Histogram
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crowdpost.accounts.auth import authenticate_in_own_transaction
from crowdpost.accounts.tokens import parse_authorization
from crowdpost.errors import ApiError, AuthenticationFailed, PayloadTooLarge, request_id_var
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

STANDARD_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "other"
UNMATCHED_ROUTE = "unmatched"
# The three API namespaces (/api/v1, /api/toloker/v1, /api/admin/v1) and any future one.
API_PREFIX = "/api/"
# The page that takes an uploaded bonus CSV: its own cap, `max_bonus_file_bytes`.
BONUS_FILE_PATH = "/rewards/file"


def new_request_id() -> str:
    return uuid.uuid4().hex


def _method_label(method: str) -> str:
    return method if method in STANDARD_METHODS else OTHER_METHOD


def _route_label(scope: Scope) -> str:
    """The template of the route that matched (`/api/v1/user-bonuses/{bonus_id}`), else `unmatched`.

    FastAPI >= 0.16x keeps included routers nested: `scope["route"]` is then the route as
    declared in its router, without the prefix, so the full template is taken from the
    effective route FastAPI records, when there is one. Either way it is a template from
    the app's own routes, never text from the request.
    """
    effective = (scope.get("fastapi") or {}).get("effective_route_context")
    path = getattr(effective, "path_format", None) or getattr(scope.get("route"), "path", None)
    return str(path) if path else UNMATCHED_ROUTE


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value)
    return None


def _has_body(scope: Scope) -> bool:
    """Whether the request declares a body: a non-zero Content-Length, or any Transfer-Encoding."""
    if _header(scope, b"transfer-encoding") is not None:
        return True
    length = _header(scope, b"content-length")
    if length is None:
        return False
    return length.strip() not in (b"0", b"")


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int, max_page_body_bytes: int | None = None) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_page_body_bytes = max_body_bytes if max_page_body_bytes is None else max_page_body_bytes

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
            if scope["method"] not in STANDARD_METHODS:
                raise ApiError(
                    f"Method {scope['method']} is not allowed on {scope['path']}",
                    code="METHOD_NOT_ALLOWED",
                    status_code=405,
                )
            if scope["path"].startswith(API_PREFIX) and _has_body(scope):
                await self._authenticate(scope)
            is_api = scope["path"].startswith(API_PREFIX)
            cap = self.max_body_bytes if is_api else min(self.max_body_bytes, self.max_page_body_bytes)
            if scope["method"] == "POST" and scope["path"] == BONUS_FILE_PATH:
                # The one page form that uploads a big file (a CSV of up to 100,000 bonuses).
                cap = scope["app"].state.settings.max_bonus_file_bytes
            body_receive = await self._bounded_receive(scope, receive, cap)
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
            method = _method_label(scope["method"])
            route = _route_label(scope)
            status = status_holder["status"]
            REQUESTS.labels(method, route, str(status)).inc()
            LATENCY.labels(method, route).observe(elapsed)
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

    async def _authenticate(self, scope: Scope) -> None:
        """Raises AuthenticationFailed unless the `Authorization` header names a live token.

        Nothing has been received yet. A missing or malformed header is refused without a
        thread or a query; otherwise one indexed lookup in a read transaction of its own.
        """
        raw = _header(scope, b"authorization")
        authorization = raw.decode("latin-1") if raw is not None else None
        if parse_authorization(authorization) is None:
            raise AuthenticationFailed()
        state = scope["app"].state
        await run_in_threadpool(authenticate_in_own_transaction, state.db, state.settings, authorization)

    async def _bounded_receive(self, scope: Scope, receive: Receive, cap: int) -> Receive:
        """Read the whole body up front (it is parsed whole anyway), refusing oversize ones.

        The cap counts the bytes received, whatever Content-Length says (or when there is
        none: chunked uploads): reading stops at the first chunk past the cap. The body is
        gathered in one bytearray, and handed on as one `bytes` (the bytearray is dropped
        at once, so it exists twice only during that copy).
        """
        declared_raw = _header(scope, b"content-length")
        if declared_raw is not None:
            try:
                declared = int(declared_raw)
            except ValueError:
                declared = -1
            if declared > cap:
                raise PayloadTooLarge(f"Request body exceeds {cap} bytes")
        buffer = bytearray()
        more = True
        disconnect: Message | None = None
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                disconnect = message
                break
            chunk = message.get("body", b"")
            if len(buffer) + len(chunk) > cap:
                raise PayloadTooLarge(f"Request body exceeds {cap} bytes")
            buffer += chunk
            more = message.get("more_body", False)
        body = bytes(buffer)
        del buffer
        delivered = False

        async def replay() -> Message:
            nonlocal delivered, body
            if not delivered:
                delivered = True
                if disconnect is not None:
                    return disconnect
                message: Message = {"type": "http.request", "body": body, "more_body": False}
                body = b""  # the request now holds the only reference
                return message
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
