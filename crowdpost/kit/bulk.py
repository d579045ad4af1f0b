"""Bulk input: validate every item first, report errors by index, write nothing if any fail."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crowdpost.errors import PayloadTooLarge, ValidationFailed, field_error, pydantic_field_errors

M = TypeVar("M", bound=BaseModel)


def validate_items(model: type[M], raw: Any, max_items: int) -> list[M]:
    """Parse a JSON list of objects; ValidationFailed with `{"<index>": {field: error}}`."""
    if not isinstance(raw, list):
        raise ValidationFailed({"body": field_error("ARRAY_EXPECTED", "body must be a JSON array")})
    if not raw:
        raise ValidationFailed({"body": field_error("ARRAY_SIZE_LESS_THAN_MIN", "the list is empty", 1)})
    if len(raw) > max_items:
        raise PayloadTooLarge(f"at most {max_items} items per request, got {len(raw)}")
    parsed: list[M] = []
    errors: dict[str, Any] = {}
    for index, item in enumerate(raw):
        try:
            parsed.append(model.model_validate(item))
        except ValidationError as exc:
            errors[str(index)] = pydantic_field_errors(list(exc.errors()), strip_roots=False)
    if errors:
        raise ValidationFailed(errors, f"{len(errors)} of {len(raw)} items are invalid; nothing was written")
    return parsed


def add_item_errors(errors: dict[str, Any], index: int, field: str, error: dict[str, Any]) -> None:
    errors.setdefault(str(index), {})[field] = error


def upsert(session: Session, model: type[Any]) -> Any:
    """A dialect INSERT that supports `on_conflict_do_update/nothing` on SQLite and PostgreSQL."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(model)
    return sqlite.insert(model)


def chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
