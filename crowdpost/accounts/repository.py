"""Every statement of the accounts domain: requesters, API tokens (stored hashed), web
sessions and sign-in failures, and the ledger row a deposit just wrote."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import ColumnElement, Row, bindparam, delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from crowdpost.kit.pagination import page_before
from crowdpost.models import ApiToken, LedgerEntry, Requester, SignInFailure, Toloker, TolokerWebSession, WebSession

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


def requester_names(session: Session, requester_ids: set[int]) -> dict[int, dict[str, str]]:
    if not requester_ids:
        return {}
    rows = session.execute(select(Requester.id, Requester.public_name).where(Requester.id.in_(requester_ids)))
    return {row.id: row.public_name for row in rows}


def requester_by_id(session: Session, requester_id: int) -> Requester | None:
    return session.get(Requester, requester_id)


def toloker_exists(session: Session, toloker_id: str) -> bool:
    return session.get(Toloker, toloker_id) is not None


def ledger_entries(session: Session, requester_id: int) -> list[LedgerEntry]:
    """Every ledger row of the requester, oldest first (the operator's statement)."""
    stmt = select(LedgerEntry).where(LedgerEntry.requester_id == requester_id).order_by(LedgerEntry.id)
    return list(session.execute(stmt).scalars())


def ledger_entry_id(session: Session, requester_id: int, reference: str) -> int:
    """The id of this requester's ledger row with this (unique) reference."""
    entry_id: int = session.execute(
        select(LedgerEntry.id).where(LedgerEntry.requester_id == requester_id, LedgerEntry.reference == reference)
    ).scalar_one()
    return entry_id


# --- Page sign-in ---------------------------------------------------------------------

# E-mails are stored as the operator typed them and are not unique; a requester this many
# candidates deep is not worth an argon2 verify each.
MAX_EMAIL_CANDIDATES = 5
# Two-key advisory locks live in a space apart from migrate's one-key lock.
_PG_SIGN_IN_LOCK_CLASS = 7_041_994


def password_candidates(session: Session, email: str) -> list[tuple[int, str]]:
    """(id, password_hash) of the requesters with this e-mail (any case) and a password, oldest first.

    Requesters are the paying customers, a small table: no index on lower(email).
    """
    rows = session.execute(
        select(Requester.id, Requester.password_hash)
        .where(func.lower(Requester.email) == email, Requester.password_hash.is_not(None))
        .order_by(Requester.id)
        .limit(MAX_EMAIL_CANDIDATES)
    ).all()
    return [(requester_id, password_hash) for requester_id, password_hash in rows if password_hash is not None]


def requester_password(session: Session, requester_id: int) -> Row[str | None, str | None] | None:
    """(password_hash, email) of the requester, None when there is no such requester."""
    return session.execute(
        select(Requester.password_hash, Requester.email).where(Requester.id == requester_id)
    ).one_or_none()


def set_password_hash(session: Session, requester_id: int, password_hash: str) -> bool:
    """False when there is no such requester."""
    result = session.execute(update(Requester).where(Requester.id == requester_id).values(password_hash=password_hash))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def claim_password_hash(session: Session, requester_id: int, verified_hash: str, new_hash: str) -> bool:
    """Replace the hash a password was verified against (`new_hash` may be the same one);
    False when it is no longer the requester's, because the password changed meanwhile.

    An UPDATE, even to the same value, so the row stays locked until the transaction ends:
    a password being set concurrently waits for it, and then ends the session it started.
    """
    result = session.execute(
        update(Requester)
        .where(Requester.id == requester_id, Requester.password_hash == verified_hash)
        .values(password_hash=new_hash)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def add_web_session(session: Session, session_hash: str, requester_id: int, csrf_token: str, now: datetime) -> int:
    session_id: int = session.execute(
        insert(WebSession)
        .values(session_hash=session_hash, requester_id=requester_id, csrf_token=csrf_token, created=now, last_seen=now)
        .returning(WebSession.id)
    ).scalar_one()
    return session_id


_SESSION_LOOKUP = select(
    WebSession.id, WebSession.requester_id, WebSession.csrf_token, WebSession.created, WebSession.last_seen
).where(WebSession.session_hash == bindparam("session_hash"))


def web_session_by_hash(session: Session, session_hash: str) -> Row[int, int, str, datetime, datetime] | None:
    """(id, requester_id, csrf_token, created, last_seen) of the session with this cookie hash."""
    return session.execute(_SESSION_LOOKUP, {"session_hash": session_hash}).one_or_none()


def touch_web_session(
    session: Session, session_id: int, requester_id: int, now: datetime, idle_cutoff: datetime
) -> bool:
    """Move last_seen to now unless the session ended or went idle meanwhile; False then."""
    result = session.execute(
        update(WebSession)
        .where(
            WebSession.id == session_id,
            WebSession.requester_id == requester_id,
            WebSession.last_seen >= idle_cutoff,
        )
        .values(last_seen=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def delete_web_session(session: Session, session_hash: str) -> None:
    session.execute(delete(WebSession).where(WebSession.session_hash == session_hash))


def delete_web_sessions(session: Session, requester_id: int, *, keep: int | None = None) -> int:
    """End every session of the requester (but `keep`); how many ended."""
    statement = delete(WebSession).where(WebSession.requester_id == requester_id)
    if keep is not None:
        statement = statement.where(WebSession.id != keep)
    return int(session.execute(statement).rowcount)  # type: ignore[attr-defined]


def delete_expired_web_sessions(
    session: Session, requester_id: int, idle_cutoff: datetime, absolute_cutoff: datetime
) -> None:
    stale = expired(WebSession, idle_cutoff, absolute_cutoff)
    session.execute(delete(WebSession).where(WebSession.requester_id == requester_id, stale))


def expired(
    table: type[WebSession] | type[TolokerWebSession], idle_cutoff: datetime, absolute_cutoff: datetime
) -> ColumnElement[bool]:
    """A page session (a requester's or a Toloker's) past its idle or its absolute end."""
    return (table.last_seen < idle_cutoff) | (table.created < absolute_cutoff)


def lock_sign_in_key(session: Session, key: str) -> None:
    """Serialize sign-ins for one key until the transaction ends, so concurrent attempts
    are counted one after another (otherwise a burst would all read "no failures yet").

    PostgreSQL: a transaction-scoped advisory lock on the key's hash. SQLite: nothing to
    do in a write transaction, which already holds the database's only write lock.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:lock_class, hashtext(:key))"),
            {"lock_class": _PG_SIGN_IN_LOCK_CLASS, "key": key},
        )


def recent_sign_in_failures(session: Session, key: str, limit: int) -> list[datetime]:
    """When the key's last `limit` failures happened, newest first."""
    return list(
        session.execute(
            select(SignInFailure.created)
            .where(SignInFailure.key == key)
            .order_by(SignInFailure.created.desc())
            .limit(limit)
        ).scalars()
    )


def add_sign_in_failure(session: Session, key: str, now: datetime) -> int:
    """Count an attempt as failed; its id, to take it back if the attempt succeeds."""
    failure_id: int = session.execute(
        insert(SignInFailure).values(key=key, created=now).returning(SignInFailure.id)
    ).scalar_one()
    return failure_id


def delete_sign_in_failure(session: Session, failure_id: int) -> None:
    session.execute(delete(SignInFailure).where(SignInFailure.id == failure_id))


def prune_sign_in_failures(session: Session, before: datetime) -> None:
    """Drop failures too old to lock anything: the table holds only the recent ones."""
    session.execute(delete(SignInFailure).where(SignInFailure.created < before))


def clear_sign_in_failures(session: Session, key: str) -> None:
    session.execute(delete(SignInFailure).where(SignInFailure.key == key))


# --- The operator's look-up (web.admin) ------------------------------------------------


def requesters_by_email(session: Session, email: str, limit: int) -> list[Requester]:
    """Requesters with this e-mail (case-insensitive; e-mails are not unique), oldest first."""
    stmt = select(Requester).where(func.lower(Requester.email) == email.lower()).order_by(Requester.id).limit(limit)
    return list(session.execute(stmt).scalars())


def ledger_page(
    session: Session, requester_id: int, before_id: int | None, limit: int
) -> tuple[list[LedgerEntry], int | None]:
    """Newest first, `limit` rows older than `before_id` (ix_ledger_entries_requester_id_id),
    and the `before_id` of the next page (None at the end)."""
    stmt = select(LedgerEntry).where(LedgerEntry.requester_id == requester_id)
    return page_before(session, stmt, LedgerEntry.id, before_id, limit)
