"""The "pay from a file" CSV reader: plain unit tests (no database)."""

from __future__ import annotations

import codecs

import pytest

from crowdpost.rewards.bonus_file import BonusFileError, parse


def _csv(*lines: str) -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def test_comma_file_becomes_api_items_with_line_numbers() -> None:
    parsed = parse(_csv("user_id,amount,title,message", "u1,1.50,Thanks,Good work", "u2,0.25,,"))
    assert parsed.delimiter == ","
    assert [r.line for r in parsed.rows] == [2, 3]
    assert parsed.rows[0].item == {
        "user_id": "u1",
        "amount": "1.50",
        "public_title": {"EN": "Thanks"},
        "public_message": {"EN": "Good work"},
    }
    assert parsed.rows[1].item == {"user_id": "u2", "amount": "0.25", "without_message": True}


def test_bom_and_semicolons_sniffed_from_the_header_only() -> None:
    data = codecs.BOM_UTF8 + _csv("user_id;amount;message;title", 'u1;2;"a, b, c";T')
    parsed = parse(data)
    assert parsed.delimiter == ";"
    assert parsed.rows[0].item["public_message"] == {"EN": "a, b, c"}
    assert parsed.rows[0].item["user_id"] == "u1"


def test_languages_and_quoted_cells_over_several_lines() -> None:
    parsed = parse(
        _csv(
            "user_id,amount,title,message,title_ru,message_RU,private_comment",
            'u1,1,Hi,"line one',
            'line ""two""",Привет,Спасибо,note',
            "u2,1,Hi,Text,,,",
        )
    )
    first, second = parsed.rows
    assert first.line == 2
    assert second.line == 4
    assert first.item["public_message"] == {"EN": 'line one\r\nline "two"', "RU": "Спасибо"}
    assert first.item["public_title"] == {"EN": "Hi", "RU": "Привет"}
    assert first.item["private_comment"] == "note"


def test_bad_utf8_names_its_line() -> None:
    data = _csv("user_id,amount", "u1,1") + b"u2,\xff\xfe\r\n"
    with pytest.raises(BonusFileError, match="Line 3 is not UTF-8"):
        parse(data)


def test_too_many_rows_refused() -> None:
    rows = [f"u{i},1" for i in range(11)]
    with pytest.raises(BonusFileError, match="more than 10 rows"):
        parse(_csv("user_id,amount", *rows), max_rows=10)
    assert len(parse(_csv("user_id,amount", *rows[:10]), max_rows=10).rows) == 10


def test_too_long_cell_is_a_bad_row() -> None:
    parsed = parse(_csv("user_id,amount,message", "u1,1,ok", "u2,1," + "x" * 101), max_cell=100)
    assert [r.line for r in parsed.rows] == [2]
    assert "longer than 100" in parsed.problems[3]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"\r\n \r\n", "empty"),
        (codecs.BOM_UTF8, "empty"),
        (_csv("user_id,amount"), "no rows"),
        (_csv("u1,1.5", "u2,1"), "unknown column"),
        (_csv("user_id,amount,bonus", "u1,1,2"), "unknown column 'bonus'"),
        (_csv("user_id,amount,title_english", "u1,1,x"), "unknown column"),
        (_csv("user_id,amount,amount", "u1,1,2"), "appears twice"),
        (_csv("user_id,title", "u1,x"), "no amount column"),
        (_csv("user_id,amount", 'u1,"1'), "quotes"),
    ],
)
def test_file_level_refusals(data: bytes, reason: str) -> None:
    with pytest.raises(BonusFileError, match=reason):
        parse(data)


def test_duplicate_rows_are_bad_rows_naming_the_first() -> None:
    parsed = parse(_csv("user_id,amount,title,message", "u1,1.5,T,M", " u1,1.5,T,M", "u1,1.5,T,Other"))
    assert [r.line for r in parsed.rows] == [2, 4]
    assert parsed.problems == {3: "the same bonus as line 2 (same Toloker, amount and texts)"}


def test_extra_cells_and_blank_lines() -> None:
    parsed = parse(_csv("user_id,amount", "u1,1,surprise", "", "u2,2"))
    assert [r.line for r in parsed.rows] == [4]
    assert "3 cells" in parsed.problems[2]


def test_hostile_cells_are_kept_as_text_for_validation() -> None:
    parsed = parse(_csv("user_id,amount,title", '<script>alert(1)</script>,=1+1,"=HYPERLINK(""x"")"'))
    item = parsed.rows[0].item
    assert item["user_id"] == "<script>alert(1)</script>"
    assert item["amount"] == "=1+1"
    assert item["public_title"] == {"EN": '=HYPERLINK("x")'}


def test_pathological_quotes_stay_linear() -> None:
    # Many escaped quotes in one cell: csv reads them in one pass (a backtracking reader would
    # hang the suite here instead); the cell is then over the cap and a bad row.
    data = _csv("user_id,amount,message", 'u1,1,"' + '""' * 60_000 + '"', "u2,1,ok")
    parsed = parse(data, max_cell=50_000)
    assert [r.line for r in parsed.rows] == [3]
    assert "longer than 50,000" in parsed.problems[2]
