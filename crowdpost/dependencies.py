"""What endpoints and pages declare to get the request's settings and database session.

HTTP-side on purpose: `config.py` and `db.py` know no request, so a service that imports
`Settings` or `Database` loads no web framework (`tests/test_architecture.py` checks it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from crowdpost.config import Settings
from crowdpost.db import Database


def app_settings(request: Request) -> Settings:
    """The settings of the app serving this request (tests run apps with their own)."""
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(app_settings)]


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


_READ_ONLY = "crowdpost_read_only"
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def read_only(when: Callable[[Request], bool] | None = None) -> Callable[[Endpoint], Endpoint]:
    """Marks a POST endpoint that writes nothing (a preview, a count), always or `when` the
    request says so: its transaction is a read one, so on SQLite it neither waits for nor
    holds the write lock while a long payment commits."""

    def mark(endpoint: Endpoint) -> Endpoint:
        setattr(endpoint, _READ_ONLY, when or (lambda _request: True))
        return endpoint

    return mark


def query_flag(name: str) -> Callable[[Request], bool]:
    """`when` for `read_only`: the query parameter `name` is true, as FastAPI reads a bool."""
    return lambda request: request.query_params.get(name, "").lower() in ("1", "true", "on", "yes")


def wants_write(request: Request) -> bool:
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return False
    when = getattr(request.scope.get("endpoint"), _READ_ONLY, None)
    return not (when is not None and when(request))


def _request_session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed before the response is sent, or rolled back."""
    db = get_db(request)
    with db.transaction(write=wants_write(request)) as session:
        yield session


# scope="function": commit happens before the response leaves, so a client never sees
# success for something that did not commit (toloka-kit retries on 5xx, see PRODUCT.md).
SessionDep = Annotated[Session, Depends(_request_session, scope="function")]
