"""The Toloker's page sign-in and sessions: no HTTP here.

The same rules as the requester's (`web_sessions`): a random cookie whose SHA-256 is the
key, a CSRF token per session, idle and absolute ends, and the lock-out of
`sign_in_failures` (10 failures in 15 minutes per key, unknown e-mails counted too). The
lock arithmetic is `web_sessions`' own; only the principal differs: sessions live in
`toloker_web_sessions`, so a Toloker cookie can never open a requester page nor the reverse.
E-mail keys are prefixed `toloker:` so a Toloker's failures never lock a requester.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from crowdpost.accounts import passwords, repository
from crowdpost.accounts import toloker_repository as tolokers
from crowdpost.accounts.exposure import DEMO_PASSWORD, is_well_known
from crowdpost.accounts.tokens import hash_token, parse_authorization
from crowdpost.accounts.web_sessions import (
    DEMO_PASSWORD_REFUSED,
    MAX_COOKIE_LENGTH,
    MAX_PASSWORD_LENGTH,
    PUBLISHED_TOKEN_REFUSED,
    TOUCH_INTERVAL,
    WRONG_PASSWORD,
    WRONG_TOKEN,
    SignInResult,
    _Attempt,
    _cutoffs,
    _fail,
    _locked,
    _locked_until,
    _reserve,
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


def do_sign_in_with_token(db: Database, settings: Settings, token: str) -> SignInResult:
    """Sign a Toloker in with their API token; requester, operator and revoked tokens are refused alike."""
    token = parse_authorization(token) or token.strip()
    key = "token:" + hash_token(token)
    now = utcnow()
    with db.transaction() as session:
        repository.lock_sign_in_key(session, key)
        locked = _locked_until(session, settings, key, now)
        if locked is not None:
            return _locked(locked)
        if settings.environment != "development" and is_well_known(token):
            return _fail(session, settings, key, now, PUBLISHED_TOKEN_REFUSED)
        row = repository.live_token(session, hash_token(token)) if token else None
        if row is None or row.role != "TOLOKER" or row.toloker_id is None:
            return _fail(session, settings, key, now, WRONG_TOKEN)
        return _start(session, settings, row.toloker_id, now)


def do_sign_in_with_password(db: Database, settings: Settings, email: str, password: str) -> SignInResult:
    """Sign a Toloker in with e-mail and password; the argon2 verify runs with no transaction open."""
    key = "toloker:" + passwords.email_key(email)
    now = utcnow()
    demo_refused = settings.environment != "development" and password == DEMO_PASSWORD
    checkable = not demo_refused and bool(passwords.email_key(email)) and len(password) <= MAX_PASSWORD_LENGTH
    with db.transaction() as session:
        attempt = _reserve(session, settings, key, now)
        counted = isinstance(attempt, _Attempt)
        candidates = tolokers.password_candidates(session, passwords.email_key(email)) if checkable and counted else []
    if not isinstance(attempt, _Attempt):
        return attempt
    if demo_refused:
        return attempt.failed(DEMO_PASSWORD_REFUSED)
    match = None
    if not candidates:
        passwords.spend_a_verify(password[:MAX_PASSWORD_LENGTH])  # as slow as a wrong password
    for user_id, password_hash in candidates:
        if passwords.verify_password(password_hash, password):
            match = user_id
            break
    if match is None:
        return attempt.failed(WRONG_PASSWORD)
    with db.transaction() as session:
        repository.delete_sign_in_failure(session, attempt.failure_id)
        return _start(session, settings, match, now)


def authenticate_web(db: Database, settings: Settings, cookie_value: str | None) -> TolokerWebSession | None:
    """The live Toloker session this cookie names, None when missing, unknown, idle or too old."""
    if not cookie_value or len(cookie_value) > MAX_COOKIE_LENGTH:
        return None
    now = utcnow()
    idle_cutoff, absolute_cutoff = _cutoffs(settings, now)
    with db.transaction(write=False) as session:
        row = tolokers.web_session_by_hash(session, hash_token(cookie_value))
    if row is None or row.last_seen < idle_cutoff or row.created < absolute_cutoff:
        return None
    if now - row.last_seen > TOUCH_INTERVAL:
        with db.transaction() as session:
            if not tolokers.touch_web_session(session, row.id, now, idle_cutoff):
                return None
    return TolokerWebSession(row.id, row.user_id, row.csrf_token)


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


def _start(session: Session, settings: Settings, user_id: str, now: datetime) -> SignInResult:
    idle_cutoff, absolute_cutoff = _cutoffs(settings, now)
    tolokers.delete_expired_web_sessions(session, user_id, idle_cutoff, absolute_cutoff)
    cookie_value = secrets.token_urlsafe(32)
    tolokers.add_web_session(session, hash_token(cookie_value), user_id, secrets.token_urlsafe(32), now)
    return SignInResult(ok=True, cookie_value=cookie_value, message=None, locked=False)
