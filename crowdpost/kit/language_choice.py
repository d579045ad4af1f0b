"""Which language of a text object a reader gets: theirs first, then English, then any."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def pick_language(texts: Mapping[str, str] | None, preferred: Sequence[str]) -> str | None:
    """The first of `preferred` the text has, else EN, else its first language by code; None for no text."""
    if not texts:
        return None
    for language in (*preferred, "EN"):
        if language in texts:
            return language
    return sorted(texts)[0]


def text_in(texts: Mapping[str, str] | None, preferred: Sequence[str] = ()) -> str:
    """The text `pick_language` chooses (a name, a title), or "" when there is none."""
    language = pick_language(texts, preferred)
    return texts[language] if texts and language else ""
