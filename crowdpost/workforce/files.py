"""Reading Toloker and assignment files for `crowdpost admin import-*`: CSV or JSON lines.

Every row is validated before anything is written; errors carry the file's line number.
An input parser of the CLI interface (like an endpoint, it hands what it read to
`service.imports`), so it sits beside `endpoints/`, not in the service.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from crowdpost.errors import pydantic_field_errors

M = TypeVar("M", bound=BaseModel)

_LIST_FIELDS = {"languages"}
_BOOL_WORDS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}


@dataclass
class RowError:
    line: int
    problems: dict[str, Any]

    def describe(self) -> str:
        parts = [f"{field}: {err.get('message', err)}" for field, err in self.problems.items()]
        return f"line {self.line}: " + "; ".join(parts)


def _csv_value(field: str, raw: str) -> Any:
    value = raw.strip()
    if value == "":
        return None
    if field in _LIST_FIELDS:
        return [part.strip() for part in value.replace(";", ",").split(",") if part.strip()]
    if value.lower() in _BOOL_WORDS and field in ("adult_allowed", "verified"):
        return _BOOL_WORDS[value.lower()]
    if field in ("city", "region_by_phone", "region_by_ip") and value.isdigit():
        return int(value)
    return value


def _rows(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, raw object) pairs; a JSON-lines file or a CSV with a header row."""
    with path.open(encoding="utf-8", newline="") as handle:
        first = handle.readline()
        handle.seek(0)
        if first.lstrip().startswith("{"):
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    try:
                        yield number, json.loads(line, parse_float=Decimal)
                    except json.JSONDecodeError as exc:
                        yield number, _Malformed(f"malformed JSON: {exc.msg}")
            return
        reader = csv.DictReader(handle)
        for record in reader:
            yield reader.line_num, {k: _csv_value(k, v or "") for k, v in record.items() if k}


@dataclass
class _Malformed:
    reason: str


def read_file(path: Path, model: type[M]) -> tuple[list[M], list[RowError]]:
    items: list[M] = []
    errors: list[RowError] = []
    for line, raw in _rows(path):
        if isinstance(raw, _Malformed):
            errors.append(RowError(line, {"line": {"message": raw.reason}}))
            continue
        try:
            items.append(model.model_validate(raw))
        except ValidationError as exc:
            errors.append(RowError(line, pydantic_field_errors(list(exc.errors()), strip_roots=False)))
    return items, errors
