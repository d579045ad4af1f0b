"""Page sign-in and web sessions (crowdpost.accounts.web_sessions), at the service, on both backends.

Time moves by editing the stored rows (failure times, a session's created/last_seen),
never by sleeping: the service compares them with its own clock.
"""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import pytest
from argon2 import PasswordHasher, profiles
from sqlalchemy import QueuePool, select, update

from crowdpost.accounts import passwords
from crowdpost.accounts.exposure import DEMO_PASSWORD
from crowdpost.accounts.passwords import do_set_password
from crowdpost.accounts.repository import add_token, lock_sign_in_key
from crowdpost.accounts.service import do_create_requester, do_revoke_token, issue_token
from crowdpost.accounts.tokens import DEMO_REQUESTER_TOKEN, hash_token
from crowdpost.accounts.web_sessions import (
    DEMO_PASSWORD_REFUSED,
    PUBLISHED_TOKEN_REFUSED,
    WRONG_PASSWORD,
    WRONG_TOKEN,
    SignInResult,
    WebSession,
    authenticate_web,
    csrf_matches,
    do_change_password,
    do_sign_in_with_password,
    do_sign_in_with_token,
    do_sign_out,
)
from crowdpost.config import Settings
from crowdpost.db import Database
from crowdpost.errors import ValidationFailed
from crowdpost.kit.timefmt import utcnow
from crowdpost.models import Requester, SignInFailure, Toloker
from crowdpost.models import WebSession as WebSessionRow
from tests.fixtures.factories import ADMIN_TOKEN

PASSWORD = "correct horse battery"
LOCKED_MESSAGE = re.compile(r"^Too many failed sign-ins for this account\. Try again after (\d\d):(\d\d) UTC\.$")


@pytest.fixture(autouse=True)
def cheap_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id with the cheapest parameters: the lock tests verify dozens of passwords."""
    monkeypatch.setattr(passwords, "HASHER", PasswordHasher.from_parameters(profiles.CHEAPEST))


@dataclass(frozen=True)
class Account:
    id: int
    email: str
    token: str


_emails = iter(range(1, 1_000_000))


def make_account(db: Database, password: str | None = PASSWORD, email: str | None = None) -> Account:
    email = email or f"buyer{next(_emails)}@example.test"
    with db.transaction() as session:
        created = do_create_requester(session, public_name="Buyer", email=email)
        if password is not None:
            do_set_password(session, created.requester.id, password)
    return Account(created.requester.id, email, created.token)


def sign_in(db: Database, settings: Settings, email: str, password: str) -> SignInResult:
    return do_sign_in_with_password(db, settings, email, password)


def sign_in_with_token(db: Database, settings: Settings, token: str) -> SignInResult:
    return do_sign_in_with_token(db, settings, token)


def signed_in(db: Database, settings: Settings, account: Account, password: str = PASSWORD) -> tuple[str, WebSession]:
    result = sign_in(db, settings, account.email, password)
    assert result.ok, result.message
    assert result.cookie_value is not None
    web = authenticate_web(db, settings, result.cookie_value)
    assert web is not None
    return result.cookie_value, web


def failure_count(db: Database, key: str) -> int:
    with db.transaction(write=False) as session:
        return len(session.execute(select(SignInFailure.id).where(SignInFailure.key == key)).all())


def move_failures_back(db: Database, by: timedelta) -> None:
    with db.transaction() as session:
        for row in session.execute(select(SignInFailure)).scalars():
            row.created -= by


def age_session(db: Database, cookie_value: str, *, created: timedelta, last_seen: timedelta) -> None:
    now = utcnow()
    with db.transaction() as session:
        session.execute(
            update(WebSessionRow)
            .where(WebSessionRow.session_hash == hash_token(cookie_value))
            .values(created=now - created, last_seen=now - last_seen)
        )


# --- Passwords ----------------------------------------------------------------------------


def test_the_right_password_signs_in_and_the_session_names_the_requester(db: Database, settings: Settings) -> None:
    account = make_account(db)
    cookie, web = signed_in(db, settings, account)
    assert web.requester_id == account.id
    assert len(cookie) >= 43
    assert len(web.csrf_token) >= 43
    # The e-mail is matched in any case and with stray spaces, as people type it.
    again = sign_in(db, settings, f"  {account.email.upper()} ", PASSWORD)
    assert again.ok
    assert again.cookie_value not in (None, cookie)


def test_a_wrong_password_and_an_unknown_email_get_one_message_and_both_are_counted(
    db: Database, settings: Settings
) -> None:
    account = make_account(db)
    wrong = sign_in(db, settings, account.email, "not the password")
    unknown = sign_in(db, settings, "nobody@example.test", PASSWORD)
    no_password = sign_in(db, settings, make_account(db, password=None).email, "")
    for result in (wrong, unknown, no_password):
        assert result == SignInResult(ok=False, cookie_value=None, message=WRONG_PASSWORD, locked=False)
    # The failures committed with the caller's transaction, whether or not the e-mail exists.
    assert failure_count(db, account.email) == 1
    assert failure_count(db, "nobody@example.test") == 1


def test_ten_failures_lock_the_account_even_for_the_right_password_until_the_window_passes(
    db: Database, settings: Settings
) -> None:
    account = make_account(db)
    bystander = make_account(db)
    for attempt in range(1, 10):
        result = sign_in(db, settings, account.email, f"guess number {attempt}")
        assert not result.locked, attempt
    tenth = sign_in(db, settings, account.email.upper(), "guess number 10")
    assert tenth.locked
    assert tenth.message is not None
    assert LOCKED_MESSAGE.match(tenth.message)

    eleventh = sign_in(db, settings, account.email, PASSWORD)
    assert not eleventh.ok
    assert eleventh.locked
    assert eleventh.message == tenth.message
    # The lock names when it ends: the newest failure plus 15 minutes, rounded up to the minute.
    with db.transaction(write=False) as session:
        newest = max(session.execute(select(SignInFailure.created)).scalars())
    ends = newest + timedelta(minutes=15)
    match = LOCKED_MESSAGE.match(eleventh.message or "")
    assert match is not None
    named = ends.replace(hour=int(match[1]), minute=int(match[2]), second=0, microsecond=0)
    assert timedelta(0) <= named - ends < timedelta(minutes=1)
    # Refused attempts check nothing and are not counted: the named time stays true.
    assert failure_count(db, account.email) == 10
    # Another account is untouched, and its success resets nobody's failures.
    assert sign_in(db, settings, bystander.email, PASSWORD).ok
    assert sign_in(db, settings, account.email, PASSWORD).locked

    move_failures_back(db, timedelta(minutes=15, seconds=1))
    assert sign_in(db, settings, account.email, PASSWORD).ok


def test_a_burst_of_concurrent_guesses_is_counted_in_full(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Attempts on one e-mail are serialized: twenty at once cannot all read "no failures yet"."""
    # A verify slow enough (milliseconds) that unserialized attempts would overlap.
    monkeypatch.setattr(passwords, "HASHER", PasswordHasher(time_cost=1, memory_cost=4096, parallelism=1))
    account = make_account(db)
    start = threading.Barrier(20)

    def guess(n: int) -> SignInResult:
        start.wait()
        return sign_in(db, settings, account.email, f"guess number {n}")

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(guess, range(20)))
    assert failure_count(db, account.email) == 10
    assert sum(r.locked for r in results) == 11  # the tenth failure and the ten refused after it
    assert not any(r.ok for r in results)


def test_the_password_is_checked_with_no_transaction_or_connection_held(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A flood of sign-ins cannot queue the server's writes behind argon2 verifies.

    While a sign-in's verify is held open, another write transaction (which also takes the
    key's sign-in lock) completes: on SQLite it needs the one write lock, on PostgreSQL the
    key's advisory lock, and neither may be held across the verify.
    """
    account = make_account(db)
    key = passwords.email_key(account.email)
    verifying, release = threading.Event(), threading.Event()
    held: list[int] = []
    real_verify = passwords.verify_password

    def held_open_verify(password_hash: str, password: str) -> bool:
        pool = db.engine.pool
        assert isinstance(pool, QueuePool)
        held.append(pool.checkedout())
        verifying.set()
        release.wait(timeout=60)  # only a safety net: the test releases it in every outcome
        return real_verify(password_hash, password)

    def write_meanwhile() -> None:
        with db.transaction() as session:
            lock_sign_in_key(session, key)
            session.execute(update(Requester).where(Requester.id == account.id).values(public_name="Renamed"))

    monkeypatch.setattr(passwords, "verify_password", held_open_verify)
    with ThreadPoolExecutor(max_workers=2) as pool:
        signing_in = pool.submit(sign_in, db, settings, account.email, PASSWORD)
        try:
            assert verifying.wait(timeout=30)
            # Before the fix this waited for the verify (SQLite's busy timeout is 30 s).
            pool.submit(write_meanwhile).result(timeout=10)
        finally:
            release.set()
        assert signing_in.result(timeout=30).ok
    assert held == [0]
    # The attempt was counted while the password was checked, and taken back as it succeeded.
    assert failure_count(db, key) == 0


def test_a_right_password_takes_back_only_its_own_count(db: Database, settings: Settings) -> None:
    account = make_account(db)
    for n in range(9):
        sign_in(db, settings, account.email, f"guess number {n}")
    assert sign_in(db, settings, account.email, PASSWORD).ok  # the tenth attempt: counted, then taken back
    assert failure_count(db, account.email) == 9
    assert sign_in(db, settings, account.email, "guess number 10").locked


def test_a_password_set_while_the_old_one_is_checked_wins(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The operator's new password ends every session: none may start from the old one after it."""
    account = make_account(db)
    real_verify = passwords.verify_password
    calls: list[str] = []

    def verify_then_operator_sets(password_hash: str, password: str) -> bool:
        calls.append(password_hash)
        if len(calls) == 1:
            with db.transaction() as session:
                do_set_password(session, account.id, "set by the operator")
        return real_verify(password_hash, password)

    monkeypatch.setattr(passwords, "verify_password", verify_then_operator_sets)
    result = sign_in(db, settings, account.email, PASSWORD)
    assert result == SignInResult(ok=False, cookie_value=None, message=WRONG_PASSWORD, locked=False)
    assert len(calls) == 2  # the old hash verified, then the new one refused it
    with db.transaction(write=False) as session:
        assert session.execute(select(WebSessionRow.id)).first() is None
    assert sign_in(db, settings, account.email, "set by the operator").ok


def test_a_hash_of_older_parameters_is_upgraded_when_it_signs_in(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = make_account(db)
    stronger = PasswordHasher.from_parameters(replace(profiles.CHEAPEST, time_cost=2))
    monkeypatch.setattr(passwords, "HASHER", stronger)
    assert sign_in(db, settings, account.email, PASSWORD).ok
    with db.transaction(write=False) as session:
        stored = session.execute(select(Requester.password_hash).where(Requester.id == account.id)).scalar_one()
    assert stored is not None
    assert not stronger.check_needs_rehash(stored)
    assert stronger.verify(stored, PASSWORD)
    assert sign_in(db, settings, account.email, PASSWORD).ok


def test_an_unknown_email_locks_exactly_like_an_account(db: Database, settings: Settings) -> None:
    results = [sign_in(db, settings, "ghost@example.test", f"guess number {n}") for n in range(11)]
    assert [r.locked for r in results] == [False] * 9 + [True, True]


def test_failures_spread_over_more_than_the_window_do_not_lock(db: Database, settings: Settings) -> None:
    account = make_account(db)
    for n in range(9):
        sign_in(db, settings, account.email, f"guess number {n}")
    move_failures_back(db, timedelta(minutes=16))
    assert not sign_in(db, settings, account.email, "guess number 10").locked
    assert sign_in(db, settings, account.email, PASSWORD).ok


def test_old_failures_are_pruned(db: Database, settings: Settings) -> None:
    for n in range(3):
        sign_in(db, settings, f"old{n}@example.test", "whatever it was")
    move_failures_back(db, timedelta(minutes=31))
    sign_in(db, settings, "new@example.test", "whatever it is")
    with db.transaction(write=False) as session:
        keys = list(session.execute(select(SignInFailure.key)).scalars())
    assert keys == ["new@example.test"]


def test_the_demo_password_is_refused_outside_development(db: Database, settings: Settings, tmp_path: object) -> None:
    account = make_account(db, password=DEMO_PASSWORD)
    refused = sign_in(db, settings, account.email, DEMO_PASSWORD)
    assert (refused.ok, refused.message) == (False, DEMO_PASSWORD_REFUSED)
    development = settings.model_copy(update={"environment": "development"})
    assert sign_in(db, development, account.email, DEMO_PASSWORD).ok


# --- Tokens -------------------------------------------------------------------------------


def test_a_requester_token_signs_in(db: Database, settings: Settings) -> None:
    account = make_account(db, password=None)
    for given in (account.token, f"OAuth {account.token}", f" {account.token}\n"):
        result = sign_in_with_token(db, settings, given)
        assert result.ok, given
        web = authenticate_web(db, settings, result.cookie_value)
        assert web is not None
        assert web.requester_id == account.id


def test_other_tokens_get_one_refusal(db: Database, settings: Settings) -> None:
    account = make_account(db)
    with db.transaction() as session:
        session.add(Toloker(id="toloker-1", created=utcnow()))
        session.flush()
        toloker_token = issue_token(session, toloker_id="toloker-1")
        revoked = issue_token(session, requester_id=account.id)
        do_revoke_token(session, revoked)
    for token in (toloker_token, ADMIN_TOKEN, revoked, "cpr_made_up", ""):
        result = sign_in_with_token(db, settings, token)
        assert result == SignInResult(ok=False, cookie_value=None, message=WRONG_TOKEN, locked=False), token
    assert failure_count(db, "token:" + hash_token(toloker_token)) == 1


def test_published_demo_tokens_sign_in_only_in_development(db: Database, settings: Settings) -> None:
    account = make_account(db)
    with db.transaction() as session:
        digest = hash_token(DEMO_REQUESTER_TOKEN)
        add_token(session, digest, "REQUESTER", requester_id=account.id, toloker_id=None, now=utcnow())
    refused = sign_in_with_token(db, settings, DEMO_REQUESTER_TOKEN)
    assert (refused.ok, refused.message) == (False, PUBLISHED_TOKEN_REFUSED)
    development = settings.model_copy(update={"environment": "development"})
    assert sign_in_with_token(db, development, DEMO_REQUESTER_TOKEN).ok


def test_ten_failures_lock_a_token(db: Database, settings: Settings) -> None:
    account = make_account(db)
    with db.transaction() as session:
        token = issue_token(session, requester_id=account.id)
        do_revoke_token(session, token)
    results = [sign_in_with_token(db, settings, token) for _ in range(11)]
    assert [r.locked for r in results] == [False] * 9 + [True, True]
    # Another token of the same requester is a different key.
    assert sign_in_with_token(db, settings, account.token).ok


# --- Sessions -----------------------------------------------------------------------------


@pytest.mark.parametrize("cookie", [None, "", "x", "y" * 1000])
def test_a_missing_or_unknown_cookie_is_nobody(db: Database, settings: Settings, cookie: str | None) -> None:
    assert authenticate_web(db, settings, cookie) is None


def test_only_hashes_are_stored(db: Database, settings: Settings) -> None:
    account = make_account(db)
    cookie, web = signed_in(db, settings, account)
    with db.transaction(write=False) as session:
        row = session.execute(select(WebSessionRow)).scalar_one()
    assert row.session_hash == hash_token(cookie)
    assert cookie not in (row.session_hash, row.csrf_token)
    assert row.csrf_token == web.csrf_token


def test_each_session_has_its_own_csrf_token(db: Database, settings: Settings) -> None:
    account = make_account(db)
    _, first = signed_in(db, settings, account)
    _, second = signed_in(db, settings, account)
    assert first.csrf_token != second.csrf_token
    assert csrf_matches(first, first.csrf_token)
    for wrong in (second.csrf_token, "", None, first.csrf_token[:-1]):
        assert not csrf_matches(first, wrong)


def test_a_session_ends_when_idle(db: Database, settings: Settings) -> None:
    account = make_account(db)
    cookie, _ = signed_in(db, settings, account)
    age_session(db, cookie, created=timedelta(hours=11), last_seen=timedelta(hours=11, minutes=59))
    assert authenticate_web(db, settings, cookie) is not None  # and that use counts as activity
    age_session(db, cookie, created=timedelta(hours=13), last_seen=timedelta(hours=12, minutes=1))
    assert authenticate_web(db, settings, cookie) is None


def test_a_session_ends_after_fourteen_days_however_busy(db: Database, settings: Settings) -> None:
    account = make_account(db)
    cookie, _ = signed_in(db, settings, account)
    age_session(db, cookie, created=timedelta(days=13, hours=23), last_seen=timedelta(seconds=1))
    assert authenticate_web(db, settings, cookie) is not None
    age_session(db, cookie, created=timedelta(days=14, minutes=1), last_seen=timedelta(seconds=1))
    assert authenticate_web(db, settings, cookie) is None


def test_last_seen_is_written_at_most_once_a_minute(db: Database, settings: Settings) -> None:
    account = make_account(db)
    cookie, _ = signed_in(db, settings, account)

    def last_seen() -> datetime:
        with db.transaction(write=False) as session:
            return session.execute(select(WebSessionRow.last_seen)).scalar_one()

    age_session(db, cookie, created=timedelta(minutes=5), last_seen=timedelta(seconds=30))
    before = last_seen()
    assert authenticate_web(db, settings, cookie) is not None
    assert last_seen() == before
    age_session(db, cookie, created=timedelta(minutes=5), last_seen=timedelta(minutes=2))
    before = last_seen()
    assert authenticate_web(db, settings, cookie) is not None
    assert last_seen() > before


def test_sign_in_sweeps_the_requesters_dead_sessions(db: Database, settings: Settings) -> None:
    account = make_account(db)
    other = make_account(db)
    dead, _ = signed_in(db, settings, account)
    others_dead, _ = signed_in(db, settings, other)
    for cookie in (dead, others_dead):
        age_session(db, cookie, created=timedelta(days=1), last_seen=timedelta(hours=13))
    signed_in(db, settings, account)
    with db.transaction(write=False) as session:
        hashes = set(session.execute(select(WebSessionRow.session_hash)).scalars())
    assert hash_token(dead) not in hashes
    assert hash_token(others_dead) in hashes  # only the signing-in requester's own rows


def test_sign_out_deletes_only_that_session(db: Database, settings: Settings) -> None:
    account = make_account(db)
    cookie, _ = signed_in(db, settings, account)
    other_cookie, _ = signed_in(db, settings, account)
    with db.transaction() as session:
        do_sign_out(session, cookie)
        do_sign_out(session, "never issued")
    assert authenticate_web(db, settings, cookie) is None
    assert authenticate_web(db, settings, other_cookie) is not None
    with db.transaction(write=False) as session:
        assert len(session.execute(select(WebSessionRow.id)).all()) == 1


# --- Changing and setting the password ----------------------------------------------------


def test_changing_the_password_ends_every_other_session_and_keeps_this_one(db: Database, settings: Settings) -> None:
    account = make_account(db)
    other_account = make_account(db)
    here, web = signed_in(db, settings, account)
    elsewhere, _ = signed_in(db, settings, account)
    bystander, _ = signed_in(db, settings, other_account)
    new = "a brand new passphrase"
    with db.transaction() as session:
        do_change_password(session, web, PASSWORD, new)
    assert authenticate_web(db, settings, here) == web
    assert authenticate_web(db, settings, elsewhere) is None
    assert authenticate_web(db, settings, bystander) is not None
    assert not sign_in(db, settings, account.email, PASSWORD).ok
    assert sign_in(db, settings, account.email, new).ok


@pytest.mark.parametrize(
    ("current", "new", "fields"),
    [
        ("wrong current one", "a brand new passphrase", {"current_password"}),
        (PASSWORD, "short", {"new_password"}),
        (PASSWORD, "x" * 1025, {"new_password"}),
        ("wrong current one", "short", {"current_password", "new_password"}),
    ],
)
def test_a_refused_change_says_which_field_and_changes_nothing(
    db: Database, settings: Settings, current: str, new: str, fields: set[str]
) -> None:
    account = make_account(db)
    _, web = signed_in(db, settings, account)
    elsewhere, _ = signed_in(db, settings, account)
    with pytest.raises(ValidationFailed) as refused, db.transaction() as session:
        do_change_password(session, web, current, new)
    assert set(refused.value.payload) == fields
    assert authenticate_web(db, settings, elsewhere) is not None
    assert sign_in(db, settings, account.email, PASSWORD).ok


def test_without_a_password_there_is_nothing_to_change(db: Database, settings: Settings) -> None:
    account = make_account(db, password=None)
    result = sign_in_with_token(db, settings, account.token)
    web = authenticate_web(db, settings, result.cookie_value)
    assert web is not None
    with pytest.raises(ValidationFailed) as refused, db.transaction() as session:
        do_change_password(session, web, "", "a brand new passphrase")
    assert set(refused.value.payload) == {"current_password"}


def test_setting_a_password_ends_every_session_and_lifts_the_lock(db: Database, settings: Settings) -> None:
    account = make_account(db)
    first, _ = signed_in(db, settings, account)
    second, _ = signed_in(db, settings, account)
    for n in range(10):
        sign_in(db, settings, account.email, f"guess number {n}")
    assert sign_in(db, settings, account.email, PASSWORD).locked
    with db.transaction() as session:
        do_set_password(session, account.id, "set by the operator")
    assert authenticate_web(db, settings, first) is None
    assert authenticate_web(db, settings, second) is None
    assert sign_in(db, settings, account.email, "set by the operator").ok
