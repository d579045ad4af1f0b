"""The one place that turns errors into Toloka's error bodies on HTTP.

`crowdpost.errors` declares the errors and knows no HTTP; this module maps them, FastAPI's
validation errors, Starlette's HTTP errors and anything unexpected to
`{"request_id", "code", "message", "payload"?}` with the error's status.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from crowdpost.errors import (
    AccessDenied,
    ApiError,
    AuthenticationFailed,
    DoesNotExist,
    PayloadTooLarge,
    TooManyRequests,
    UnsupportedMediaType,
    ValidationFailed,
    field_error,
    pydantic_field_errors,
)
from crowdpost.kit.timefmt import DateOutOfRange
from crowdpost.kit.wire_response import WireJSONResponse

log = logging.getLogger("crowdpost.errors")


class BodyRejected(StarletteHTTPException):
    """Carries an ApiError out of body decoding, where FastAPI lets only HTTPException through
    (anything else becomes a bare "There was an error parsing the body")."""

    def __init__(self, error: ApiError) -> None:
        super().__init__(error.status_code, error.message)
        self.error = error


def render(exc: ApiError) -> WireJSONResponse:
    # Never a Retry-After: toloka-kit 1.2.3 crashes on it instead of retrying.
    return WireJSONResponse(exc.body(), status_code=exc.status_code)


_STATUS_ERRORS: dict[int, type[ApiError]] = {
    401: AuthenticationFailed,
    403: AccessDenied,
    404: DoesNotExist,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    429: TooManyRequests,
}


async def _api_error_handler(_: Request, exc: Exception) -> WireJSONResponse:
    assert isinstance(exc, ApiError)
    return render(exc)


async def _validation_handler(_: Request, exc: Exception) -> WireJSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    for err in errors:
        if err.get("type") == "json_invalid":
            reason = str((err.get("ctx") or {}).get("error", "malformed JSON"))
            return render(
                ValidationFailed({"body": field_error("JSON_EXPECTED", reason)}, f"Body is not valid JSON: {reason}")
            )
    return render(ValidationFailed(pydantic_field_errors(errors)))


async def _http_handler(request: Request, exc: Exception) -> WireJSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    if status == 404:
        return render(DoesNotExist(f"No route {request.method} {request.url.path}"))
    if status == 405:
        return render(
            ApiError(
                f"Method {request.method} is not allowed on {request.url.path}",
                code="METHOD_NOT_ALLOWED",
                status_code=405,
            )
        )
    cls = _STATUS_ERRORS.get(status)
    if cls is not None:
        return render(cls(str(exc.detail) if exc.detail else None))
    if status == 400:
        return render(ValidationFailed({}, str(exc.detail)))
    return render(ApiError(str(exc.detail), code="INTERNAL_ERROR" if status >= 500 else "ERROR", status_code=status))


async def _body_rejected_handler(_: Request, exc: Exception) -> WireJSONResponse:
    assert isinstance(exc, BodyRejected)
    return render(exc.error)


async def _date_out_of_range_handler(_: Request, exc: Exception) -> WireJSONResponse:
    assert isinstance(exc, DateOutOfRange)
    return render(ValidationFailed({exc.field or "datetime": field_error("DATE_OUT_OF_RANGE", str(exc))}))


async def _unexpected_handler(request: Request, exc: Exception) -> WireJSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return render(ApiError())


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_handler)
    app.add_exception_handler(BodyRejected, _body_rejected_handler)
    app.add_exception_handler(DateOutOfRange, _date_out_of_range_handler)
    app.add_exception_handler(Exception, _unexpected_handler)
