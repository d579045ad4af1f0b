import csv
import io
from collections.abc import Iterator, Sequence
from decimal import Decimal

import pytest

from crowdpost.kit.csv_export import CellValue, csv_chunks, csv_line, csv_lines, escape_cell


@pytest.mark.parametrize("text", ["=1+2", "+1", "-1", "@SUM(A1)", "\tx", "\rx", '=HYPERLINK("http://x")'])
def test_formula_starts_get_a_quote(text: str) -> None:
    assert escape_cell(text) == "'" + text


@pytest.mark.parametrize("text", ["", "hello", " =1", "1-2", "'=x", "é=1"])
def test_plain_text_unchanged(text: str) -> None:
    assert escape_cell(text) == text


def test_numbers_and_none() -> None:
    assert escape_cell(-5) == "-5"
    assert escape_cell(Decimal("-1.50")) == "-1.50"
    assert escape_cell(None) == ""


def test_lines_round_trip_through_csv_reader() -> None:
    rows: list[Sequence[CellValue]] = [["a,b", '"q"', "=x"], ["line\nbreak", 3, None]]
    body = b"".join(csv_lines(["h1", "h2", "h3"], iter(rows))).decode()
    assert body.startswith("\ufeff")
    parsed = list(csv.reader(io.StringIO(body[1:])))
    assert parsed == [["h1", "h2", "h3"], ["a,b", '"q"', "'=x"], ["line\nbreak", "3", ""]]
    assert csv_line(["x"]) == "x\r\n"


def test_lines_are_lazy() -> None:
    def rows() -> Iterator[list[CellValue]]:
        yield ["1"]
        raise AssertionError("read past the first row")

    lines = csv_lines(["h"], rows())
    assert next(lines).endswith(b"h\r\n")
    assert next(lines) == b"1\r\n"


def test_chunks_hold_whole_lines_and_join_to_the_lines() -> None:
    rows: list[Sequence[CellValue]] = [[str(n), "=x" * 10] for n in range(1000)]
    chunks = list(csv_chunks(["n", "text"], iter(rows), size=1000))
    assert b"".join(chunks) == b"".join(csv_lines(["n", "text"], iter(rows)))
    assert all(chunk.endswith(b"\r\n") for chunk in chunks)
    assert 20 < len(chunks) < 40  # ~27 bytes a line, 1,000 bytes a chunk
