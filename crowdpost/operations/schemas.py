"""Wire models of operations (for the OpenAPI document; handlers return plain dicts)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from crowdpost.kit.schemas import ListPage, WireDateTime


class OperationView(BaseModel):
    """Toloka's Operation. Bonus operations: `parameters.skip_invalid_items` and `details`
    with total/valid/not_valid/success/failed counts."""

    id: str
    type: str
    status: str
    submitted: WireDateTime
    started: WireDateTime | None = None
    finished: WireDateTime | None = None
    progress: int
    parameters: dict[str, Any]
    details: dict[str, Any]


class OperationPage(ListPage[OperationView]):
    pass


class OperationLogEntry(BaseModel):
    """One input item: `input` as sent (with `__item_idx` when given), `output` the result
    (`{"user_bonus_id": "..."}`) or the item's field errors."""

    type: str
    success: bool
    input: Any
    output: dict[str, Any]
