"""Field types shared by wire models."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

LanguageCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}(-[A-Z]{2,4})?$", max_length=8)]
# Toloka's language -> text objects: {"EN": "...", "RU": "..."}.
LangText = Annotated[dict[LanguageCode, str], Field(min_length=1)]
