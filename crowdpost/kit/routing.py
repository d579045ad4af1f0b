"""The APIRoute every JSON API router uses.

- Request bodies are parsed with `kit.jsonwire.loads`: Decimal numbers, UTF-8 only,
  and malformed input becomes a 400 VALIDATION_ERROR instead of a generic error.
- A body with a content type other than JSON is refused with 415.
- Decoded bodies, query and path parameters pass `kit.wirecheck` (NUL, lone surrogates,
  nesting, absurd numbers): a 400 naming the path, the same on every backend.
"""

from __future__ import annotations

import email.message
import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from crowdpost.error_responses import BodyRejected
from crowdpost.errors import UnsupportedMediaType, ValidationFailed
from crowdpost.kit.jsonwire import JsonBodyError, loads
from crowdpost.kit.wirecheck import body_may_hold_unstorable, check_body, check_params


def json_body(schema: dict[str, Any]) -> dict[str, Any]:
    """`openapi_extra` that documents the JSON request body of an endpoint reading it as
    `Body(...)` of Any (and validating it itself): its schema in /openapi.json."""
    return {"requestBody": {"content": {"application/json": {"schema": schema}}}}


class _WireRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                self._json = loads(body)
            except JsonBodyError as exc:
                # FastAPI turns JSONDecodeError into a RequestValidationError (-> 400).
                raise json.JSONDecodeError(str(exc), body.decode("utf-8", "replace")[:200], 0) from exc
            try:
                check_body(self._json, strings=body_may_hold_unstorable(body))
            except ValidationFailed as exc:
                del self._json
                raise BodyRejected(exc) from exc
        return self._json


def _is_json(content_type: str) -> bool:
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json"))


class WireRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        expects_body = self.body_field is not None

        async def route_handler(request: Request) -> Response:
            wire_request = _WireRequest(request.scope, request.receive)
            check_params([*request.query_params.multi_items(), *request.path_params.items()])
            if expects_body and request.method in ("POST", "PUT", "PATCH"):
                content_type = request.headers.get("content-type")
                if content_type and not _is_json(content_type) and await wire_request.body():
                    raise UnsupportedMediaType(f"Content-Type {content_type!r} is not supported; send application/json")
            return await handler(wire_request)

        return route_handler
