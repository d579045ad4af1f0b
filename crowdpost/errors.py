"""Every error crowdpost returns (`crowdpost.error_responses` renders them on HTTP).

    ApiError                     status, code, message, payload
     ├── ValidationFailed        400 VALIDATION_ERROR (payload: field -> {code, message, params})
     ├── AuthenticationFailed    401 AUTHENTICATION_ERROR
     ├── AccessDenied            403 ACCESS_DENIED
     ├── DoesNotExist            404 DOES_NOT_EXIST
     ├── ConflictState           409 CONFLICT_STATE (and other 409 codes via `code=`)
     ├── PayloadTooLarge         413 PAYLOAD_TOO_LARGE
     ├── UnsupportedMediaType    415 UNSUPPORTED_MEDIA_TYPE
     └── TooManyRequests         429 TOO_MANY_REQUESTS (never with Retry-After: toloka-kit crashes)

The body is always Toloka's `{"request_id", "code", "message", "payload"?}`; toloka-kit
chooses its exception class from `code`, so codes matter more than statuses.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")

FieldErrors = Mapping[str, Any]


class ApiError(Exception):
    status_code = 500
    code = "INTERNAL_ERROR"
    message = "Internal error"

    def __init__(
        self,
        message: str | None = None,
        *,
        payload: Any = None,
        code: str | None = None,
        status_code: int | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        self.message = message or self.message
        self.payload = payload
        if code is not None:
            self.code = code
        if status_code is not None:
            self.status_code = status_code
        # Extra top-level keys some Toloka errors carry next to the standard ones.
        self.extra = dict(extra or {})
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "request_id": request_id_var.get(),
            "code": self.code,
            "message": self.message,
        }
        if self.payload is not None:
            body["payload"] = self.payload
        body.update(self.extra)
        return body


class ValidationFailed(ApiError):
    status_code = 400
    code = "VALIDATION_ERROR"
    message = "Validation failed"

    def __init__(self, fields: FieldErrors, message: str | None = None) -> None:
        super().__init__(message, payload=dict(fields))


class AuthenticationFailed(ApiError):
    status_code = 401
    code = "AUTHENTICATION_ERROR"
    message = "Authentication failed: pass 'Authorization: OAuth <token>' or 'ApiKey <token>'"


class AccessDenied(ApiError):
    status_code = 403
    code = "ACCESS_DENIED"
    message = "Access denied"


class DoesNotExist(ApiError):
    status_code = 404
    code = "DOES_NOT_EXIST"
    message = "Object does not exist"


class ConflictState(ApiError):
    status_code = 409
    code = "CONFLICT_STATE"
    message = "Conflict"


class PayloadTooLarge(ApiError):
    status_code = 413
    code = "PAYLOAD_TOO_LARGE"
    message = "Request body is too large"


class UnsupportedMediaType(ApiError):
    status_code = 415
    code = "UNSUPPORTED_MEDIA_TYPE"
    message = "Request body must be application/json"


class TooManyRequests(ApiError):
    status_code = 429
    code = "TOO_MANY_REQUESTS"
    message = "Too many requests"


def field_error(code: str, message: str, *params: Any) -> dict[str, Any]:
    """One entry of a VALIDATION_ERROR payload."""
    return {"code": code, "message": message, "params": list(params)}


_PYDANTIC_CODES = {
    "missing": "VALUE_REQUIRED",
    "extra_forbidden": "VALUE_NOT_ALLOWED",
    "string_type": "STRING_EXPECTED",
    "int_type": "INTEGER_EXPECTED",
    "int_parsing": "INTEGER_EXPECTED",
    "int_from_float": "INTEGER_EXPECTED",
    "float_type": "FLOAT_EXPECTED",
    "float_parsing": "FLOAT_EXPECTED",
    "decimal_type": "FLOAT_EXPECTED",
    "decimal_parsing": "FLOAT_EXPECTED",
    "bool_type": "BOOLEAN_EXPECTED",
    "bool_parsing": "BOOLEAN_EXPECTED",
    "list_type": "ARRAY_EXPECTED",
    "dict_type": "OBJECT_EXPECTED",
    "model_type": "OBJECT_EXPECTED",
    "model_attributes_type": "OBJECT_EXPECTED",
    "enum": "UNKNOWN_ENUM_VALUE",
    "literal_error": "UNKNOWN_ENUM_VALUE",
    "string_too_long": "STRING_LENGTH_GREATER_THAN_MAX",
    "string_too_short": "STRING_LENGTH_LESS_THAN_MIN",
    "too_long": "ARRAY_SIZE_GREATER_THAN_MAX",
    "too_short": "ARRAY_SIZE_LESS_THAN_MIN",
    "greater_than": "VALUE_LESS_THAN_MIN",
    "greater_than_equal": "VALUE_LESS_THAN_MIN",
    "less_than": "VALUE_GREATER_THAN_MAX",
    "less_than_equal": "VALUE_GREATER_THAN_MAX",
    "datetime_parsing": "INVALID_DATE_TIME_SYNTAX",
    "datetime_type": "INVALID_DATE_TIME_SYNTAX",
    "datetime_from_date_parsing": "INVALID_DATE_TIME_SYNTAX",
    "date_parsing": "INVALID_DATE_SYNTAX",
    "date_from_datetime_parsing": "INVALID_DATE_SYNTAX",
    "json_invalid": "JSON_EXPECTED",
    "string_pattern_mismatch": "PATTERN_MISMATCH",
}

# Location prefixes FastAPI adds that mean nothing to a client.
_LOC_ROOTS = {"body", "query", "path", "header", "cookie"}


def pydantic_field_errors(errors: list[Any], strip_roots: bool = True) -> dict[str, Any]:
    """FastAPI/pydantic errors as Toloka field errors keyed by dotted path."""
    fields: dict[str, Any] = {}
    for err in errors:
        loc = [str(p) for p in err.get("loc", ())]
        if strip_roots and loc and loc[0] in _LOC_ROOTS:
            loc = loc[1:]
        # tagged unions and function validators add type names to the path
        loc = [p for p in loc if not p.startswith("function-") and "[" not in p]
        key = ".".join(loc) or "body"
        if key in fields:
            continue
        ctx = err.get("ctx") or {}
        params = [v for v in ctx.values() if isinstance(v, int | float | str)]
        fields[key] = {
            "code": _PYDANTIC_CODES.get(err.get("type", ""), "INVALID_VALUE"),
            "message": err.get("msg", "invalid value"),
            "params": params,
        }
    return fields
