"""Errors on pages are pages: the same exceptions the API renders as Toloka error bodies
become an HTML page (404, 403...) or a redirect to /sign-in; never a stack trace.

The app's API handlers stay as they are; `install_page_errors` wraps each one so that a
request for a page (anything outside the API and operability paths) gets HTML instead.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import RedirectResponse, Response

from crowdpost.errors import ApiError
from crowdpost.web.session import CsrfRefused, SignInRequired, sign_in_url
from crowdpost.web.templating import is_htmx, render

log = logging.getLogger("crowdpost.errors")

# Paths that are not pages: their errors keep the API's JSON bodies.
NON_PAGE_PREFIXES = ("/api/", "/static/", "/healthz", "/readyz", "/metrics", "/docs", "/redoc", "/openapi.json")

TITLES = {
    400: "That did not work",
    403: "Not allowed",
    404: "Page not found",
    405: "Not allowed",
    413: "Too large",
    429: "Too many requests",
}

Handler = Callable[[Request, Exception], Awaitable[Response]]


def is_page_request(request: Request) -> bool:
    return not request.url.path.startswith(NON_PAGE_PREFIXES)


def error_page(request: Request, status: int, message: str) -> Response:
    title = TITLES.get(status, "Something went wrong")
    return render(request, "error.html", {"status": status, "title": title, "message": message}, status_code=status)


def _page_answer(request: Request, exc: Exception) -> Response:
    if isinstance(exc, SignInRequired):
        # The operator pages send to their own sign-in (web.admin.operator_session).
        target = getattr(exc, "redirect_to", None) or sign_in_url(exc.next_url)
        if is_htmx(request):
            return Response(status_code=204, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)
    if isinstance(exc, CsrfRefused):
        return error_page(
            request,
            403,
            "This form has expired or did not come from this site. Go back, reload the page, and try again.",
        )
    if isinstance(exc, ApiError):
        status = exc.status_code
        if status == 404:
            return error_page(request, 404, "There is nothing here, or it is not yours.")
        if status >= 500:
            return error_page(request, 500, "The server could not finish this. Nothing was changed; try again.")
        return error_page(request, status, exc.message)
    if isinstance(exc, StarletteHTTPException):
        status = exc.status_code
        message = "There is nothing at this address." if status == 404 else str(exc.detail)
        return error_page(request, status, message)
    if isinstance(exc, RequestValidationError):
        return error_page(request, 400, "Some fields of this form are missing or malformed.")
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_page(request, 500, "The server could not finish this. Nothing was changed; try again.")


def _for_pages(api_handler: Handler | None) -> Handler:
    async def handle(request: Request, exc: Exception) -> Response:
        if is_page_request(request) or api_handler is None:
            return _page_answer(request, exc)
        return await api_handler(request, exc)

    return handle


def install_page_errors(app: FastAPI) -> None:
    handlers: dict[Any, Handler] = dict(app.exception_handlers)
    wrapped: tuple[type[Exception], ...] = (ApiError, RequestValidationError, StarletteHTTPException, Exception)
    for exc_class in wrapped:
        app.add_exception_handler(exc_class, _for_pages(handlers.get(exc_class)))
    for page_only in (SignInRequired, CsrfRefused):
        app.add_exception_handler(page_only, _for_pages(None))
