"""Requester passwords for page sign-in: argon2id, set by an operator or by the requester.

No HTTP here and no commit. Only the argon2id hash is stored (`requesters.password_hash`);
it carries its own salt and parameters, so a later change of parameters still verifies old
hashes, and a successful sign-in re-hashes them (`needs_rehash`).
"""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session

from crowdpost.accounts import repository
from crowdpost.errors import DoesNotExist, ValidationFailed, field_error

MIN_LENGTH = 10
MAX_LENGTH = 1024

# argon2-cffi's defaults: argon2id, RFC 9106's low-memory profile (t=3, 64 MiB, p=4).
# A module attribute so tests can swap in a cheap profile.
HASHER = PasswordHasher()


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def verify_password(hash: str, password: str) -> bool:
    """Whether the password matches; False (never an exception) for a mismatch or a damaged hash."""
    try:
        return HASHER.verify(hash, password)
    except (VerificationError, InvalidHashError):  # VerifyMismatchError is a VerificationError
        return False


def needs_rehash(hash: str) -> bool:
    """The hash was made with other parameters than today's (re-hash on the next sign-in)."""
    try:
        return HASHER.check_needs_rehash(hash)
    except InvalidHashError:
        return True


@cache
def _dummy_hash(hasher: PasswordHasher) -> str:
    return hasher.hash("not anybody's password")


def spend_a_verify(password: str) -> None:
    """Take as long as a real check: an unknown e-mail must not answer faster than a known one."""
    verify_password(_dummy_hash(HASHER), password)


def check_new_password(password: str) -> None:
    """ValidationFailed({"password": ...}) unless the password has 10 to 1,024 characters."""
    if len(password) < MIN_LENGTH:
        raise ValidationFailed(
            {
                "password": field_error(
                    "STRING_LENGTH_LESS_THAN_MIN",
                    f"Use at least {MIN_LENGTH} characters; a few words make a good password.",
                    MIN_LENGTH,
                )
            }
        )
    if len(password) > MAX_LENGTH:
        raise ValidationFailed(
            {
                "password": field_error(
                    "STRING_LENGTH_GREATER_THAN_MAX",
                    f"Use at most {MAX_LENGTH:,} characters.",
                    MAX_LENGTH,
                )
            }
        )


def do_set_password(session: Session, requester_id: int, password: str) -> None:
    """Set the requester's password (operator, demo data); every web session of theirs ends.

    The account's sign-in lock is lifted too: an operator sets a password so its owner can
    sign in now. DoesNotExist for an unknown requester.
    """
    check_new_password(password)
    row = repository.requester_password(session, requester_id)
    if row is None:
        raise DoesNotExist("Requester does not exist")
    repository.set_password_hash(session, requester_id, hash_password(password))
    repository.delete_web_sessions(session, requester_id)
    if row.email:
        repository.clear_sign_in_failures(session, email_key(row.email))


def email_key(email: str) -> str:
    """What sign-in failures of an e-mail are counted under: the same for any case or spacing."""
    return email.strip().lower()[:320]
