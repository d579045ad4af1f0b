"""Reading a "pay from a file" CSV into the API's bonus items, line by line.

The file is bytes the requester uploaded, already bounded by the body cap. Here:
- a BOM is dropped; the text must be UTF-8 (the first bad byte is reported with its line);
- the delimiter is sniffed from the header line only (`;` when it has more of them than
  commas), never from the data, so a comma inside a message cannot change it;
- the header names the columns: `user_id`, `amount`, `assignment_id`, `title`, `message`,
  `private_comment`, and `title_XX` / `message_XX` for more languages (`title` and
  `message` alone are English); an unknown or repeated column refuses the whole file;
- at most `max_rows` data rows and `max_cell` characters a cell;
- each row becomes the dict `POST /user-bonuses` would receive (the amount stays text:
  `validation.check_amount` reads a plain decimal string exactly), so the SAME validation
  runs on it; rows that repeat an earlier row are bad rows here, because the API would
  refuse the whole batch for them (409).
No regular expressions: the header names are compared as plain strings.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

MAX_ROWS = 100_000
MAX_CELL = 20_000  # above the longest message the API takes (16,384), so the API's own error shows
BASE_COLUMNS = ("user_id", "amount", "assignment_id", "title", "message", "private_comment")
REQUIRED = ("user_id", "amount")
DEFAULT_LANGUAGE = "EN"


class BonusFileError(Exception):
    """The file as a whole cannot be read; `str(exc)` says why (with the line when known)."""


@dataclass(frozen=True, slots=True)
class FileRow:
    line: int  # the physical line the row starts on (the header is line 1)
    item: dict[str, Any]


@dataclass(slots=True)
class ParsedFile:
    delimiter: str
    columns: list[str]
    rows: list[FileRow] = field(default_factory=list)
    # Row problems found while reading (not validation): line -> message.
    problems: dict[int, str] = field(default_factory=dict)


def _language_of(column: str, prefix: str) -> str | None:
    """`title_ru` -> "RU"; None when the suffix is not a language code (letters, 2 of them,
    optionally `-` and 2-4 more, as the API's pattern)."""
    suffix = column[len(prefix) :].upper()
    main, _, region = suffix.partition("-")
    if len(main) != 2 or not main.isascii() or not main.isalpha():
        return None
    if region and (not 2 <= len(region) <= 4 or not region.isascii() or not region.isalpha()):
        return None
    return suffix


def _column_role(name: str) -> tuple[str, str | None] | None:
    """(field, language) for a header cell, None when unknown."""
    if name in BASE_COLUMNS:
        if name in ("title", "message"):
            return name, DEFAULT_LANGUAGE
        return name, None
    for prefix in ("title_", "message_"):
        if name.startswith(prefix):
            language = _language_of(name, prefix)
            return (prefix[:-1], language) if language else None
    return None


def _decode(data: bytes) -> str:
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise BonusFileError(f"Line {line} is not UTF-8 (byte {exc.start + 1}); save the file as UTF-8") from None


def _sniff(header_line: str) -> str:
    return ";" if header_line.count(";") > header_line.count(",") else ","


def _header(cells: list[str]) -> list[tuple[str, str | None]]:
    names = [cell.strip().lower() for cell in cells]
    roles: list[tuple[str, str | None]] = []
    seen: set[tuple[str, str | None]] = set()
    for name in names:
        role = _column_role(name)
        if role is None:
            shown = name[:40] or "(empty)"
            raise BonusFileError(
                f"Line 1: unknown column {shown!r}; use user_id, amount, assignment_id, title, message, "
                "private_comment, title_XX, message_XX"
            )
        if role in seen:
            raise BonusFileError(f"Line 1: column {name!r} appears twice")
        seen.add(role)
        roles.append(role)
    for needed in REQUIRED:
        if (needed, None) not in seen:
            raise BonusFileError(f"Line 1: the header has no {needed} column (the first line must be the header)")
    return roles


def _item(roles: list[tuple[str, str | None]], cells: list[str]) -> dict[str, Any]:
    item: dict[str, Any] = {"user_id": None, "amount": None}
    titles: dict[str, str] = {}
    messages: dict[str, str] = {}
    for (name, language), raw in zip(roles, cells, strict=False):
        value = raw
        if not value:
            continue
        if name == "title" and language:
            titles[language] = value
        elif name == "message" and language:
            messages[language] = value
        else:
            item[name] = value
    if titles or messages:
        item["public_title"] = titles or None
        item["public_message"] = messages or None
    else:
        item["without_message"] = True
    return item


def _duplicate_key(roles: list[tuple[str, str | None]]) -> Callable[[list[str]], Hashable]:
    """What the API's duplicate check compares (`validation.check_no_duplicates`): the
    Toloker, the amount as written, the comment and the texts; not the assignment."""
    positions = [i for i, (name, _) in enumerate(roles) if name != "assignment_id"]
    pick = itemgetter(*positions)
    return lambda cells: pick(cells + [""] * (len(roles) - len(cells))) if len(cells) < len(roles) else pick(cells)


def parse(data: bytes, *, max_rows: int = MAX_ROWS, max_cell: int = MAX_CELL) -> ParsedFile:
    """The file's rows as API items, or BonusFileError for the file as a whole."""
    text = _decode(data)
    if not text.strip():
        raise BonusFileError("The file is empty; the first line must be the header (user_id, amount, ...)")
    header_end = text.find("\n")
    delimiter = _sniff(text if header_end < 0 else text[:header_end])
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    # csv's own field limit (process-wide, 128 KiB) stays; cells are checked against max_cell below.
    try:
        header = next(reader)
        roles = _header(header)
        key_of = _duplicate_key(roles)
        parsed = ParsedFile(delimiter, [c.strip().lower() for c in header])
        first_of: dict[Hashable, int] = {}
        line = reader.line_num + 1
        for cells in reader:
            start, line = line, reader.line_num + 1
            if not "".join(cells).strip():
                continue  # blank lines (a trailing newline, a spacer) are not rows
            if len(parsed.rows) + len(parsed.problems) >= max_rows:
                raise BonusFileError(f"The file has more than {max_rows:,} rows; split it into several files")
            if max(map(len, cells)) > max_cell:
                parsed.problems[start] = f"a cell is longer than {max_cell:,} characters"
                continue
            if len(cells) > len(roles):
                parsed.problems[start] = f"{len(cells)} cells but the header names {len(roles)} columns"
                continue
            cells = [cell.strip() for cell in cells]
            key = key_of(cells)
            earlier = first_of.setdefault(key, start)
            if earlier != start:
                parsed.problems[start] = f"the same bonus as line {earlier} (same Toloker, amount and texts)"
                continue
            parsed.rows.append(FileRow(start, _item(roles, cells)))
    except csv.Error as exc:
        raise BonusFileError(f"Line {reader.line_num}: {exc}; check the quotes") from None
    if not parsed.rows and not parsed.problems:
        raise BonusFileError("The file has a header but no rows")
    return parsed
