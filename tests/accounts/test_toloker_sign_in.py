"""The Toloker's page sign-in (crowdpost.accounts.toloker_web_sessions), at the service, on both backends.

Same rules as the requester's: token or e-mail + password, 10 failures lock a key for 15
minutes (unknown e-mails counted too), sessions end on sign-out and when an operator sets
the password. A Toloker session is never a requester session and the reverse.
"""

from __future__ import annotations

import itertools

import pytest
from argon2 import PasswordHasher, profiles

from crowdpost.accounts import passwords, toloker_web_sessions, web_sessions
from crowdpost.accounts.service import do_create_requester, do_issue_toloker_token
from crowdpost.accounts.web_sessions import WRONG_PASSWORD, WRONG_TOKEN
from crowdpost.config import Settings
from crowdpost.db import Database
from crowdpost.errors import DoesNotExist, ValidationFailed
from crowdpost.models import Toloker

PASSWORD = "toloker password 1"
_numbers = itertools.count(1)


@pytest.fixture(autouse=True)
def cheap_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords, "HASHER", PasswordHasher.from_parameters(profiles.CHEAPEST))


def make_toloker(db: Database, *, password: str | None = PASSWORD) -> tuple[str, str, str]:
    """(user id, e-mail, API token) of a new Toloker."""
    number = next(_numbers)
    user_id, email = f"toloker-{number:04d}", f"Worker{number}@Example.test"
    with db.transaction() as session:
        session.add(Toloker(id=user_id, email=email))
        session.flush()
        token = do_issue_toloker_token(session, user_id)
        if password is not None:
            toloker_web_sessions.do_set_password(session, user_id, password)
    return user_id, email, token


def test_token_and_password_sign_in_start_a_toloker_session(db: Database, settings: Settings) -> None:
    user_id, email, token = make_toloker(db)
    by_token = toloker_web_sessions.do_sign_in_with_token(db, settings, f"OAuth {token}")
    by_password = toloker_web_sessions.do_sign_in_with_password(db, settings, email.lower(), PASSWORD)
    for result in (by_token, by_password):
        assert result.ok, result.message
        web = toloker_web_sessions.authenticate_web(db, settings, result.cookie_value)
        assert web is not None
        assert web.user_id == user_id
        # A Toloker cookie is no requester session.
        assert web_sessions.authenticate_web(db, settings, result.cookie_value) is None
    with db.transaction() as session:
        toloker_web_sessions.do_sign_out(session, by_token.cookie_value or "")
    assert toloker_web_sessions.authenticate_web(db, settings, by_token.cookie_value) is None
    assert toloker_web_sessions.authenticate_web(db, settings, by_password.cookie_value) is not None
    # An operator setting the password ends every session of the Toloker.
    with db.transaction() as session:
        toloker_web_sessions.do_set_password(session, user_id, "another password 2")
    assert toloker_web_sessions.authenticate_web(db, settings, by_password.cookie_value) is None


def test_other_roles_tokens_and_wrong_passwords_are_refused(db: Database, settings: Settings) -> None:
    _, email, _ = make_toloker(db)
    with db.transaction() as session:
        requester_token = do_create_requester(session, public_name="Buyer", email="b@example.test").token
    refused = toloker_web_sessions.do_sign_in_with_token(db, settings, requester_token)
    assert not refused.ok
    assert refused.message == WRONG_TOKEN
    # ...and a Toloker token does not sign in to the requester's pages.
    _, _, toloker_token = make_toloker(db)
    assert not web_sessions.do_sign_in_with_token(db, settings, toloker_token).ok
    wrong = toloker_web_sessions.do_sign_in_with_password(db, settings, email, "not the password")
    assert not wrong.ok
    assert wrong.message == WRONG_PASSWORD
    assert wrong.cookie_value is None
    # Without a password set, the e-mail signs nobody in.
    _, no_password_email, _ = make_toloker(db, password=None)
    assert not toloker_web_sessions.do_sign_in_with_password(db, settings, no_password_email, PASSWORD).ok


@pytest.mark.parametrize("known", [True, False], ids=["known e-mail", "unknown e-mail"])
def test_ten_failures_lock_the_e_mail(db: Database, settings: Settings, known: bool) -> None:
    email = make_toloker(db)[1] if known else "nobody@example.test"
    results = [
        toloker_web_sessions.do_sign_in_with_password(db, settings, email, f"wrong {n}")
        for n in range(settings.sign_in_max_failures)
    ]
    assert [r.locked for r in results] == [False] * (settings.sign_in_max_failures - 1) + [True]
    # Locked: the right password is refused too, with the lock's message.
    after = toloker_web_sessions.do_sign_in_with_password(db, settings, email, PASSWORD)
    assert not after.ok
    assert after.locked
    assert after.message is not None
    assert "Too many failed sign-ins" in after.message


def test_operator_password_rules(db: Database) -> None:
    user_id, _, _ = make_toloker(db, password=None)
    with db.transaction() as session, pytest.raises(ValidationFailed):
        toloker_web_sessions.do_set_password(session, user_id, "short")
    with db.transaction() as session, pytest.raises(DoesNotExist):
        toloker_web_sessions.do_set_password(session, "no-such-toloker", PASSWORD)
