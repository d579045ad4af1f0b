"""The Toloker's page sign-in and sessions: no HTTP here.

The same rules as the requester's (`web_sessions`): a random cookie whose SHA-256 is the
key, a CSRF token per session, idle and absolute ends, and the lock-out of
`sign_in_failures` (10 failures in 15 minutes per key, unknown e-mails counted too). The
lock arithmetic, the token and password checks and a session's life are `web_sessions`' own;
only the principal differs: sessions live in `toloker_web_sessions` (`TOLOKER_SESSIONS`), so a
Toloker cookie can never open a requester page nor the reverse.
E-mail keys are prefixed `toloker:` so a Toloker's failures never lock a requester.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from crowdpost.accounts import passwords, repository
from crowdpost.accounts import toloker_repository as tolokers
from crowdpost.accounts.tokens import hash_token
from crowdpost.accounts.web_sessions import (
    MAX_COOKIE_LENGTH,
    WRONG_PASSWORD,
    SessionRows,
    SignInResult,
    TokenRow,
    _check_password,
    _count_password_attempt,
    _live_session,
    _sign_in_with_token,
    _start,
)
from crowdpost.config import Settings
from crowdpost.db import Database
from crowdpost.errors import DoesNotExist
from crowdpost.kit.timefmt import utcnow


@dataclass(frozen=True)
class TolokerWebSession:
    id: int
    user_id: str
    csrf_token: str


TOLOKER_SESSIONS = SessionRows[str](
    by_hash=tolokers.web_session_by_hash,
    touch=lambda session, row, now, idle: tolokers.touch_web_session(session, row.id, now, idle),
    delete_expired=tolokers.delete_expired_web_sessions,
    add=tolokers.add_web_session,
)


def do_sign_in_with_token(db: Database, settings: Settings, token: str) -> SignInResult:
    """Sign a Toloker in with their API token; requester, operator and revoked tokens are refused alike."""
    return _sign_in_with_token(db, settings, token, _toloker_of, TOLOKER_SESSIONS)


def _toloker_of(row: TokenRow) -> str | None:
    return row.toloker_id if row.role == "TOLOKER" else None


def do_sign_in_with_password(db: Database, settings: Settings, email: str, password: str) -> SignInResult:
    """Sign a Toloker in with e-mail and password; the argon2 verify runs with no transaction open."""
    email_key = passwords.email_key(email)
    now = utcnow()
    counted = _count_password_attempt(
        db, settings, "toloker:" + email_key, email_key, now, password, tolokers.password_candidates
    )
    if isinstance(counted, SignInResult):
        return counted
    attempt, candidates = counted
    match = _check_password(candidates, password)
    if match is None:
        return attempt.failed(WRONG_PASSWORD)
    with db.transaction() as session:
        repository.delete_sign_in_failure(session, attempt.failure_id)
        return _start(session, settings, TOLOKER_SESSIONS, match[0], now)


def authenticate_web(db: Database, settings: Settings, cookie_value: str | None) -> TolokerWebSession | None:
    """The live Toloker session this cookie names, None when missing, unknown, idle or too old."""
    row = _live_session(db, settings, TOLOKER_SESSIONS, cookie_value)
    return TolokerWebSession(row.id, row.user_id, row.csrf_token) if row is not None else None


def do_sign_out(session: Session, cookie_value: str) -> None:
    if cookie_value and len(cookie_value) <= MAX_COOKIE_LENGTH:
        tolokers.delete_web_session(session, hash_token(cookie_value))


def do_set_password(session: Session, user_id: str, password: str) -> None:
    """An operator sets a Toloker's password (ValidationFailed when too short or too long,
    DoesNotExist for an unknown Toloker); every session of theirs ends."""
    passwords.check_new_password(password)
    if not tolokers.set_password_hash(session, user_id, passwords.hash_password(password)):
        raise DoesNotExist(f"Toloker {user_id} does not exist")
    tolokers.delete_web_sessions(session, user_id)
