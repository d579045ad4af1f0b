"""Every statement of the accounts domain: requesters, API tokens (stored hashed), and the
ledger row a deposit just wrote."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Row, bindparam, insert, select, update
from sqlalchemy.orm import Session

from crowdpost.models import ApiToken, LedgerEntry, Requester, Toloker

# Every request runs it: built once, with the hash bound.
_TOKEN_LOOKUP = select(ApiToken.role, ApiToken.requester_id, ApiToken.toloker_id).where(
    ApiToken.token_hash == bindparam("token_hash"), ApiToken.revoked.is_(None)
)
TokenRow = Row[str, int | None, str | None, datetime | None]  # role, requester_id, toloker_id, revoked
_TOKEN_COLUMNS = (ApiToken.role, ApiToken.requester_id, ApiToken.toloker_id, ApiToken.revoked)


def live_token(session: Session, token_hash: str) -> Row[str, int | None, str | None] | None:
    """(role, requester_id, toloker_id) of the token with this hash, unless it is revoked."""
    return session.execute(_TOKEN_LOOKUP, {"token_hash": token_hash}).one_or_none()


def live_token_hashes(session: Session, token_hashes: Iterable[str]) -> set[str]:
    """Those of these hashes whose tokens exist and are not revoked."""
    rows = session.execute(
        select(ApiToken.token_hash).where(ApiToken.token_hash.in_(list(token_hashes)), ApiToken.revoked.is_(None))
    ).scalars()
    return set(rows)


def add_token(
    session: Session, token_hash: str, role: str, *, requester_id: int | None, toloker_id: str | None, now: datetime
) -> None:
    session.execute(
        insert(ApiToken).values(
            token_hash=token_hash,
            role=role,
            requester_id=requester_id,
            toloker_id=toloker_id,
            created=now,
        )
    )


def revoke_token(session: Session, token_hash: str, now: datetime) -> TokenRow | None:
    """Mark the token revoked unless it already is; (role, requester_id, toloker_id,
    revoked) of a token revoked now, None otherwise."""
    return session.execute(
        update(ApiToken)
        .where(ApiToken.token_hash == token_hash, ApiToken.revoked.is_(None))
        .values(revoked=now)
        .returning(*_TOKEN_COLUMNS)
    ).one_or_none()


def token_by_hash(session: Session, token_hash: str) -> TokenRow | None:
    """(role, requester_id, toloker_id, revoked) of the token, revoked or not."""
    return session.execute(select(*_TOKEN_COLUMNS).where(ApiToken.token_hash == token_hash)).one_or_none()


def add_requester(session: Session, requester: Requester) -> Requester:
    session.add(requester)
    session.flush()
    return requester


def requester_by_id(session: Session, requester_id: int) -> Requester | None:
    return session.get(Requester, requester_id)


def toloker_exists(session: Session, toloker_id: str) -> bool:
    return session.get(Toloker, toloker_id) is not None


def ledger_entry_id(session: Session, requester_id: int, reference: str) -> int:
    """The id of this requester's ledger row with this (unique) reference."""
    entry_id: int = session.execute(
        select(LedgerEntry.id).where(LedgerEntry.requester_id == requester_id, LedgerEntry.reference == reference)
    ).scalar_one()
    return entry_id
