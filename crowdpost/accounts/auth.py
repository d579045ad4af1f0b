"""Who is calling: FastAPI dependencies for the three roles.

Missing or unknown token -> 401 AUTHENTICATION_ERROR; a valid token of another role
-> 403 ACCESS_DENIED. The operator token comes from settings.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header
from sqlalchemy.orm import Session

from crowdpost.accounts import repository
from crowdpost.accounts.exposure import is_well_known
from crowdpost.accounts.tokens import hash_token, parse_authorization
from crowdpost.config import Settings
from crowdpost.db import Database
from crowdpost.dependencies import SessionDep, SettingsDep
from crowdpost.errors import AccessDenied, AuthenticationFailed
from crowdpost.kit.ids import format_id


@dataclass(frozen=True)
class Caller:
    role: str  # REQUESTER, TOLOKER or OPERATOR
    requester_id: int | None = None
    toloker_id: str | None = None


@dataclass(frozen=True)
class RequesterCaller:
    requester_id: int

    @property
    def public_id(self) -> str:
        return format_id(self.requester_id)


@dataclass(frozen=True)
class TolokerCaller:
    toloker_id: str


def resolve_caller(session: SessionDep, settings: SettingsDep, authorization: str | None = Header(None)) -> Caller:
    return identify(session, settings, authorization)


def identify(session: Session, settings: Settings, authorization: str | None) -> Caller:
    """The caller an `Authorization` header names; raises AuthenticationFailed."""
    token = parse_authorization(authorization)
    if token is None:
        raise AuthenticationFailed()
    # `serve` refuses to start where these would work; this is the second line.
    if settings.environment != "development" and is_well_known(token):
        raise AuthenticationFailed("Authentication failed: published tokens work only in development")
    if hmac.compare_digest(token.encode(), settings.admin_token.encode()):
        return Caller(role="OPERATOR")
    row = repository.live_token(session, hash_token(token))
    if row is None:
        raise AuthenticationFailed("Authentication failed: unknown or revoked token")
    return Caller(role=row.role, requester_id=row.requester_id, toloker_id=row.toloker_id)


CallerDep = Annotated[Caller, Depends(resolve_caller)]


def require_requester(caller: CallerDep) -> RequesterCaller:
    return as_requester(caller)


def as_requester(caller: Caller) -> RequesterCaller:
    if caller.role != "REQUESTER" or caller.requester_id is None:
        raise AccessDenied("This API is for requesters; use a requester token")
    return RequesterCaller(caller.requester_id)


def require_toloker(caller: CallerDep) -> TolokerCaller:
    if caller.role != "TOLOKER" or caller.toloker_id is None:
        raise AccessDenied("This API is for Tolokers; use a Toloker token")
    return TolokerCaller(caller.toloker_id)


def require_operator(caller: CallerDep) -> Caller:
    if caller.role != "OPERATOR":
        raise AccessDenied("This API is for platform operators")
    return caller


RequesterDep = Annotated[RequesterCaller, Depends(require_requester)]
TolokerDep = Annotated[TolokerCaller, Depends(require_toloker)]
OperatorDep = Annotated[Caller, Depends(require_operator)]


def authenticate_in_own_transaction(db: Database, settings: Settings, authorization: str | None) -> Caller:
    """`identify` outside a request's session, in a short read transaction of its own.

    For the ASGI middleware, which checks the token before it reads a body (a body is
    never received, let alone parsed, for an anonymous caller). The transaction is a read
    one: on SQLite a deferred BEGIN, so it neither takes nor waits for the write lock; one
    indexed lookup by token hash (none for a missing header or the operator token).
    """
    if parse_authorization(authorization) is None:
        raise AuthenticationFailed()
    with db.transaction(write=False) as session:
        return identify(session, settings, authorization)
