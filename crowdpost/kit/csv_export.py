"""CSV cells that are safe to open in a spreadsheet, and a streamed CSV body.

A cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is read by
spreadsheet programs as a formula (CSV injection); such a cell gets a leading `'`.
Exports stream: `csv_lines` turns an iterator of rows into encoded lines one at a time,
so memory stays bounded however many rows the iterator yields; `csv_chunks` groups those
lines into chunks of about `CHUNK_BYTES`, for a StreamingResponse over a sync iterator
(Starlette hands each `next()` to a worker thread: one hop per chunk instead of per row).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

CellValue = str | int | Decimal | None


def escape_cell(value: CellValue) -> str:
    """The text of one cell, with a leading `'` if a spreadsheet would read it as a formula.

    Numbers (int, Decimal) are written as they are: a negative amount is data the code
    produced, not text someone typed. `None` is an empty cell.
    """
    if value is None:
        return ""
    if isinstance(value, (int, Decimal)):
        return str(value)
    if value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_line(cells: Sequence[CellValue]) -> str:
    """One CSV record (RFC 4180 quoting, CRLF) of escaped cells."""
    buffer = io.StringIO()
    csv.writer(buffer).writerow([escape_cell(cell) for cell in cells])
    return buffer.getvalue()


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[CellValue]]) -> Iterator[bytes]:
    """UTF-8 encoded lines of a CSV with `header`, produced lazily from `rows`.

    The first chunk carries a byte order mark so spreadsheet programs pick UTF-8.
    """
    yield ("\ufeff" + csv_line(header)).encode()
    for row in rows:
        yield csv_line(row).encode()


CHUNK_BYTES = 64 * 1024


def csv_chunks(header: Sequence[str], rows: Iterable[Sequence[CellValue]], size: int = CHUNK_BYTES) -> Iterator[bytes]:
    """`csv_lines` joined into chunks of at least `size` bytes (the last one shorter)."""
    parts: list[bytes] = []
    held = 0
    for line in csv_lines(header, rows):
        parts.append(line)
        held += len(line)
        if held >= size:
            yield b"".join(parts)
            parts, held = [], 0
    if parts:
        yield b"".join(parts)
