"""Page sign-in and web sessions: no HTTP here. Sign-in and `authenticate_web` run short
transactions of their own; the other functions write in the caller's transaction.

A session is a random cookie value (`secrets.token_urlsafe(32)`) whose SHA-256 is the
stored key, like API tokens, plus a CSRF token the pages print into every form. It ends
on sign-out, after `session_idle_hours` unused, `session_absolute_days` after sign-in,
and when the password changes (every other session) or is set by an operator (all).

Failed sign-ins are rows keyed by what was tried: the lower-case e-mail, known or not
(so a lock says nothing about whether an account exists), or `token:` + the token's hash.
When the last `sign_in_max_failures` of a key fall within `sign_in_lock_minutes`, the key
is locked for `sign_in_lock_minutes` after the newest of them. Attempts refused by the
lock check nothing and are not recorded, so the time the message names stays true. A
successful sign-in clears no earlier failure: the failures of an account expire on their
own, and a password that is known cannot buy an attacker more guesses at another one.

Attempts on one key are serialized (`repository.lock_sign_in_key`) while the lock is
checked and the attempt counted, so a burst of concurrent guesses is counted in full.
A password attempt is counted as failed before the password is checked, and taken back
when it was right: the argon2 verify (about 0.1 s) then runs with no transaction open,
so a flood of sign-ins cannot hold SQLite's one write lock (or a connection) for it.
While a right password is being checked, its counted attempt may lock the key for other
attempts for that moment: never more lenient than counting it after the check.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy import Row
from sqlalchemy.orm import Session

from crowdpost.accounts import passwords, repository
from crowdpost.accounts.exposure import DEMO_PASSWORD, is_well_known
from crowdpost.accounts.tokens import hash_token, parse_authorization
from crowdpost.config import Settings
from crowdpost.db import Database
from crowdpost.errors import ValidationFailed, field_error
from crowdpost.kit.timefmt import utcnow

# Messages, not secrets (S105 sees "PASSWORD" and "TOKEN" in the names).
WRONG_PASSWORD = "Wrong e-mail or password."  # noqa: S105
WRONG_TOKEN = "That token did not sign you in."  # noqa: S105
DEMO_PASSWORD_REFUSED = "The demo password works only in development."  # noqa: S105
PUBLISHED_TOKEN_REFUSED = "That token is published in crowdpost's source and works only in development."  # noqa: S105
LOCKED = "Too many failed sign-ins for this account. Try again after {time} UTC."

# last_seen is written at most this often: a page view is a read, not a write per request.
TOUCH_INTERVAL = timedelta(seconds=60)
# Longer than any cookie we issue (43 characters): anything longer is not one of ours.
MAX_COOKIE_LENGTH = 128
# argon2 copes with any length, but nobody's password is longer than `check_new_password` allows.
MAX_PASSWORD_LENGTH = passwords.MAX_LENGTH
# Whose session: a requester id or a Toloker id.
OwnerT = TypeVar("OwnerT", int, str)
TokenRow = Row[str, int | None, str | None]  # (role, requester_id, toloker_id)


@dataclass(frozen=True)
class WebSession:
    id: int
    requester_id: int
    csrf_token: str


@dataclass(frozen=True)
class SignInResult:
    ok: bool
    cookie_value: str | None  # set the session cookie to it when ok
    message: str | None  # one sentence for the page when not ok
    locked: bool  # not ok because of too many failures


def do_sign_in_with_password(db: Database, settings: Settings, email: str, password: str) -> SignInResult:
    """Sign a requester in with their e-mail and password; never raises for wrong credentials.

    In short transactions of its own, none of them open during the argon2 verify: the
    attempt is counted (or refused by the lock) first, the password checked without a
    connection, and a success takes its count back as it starts the session.
    """
    key = passwords.email_key(email)
    now = utcnow()
    counted = _count_password_attempt(db, settings, key, key, now, password, repository.password_candidates)
    if isinstance(counted, SignInResult):
        return counted
    attempt, candidates = counted
    # Twice at most: a second look only when the password changed between the read and the claim.
    for _ in range(2):
        match = _check_password(candidates, password)
        if match is None:
            return attempt.failed(WRONG_PASSWORD)
        requester_id, password_hash = match
        # Hashed here too, not in the transaction: an upgrade of the parameters costs one argon2 hash.
        claimed_hash = passwords.hash_password(password) if passwords.needs_rehash(password_hash) else password_hash
        with db.transaction() as session:
            if repository.claim_password_hash(session, requester_id, password_hash, claimed_hash):
                repository.delete_sign_in_failure(session, attempt.failure_id)
                return _start(session, settings, REQUESTER_SESSIONS, requester_id, now)
            candidates = repository.password_candidates(session, key)
    return attempt.failed(WRONG_PASSWORD)


def _count_password_attempt(
    db: Database,
    settings: Settings,
    key: str,
    email_key: str,
    now: datetime,
    password: str,
    candidates_of: Callable[[Session, str], list[tuple[OwnerT, str]]],
) -> SignInResult | tuple[_Attempt, list[tuple[OwnerT, str]]]:
    """A password attempt on `key` counted as failed (or refused by the lock), in a short
    transaction of its own, with the (owner, hash) pairs of `email_key` to check it against;
    the final result instead when the key is locked or the demo password is refused.
    Requesters and Tolokers alike."""
    demo_refused = settings.environment != "development" and password == DEMO_PASSWORD
    checkable = not demo_refused and bool(email_key) and len(password) <= MAX_PASSWORD_LENGTH
    with db.transaction() as session:
        attempt = _reserve(session, settings, key, now)
        counted = isinstance(attempt, _Attempt)
        candidates = candidates_of(session, email_key) if checkable and counted else []
    if not isinstance(attempt, _Attempt):
        return attempt  # locked: nothing checked, nothing counted
    if demo_refused:
        return attempt.failed(DEMO_PASSWORD_REFUSED)
    return attempt, candidates


def _check_password(candidates: list[tuple[OwnerT, str]], password: str) -> tuple[OwnerT, str] | None:
    """(owner, hash) the password matches, None otherwise; always one verify or more."""
    if not candidates:
        # Unknown e-mail, no password yet, or a password too long to be anyone's: as slow as a wrong one.
        passwords.spend_a_verify(password[:MAX_PASSWORD_LENGTH])
        return None
    # E-mails are not unique: the first one whose password this is.
    for owner, password_hash in candidates:
        if passwords.verify_password(password_hash, password):
            return owner, password_hash
    return None


def do_sign_in_with_token(db: Database, settings: Settings, token: str) -> SignInResult:
    """Sign a requester in with one of their API tokens (`OAuth <token>` is accepted too).

    Toloker tokens, the operator token and revoked tokens get the same refusal as unknown
    ones. Never raises for a wrong token. One short transaction of its own: a token is
    checked by its SHA-256, nothing slow runs inside it.
    """
    return _sign_in_with_token(db, settings, token, _requester_of, REQUESTER_SESSIONS)


def _requester_of(row: TokenRow) -> int | None:
    return row.requester_id if row.role == "REQUESTER" else None


def _sign_in_with_token(
    db: Database,
    settings: Settings,
    token: str,
    owner_of: Callable[[TokenRow], OwnerT | None],
    rows: SessionRows[OwnerT],
) -> SignInResult:
    """A token sign-in for whoever `owner_of` finds in the live token's row (None: refused
    like an unknown token), who get a session in `rows`. Requesters and Tolokers alike."""
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
        owner = owner_of(row) if row is not None else None
        if owner is None:
            return _fail(session, settings, key, now, WRONG_TOKEN)
        return _start(session, settings, rows, owner, now)


def authenticate_web(db: Database, settings: Settings, cookie_value: str | None) -> WebSession | None:
    """The live session this cookie names, None when missing, unknown, idle or too old.

    In short transactions of its own (like `auth.authenticate_in_own_transaction`): a read,
    and a write only to move last_seen when it is older than a minute.
    """
    row = _live_session(db, settings, REQUESTER_SESSIONS, cookie_value)
    return WebSession(row.id, row.requester_id, row.csrf_token) if row is not None else None


def _live_session(db: Database, settings: Settings, rows: SessionRows[OwnerT], cookie_value: str | None) -> Any:
    """The row of the live session this cookie names in `rows`, None when missing, unknown,
    idle or too old; last_seen moved when older than a minute. Requesters and Tolokers alike."""
    if not cookie_value or len(cookie_value) > MAX_COOKIE_LENGTH:
        return None
    now = utcnow()
    idle_cutoff, absolute_cutoff = _cutoffs(settings, now)
    with db.transaction(write=False) as session:
        row = rows.by_hash(session, hash_token(cookie_value))
    if row is None or row.last_seen < idle_cutoff or row.created < absolute_cutoff:
        return None
    if now - row.last_seen > TOUCH_INTERVAL:
        with db.transaction() as session:
            # Signed out or gone idle since the read: the session is over.
            if not rows.touch(session, row, now, idle_cutoff):
                return None
    return row


def csrf_matches(web: WebSession, submitted: str | None) -> bool:
    """Whether a form's or header's CSRF token is this session's (in constant time)."""
    return bool(submitted) and hmac.compare_digest(web.csrf_token.encode(), (submitted or "").encode())


def do_sign_out(session: Session, cookie_value: str) -> None:
    """End the session this cookie names (nothing happens for an unknown one)."""
    if cookie_value and len(cookie_value) <= MAX_COOKIE_LENGTH:
        repository.delete_web_session(session, hash_token(cookie_value))


def do_change_password(session: Session, web: WebSession, current: str, new: str) -> None:
    """The signed-in requester changes their password; every other session of theirs ends.

    ValidationFailed keyed "current_password" (wrong, or no password yet) and/or
    "new_password" (too short or too long); nothing changes then.
    """
    errors = {}
    row = repository.requester_password(session, web.requester_id)
    if row is None or row.password_hash is None:
        errors["current_password"] = field_error(
            "VALUE_NOT_ALLOWED", "You have no password yet: an operator sets the first one."
        )
    elif len(current) > MAX_PASSWORD_LENGTH or not passwords.verify_password(row.password_hash, current):
        errors["current_password"] = field_error("INVALID_VALUE", "That is not your current password.")
    try:
        passwords.check_new_password(new)
    except ValidationFailed as exc:
        errors["new_password"] = exc.payload["password"]
    if errors:
        raise ValidationFailed(errors)
    repository.set_password_hash(session, web.requester_id, passwords.hash_password(new))
    repository.delete_web_sessions(session, web.requester_id, keep=web.id)


@dataclass(frozen=True)
class SessionRows(Generic[OwnerT]):
    """One side's session rows (requesters' `web_sessions`, Tolokers' `toloker_web_sessions`)."""

    by_hash: Callable[[Session, str], Any]  # (id, owner, csrf_token, created, last_seen) | None
    touch: Callable[[Session, Any, datetime, datetime], bool]  # (row, now, idle cutoff)
    delete_expired: Callable[[Session, OwnerT, datetime, datetime], None]
    add: Callable[[Session, str, OwnerT, str, datetime], object]


REQUESTER_SESSIONS = SessionRows[int](
    by_hash=repository.web_session_by_hash,
    touch=lambda session, row, now, idle: repository.touch_web_session(session, row.id, row.requester_id, now, idle),
    delete_expired=repository.delete_expired_web_sessions,
    add=repository.add_web_session,
)


def _start(
    session: Session, settings: Settings, rows: SessionRows[OwnerT], owner: OwnerT, now: datetime
) -> SignInResult:
    idle_cutoff, absolute_cutoff = _cutoffs(settings, now)
    # Each sign-in sweeps the owner's own dead sessions: the table holds live ones.
    rows.delete_expired(session, owner, idle_cutoff, absolute_cutoff)
    cookie_value = secrets.token_urlsafe(32)
    rows.add(session, hash_token(cookie_value), owner, secrets.token_urlsafe(32), now)
    return SignInResult(ok=True, cookie_value=cookie_value, message=None, locked=False)


@dataclass(frozen=True)
class _Attempt:
    """A password attempt, counted as failed before the password is checked."""

    failure_id: int  # deleted again when the password is right
    locked_until: datetime | None  # set when this attempt is the last one allowed

    def failed(self, message: str) -> SignInResult:
        if self.locked_until is not None:
            return _locked(self.locked_until)
        return SignInResult(ok=False, cookie_value=None, message=message, locked=False)


def _reserve(session: Session, settings: Settings, key: str, now: datetime) -> _Attempt | SignInResult:
    """The locked result for a locked key, else this attempt counted as failed up front.

    The lock check and the insert are serialized per key (`lock_sign_in_key`), so a burst
    of concurrent guesses is counted in full; the slow verify runs after the commit.
    """
    repository.lock_sign_in_key(session, key)
    locked = _locked_until(session, settings, key, now)
    if locked is not None:
        return _locked(locked)
    failure_id = _add_failure(session, settings, key, now)
    return _Attempt(failure_id, _locked_until(session, settings, key, now))


def _fail(session: Session, settings: Settings, key: str, now: datetime, message: str) -> SignInResult:
    _add_failure(session, settings, key, now)
    locked = _locked_until(session, settings, key, now)
    if locked is not None:  # this failure was the last one allowed
        return _locked(locked)
    return SignInResult(ok=False, cookie_value=None, message=message, locked=False)


def _add_failure(session: Session, settings: Settings, key: str, now: datetime) -> int:
    window = timedelta(minutes=settings.sign_in_lock_minutes)
    # Older failures can neither lock nor extend a lock: newest + lock must be in the future
    # and the counted ones within one window of it.
    repository.prune_sign_in_failures(session, now - 2 * window)
    return repository.add_sign_in_failure(session, key, now)


def _locked_until(session: Session, settings: Settings, key: str, now: datetime) -> datetime | None:
    window = timedelta(minutes=settings.sign_in_lock_minutes)
    failures = repository.recent_sign_in_failures(session, key, settings.sign_in_max_failures)
    if len(failures) < settings.sign_in_max_failures:
        return None
    newest, oldest = failures[0], failures[-1]
    until = newest + window
    return until if newest - oldest <= window and now < until else None


def _locked(until: datetime) -> SignInResult:
    # Rounded up to the minute, so "after HH:MM" is never a minute early.
    minute = until.replace(second=0, microsecond=0)
    if minute < until:
        minute += timedelta(minutes=1)
    return SignInResult(ok=False, cookie_value=None, message=LOCKED.format(time=minute.strftime("%H:%M")), locked=True)


def _cutoffs(settings: Settings, now: datetime) -> tuple[datetime, datetime]:
    """(idle, absolute): a session last seen before the first or created before the second is over."""
    return now - timedelta(hours=settings.session_idle_hours), now - timedelta(days=settings.session_absolute_days)


# The operator's page sign-in (/admin): every failure counts against this one key.
OPERATOR_KEY = "operator"
WRONG_OPERATOR_TOKEN = "That is not the operator token."  # noqa: S105


def do_operator_sign_in(db: Database, settings: Settings, token: str) -> SignInResult:
    """Checks the operator token in constant time, after the attempt is counted.

    Counted before the compare (so a burst of guesses is counted in full) and taken back
    when right; published tokens are refused outside development, as the API refuses them.
    `cookie_value` is not set: the page signs its own cookie (`web.admin.operator_session`).
    """
    now = utcnow()
    with db.transaction() as session:
        attempt = _reserve(session, settings, OPERATOR_KEY, now)
        if not isinstance(attempt, _Attempt):
            return attempt
        refused = settings.environment != "development" and is_well_known(token)
        right = not refused and hmac.compare_digest(
            token.encode("utf-8", "surrogatepass"), settings.admin_token.encode("utf-8")
        )
        if right:
            repository.delete_sign_in_failure(session, attempt.failure_id)
            return SignInResult(ok=True, cookie_value=None, message=None, locked=False)
    return attempt.failed(PUBLISHED_TOKEN_REFUSED if refused else WRONG_OPERATOR_TOKEN)
