"""How an operation looks on the API."""

from __future__ import annotations

from typing import Any

from crowdpost.kit.schemas import with_set
from crowdpost.models import Operation


def operation_view(operation: Operation) -> dict[str, Any]:
    """Toloka's Operation JSON; `type` is always present (toloka-kit picks the class by it)."""
    view: dict[str, Any] = {
        "id": operation.public_id,
        "type": operation.type,
        "status": operation.status,
        "submitted": operation.submitted,
        "progress": operation.progress,
        "parameters": operation.parameters,
        "details": operation.details,
    }
    return with_set(view, started=operation.started, finished=operation.finished)
