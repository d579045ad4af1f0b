"""A page form as posted: every value under each name (a form's rows repeat their field
names), and the first of them where a field takes one value. Every form page reads its post
this way, so a name posted twice or not at all means the same on each."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated

from fastapi import Depends, Request

FormValues = Mapping[str, Sequence[str]]


async def posted_form(request: Request) -> dict[str, list[str]]:
    """The form as name -> every value posted under it.
    Starlette parsed and cached it already for the CSRF check."""
    form = await request.form()
    return {name: [v for v in form.getlist(name) if isinstance(v, str)] for name in form}


PostedDep = Annotated[dict[str, list[str]], Depends(posted_form)]


def first_value(form: FormValues, name: str, default: str = "") -> str:
    """The first value posted under `name`; `default` when none was."""
    values = form.get(name) or ()
    return values[0] if values else default
