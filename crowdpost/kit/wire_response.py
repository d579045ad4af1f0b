"""The JSON response every API handler answers with (`kit.jsonwire` renders it)."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

from crowdpost.kit.jsonwire import dumps


class WireJSONResponse(JSONResponse):
    """Renders models and dicts with exact decimals and Toloka datetimes."""

    def render(self, content: Any) -> bytes:
        return dumps(content)


def wire(content: Any, status_code: int = 200) -> WireJSONResponse:
    """The response for a handler: a model (None fields dropped), a list or a dict."""
    return WireJSONResponse(content, status_code=status_code)
