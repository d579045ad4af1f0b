"""Keyword search over topics and texts: SQLite FTS5 or PostgreSQL full-text search.

A query is words and "quoted phrases"; every word and phrase must occur (AND). The
user's text never reaches the FTS syntax unquoted, so `NEAR`, `or`, `*`, `-` or a stray
quote cannot change the meaning of a query or make it fail. A query has at most 200
characters and 20 words (a 400 beyond), so the database never gets an unbounded chain.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import ColumnElement, func, literal_column, select, text
from sqlalchemy.orm import Session

from crowdpost.errors import ValidationFailed, field_error
from crowdpost.models import Message

MAX_QUERY_CHARS = 200
MAX_QUERY_TERMS = 20
# Linear: `[^"]*` runs to the next quote only, and an unclosed quote falls back to `\S+`,
# which consumes the run it read; the length cap above applies before either runs.
_PART = re.compile(r'"([^"]*)"|(\S+)')
_WORD = re.compile(r"\w+", re.UNICODE)


def parse_query(q: str) -> list[list[str]]:
    """`foo "bar baz"` -> [["foo"], ["bar", "baz"]]: each inner list is a phrase of words."""
    if len(q) > MAX_QUERY_CHARS:
        raise ValidationFailed(
            {"q": field_error("STRING_LENGTH_GREATER_THAN_MAX", "search text is too long", MAX_QUERY_CHARS)}
        )
    phrases = []
    for quoted, bare in _PART.findall(q):
        words = _WORD.findall(quoted if quoted else bare)
        if not words:
            continue
        if quoted:
            phrases.append(words)
        else:
            phrases.extend([w] for w in words)
    if not phrases:
        raise ValidationFailed({"q": field_error("VALUE_REQUIRED", "search text has no words")})
    terms = sum(len(words) for words in phrases)
    if terms > MAX_QUERY_TERMS:
        raise ValidationFailed(
            {"q": field_error("ARRAY_SIZE_GREATER_THAN_MAX", f"at most {MAX_QUERY_TERMS} words", MAX_QUERY_TERMS)},
            f"Search text has {terms} words; at most {MAX_QUERY_TERMS} are allowed",
        )
    return phrases


def _fts5_query(phrases: list[list[str]]) -> str:
    # Each phrase as an FTS5 string: words only, so no operator or quote survives.
    return " AND ".join('"' + " ".join(words) + '"' for words in phrases)


def _pg_query(phrases: list[list[str]]) -> str:
    # websearch_to_tsquery syntax: quoted phrases, ANDed. Single words are quoted too: a bare
    # `or` is websearch's OR operator, which would turn "a or b or c ..." into an OR chain.
    return " ".join('"' + " ".join(words) + '"' for words in phrases)


def matching_thread_ids(session: Session, q: str) -> Any:
    """A subquery of thread ids whose topic or any message text matches `q`."""
    phrases = parse_query(q)
    if session.get_bind().dialect.name == "sqlite":
        fts: Any = (
            select(literal_column("rowid"))
            .select_from(text("message_fts"))
            .where(text("message_fts MATCH :fts_query").bindparams(fts_query=_fts5_query(phrases)))
        )
        return select(Message.thread_id).where(Message.id.in_(fts))
    condition: ColumnElement[bool] = func.to_tsvector(
        literal_column("'simple'"), func.coalesce(Message.search_text, literal_column("''"))
    ).op("@@")(func.websearch_to_tsquery(literal_column("'simple'"), _pg_query(phrases)))
    # The GIN index holds only messages with a search text (migration 0018); saying so lets
    # the planner use it, and a message without one matches no keyword anyway.
    return select(Message.thread_id).where(Message.search_text.is_not(None), condition)
