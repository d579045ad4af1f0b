"""Security headers on every page and static file (the API's JSON answers keep their own).

`default-src 'self'` allows no inline script or style and no other host: the pages load only
their own CSS, htmx and small scripts from /static. `form-action 'self'` keeps a planted form
from posting elsewhere; `frame-ancestors 'none'` stops clickjacking.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crowdpost.web.errors import error_page

log = logging.getLogger("crowdpost.errors")

CSP = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"
PAGE_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
# Pages show private data: never stored by a shared cache or the back/forward cache of
# another user's browser session.
NO_STORE = (b"cache-control", b"no-store")
SKIPPED_PREFIXES = ("/api/", "/docs", "/redoc", "/openapi.json", "/metrics", "/healthz", "/readyz")


class PageHeadersMiddleware:
    """Adds the page headers; and a page whose handler crashed gets the HTML 500 page (the
    outer middleware would answer the API's JSON body): logged, never a stack trace."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if scope["type"] != "http" or path.startswith(SKIPPED_PREFIXES):
            await self.app(scope, receive, send)
            return
        is_static = path.startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {key.lower() for key, _ in headers}
                headers.extend(item for item in PAGE_HEADERS if item[0] not in present)
                if not is_static and b"cache-control" not in present:
                    headers.append(NO_STORE)
                message = {**message, "headers": headers}
            await send(message)

        started = False

        async def send_tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send_with_headers(message)

        try:
            await self.app(scope, receive, send_tracked)
        except Exception as exc:
            if started or is_static:
                raise
            log.exception("unhandled error on %s %s", scope.get("method"), path, exc_info=exc)
            response = error_page(
                Request(scope), 500, "The server could not finish this. Nothing was changed; try again."
            )
            await response(scope, receive, send_with_headers)
