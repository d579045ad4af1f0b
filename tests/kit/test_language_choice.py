"""Which language a reader gets, and the text shown for a name or title."""

from __future__ import annotations

import pytest

from crowdpost.kit.language_choice import pick_language, text_in


@pytest.mark.parametrize(
    ("texts", "preferred", "expected"),
    [
        ({"EN": "Hi", "RU": "Привет"}, ["RU"], "RU"),
        ({"EN": "Hi", "RU": "Привет"}, ["TR"], "EN"),
        ({"TR": "Merhaba", "RU": "Привет"}, [], "RU"),  # no EN: the first by code, not by insertion
        ({}, ["EN"], None),
        (None, [], None),
    ],
)
def test_pick_language(texts: dict[str, str] | None, preferred: list[str], expected: str | None) -> None:
    assert pick_language(texts, preferred) == expected


def test_text_in_follows_pick_language() -> None:
    assert text_in({"TR": "Merhaba", "EN": "Demo Labs"}) == "Demo Labs"
    assert text_in({"TR": "Merhaba", "RU": "Привет"}) == "Привет"
    assert text_in({"TR": "Merhaba", "RU": "Привет"}, ["TR"]) == "Merhaba"
    assert text_in(None) == ""
    assert text_in({}) == ""
