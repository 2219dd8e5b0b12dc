"""Twins of tests/unit/test_reset_service.py: reset and verification tokens on real SQLite.

Every check reads the database file through a new connection (``fresh_read`` /
``fresh_rows``), so only what was committed counts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta

import pytest
import time_machine
from flask import Flask
from sqlalchemy import select

from tests.integration.conftest import T0, FreshRead, FreshRows
from tests.production.servers import simultaneously
from tests.support import STRONG_PASSWORD
from webapp.extensions import passwords
from webapp.models import AccountToken, User, UserSession
from webapp.services import accounts, sessions, users
from webapp.services.errors import InvalidToken, PasswordRejected, WrongPassword

pytestmark = pytest.mark.usefixtures("db_context")

HOUR = timedelta(hours=1)
DAY = timedelta(hours=24)
NEW_PASSWORD = "a brand new passphrase for ann"
RACERS = 8


def _ann() -> User:
    return users.register_user("ann@example.com", "Ann", STRONG_PASSWORD)


def _reset_token(email: str = "ann@example.com") -> str:
    found = accounts.request_password_reset(email, HOUR)
    assert found is not None
    return found[1]


def _stored_hash(fresh_read: FreshRead, email: str = "ann@example.com") -> str:
    (user,) = fresh_read(select(User).where(User.email == email))
    return user.password_hash


# --- stored hashed ------------------------------------------------------------------------------


def test_a_reset_token_is_stored_only_as_its_sha256(
    fresh_read: FreshRead, fresh_rows: FreshRows, clock: time_machine.Traveller
) -> None:
    user = _ann()

    token = _reset_token()

    (raw,) = fresh_rows("SELECT * FROM account_tokens")
    assert raw["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert not any(token in str(value) for value in raw.values())
    assert raw["user_id"] == user.id
    assert raw["purpose"] == "reset"
    assert raw["used_at"] is None
    (row,) = fresh_read(select(AccountToken))
    assert row.expires_at == T0 + HOUR


def test_an_unknown_address_stores_nothing(fresh_rows: FreshRows) -> None:
    _ann()

    assert accounts.request_password_reset("nobody@example.com", HOUR) is None

    assert fresh_rows("SELECT * FROM account_tokens") == []


def test_a_request_changes_nothing_on_the_account(fresh_read: FreshRead) -> None:
    _ann()
    before = _stored_hash(fresh_read)

    _reset_token()

    (user,) = fresh_read(select(User))
    assert user.password_hash == before
    assert user.is_active


# --- single use, superseded, expiry, password change ---------------------------------------------


def test_a_reset_token_works_once(fresh_read: FreshRead, fresh_rows: FreshRows) -> None:
    _ann()
    token = _reset_token()

    accounts.reset_password(token, NEW_PASSWORD)

    assert passwords.hasher.verify(_stored_hash(fresh_read), NEW_PASSWORD)
    (raw,) = fresh_rows("SELECT used_at FROM account_tokens")
    assert raw["used_at"] is not None
    assert accounts.reset_token_is_valid(token) is False
    with pytest.raises(InvalidToken):
        accounts.reset_password(token, "yet another passphrase for ann")
    assert passwords.hasher.verify(_stored_hash(fresh_read), NEW_PASSWORD)


def test_a_newer_token_supersedes_the_older(fresh_rows: FreshRows) -> None:
    _ann()
    older = _reset_token()

    newer = _reset_token()

    assert accounts.reset_token_is_valid(older) is False
    assert accounts.reset_token_is_valid(newer) is True
    rows = fresh_rows("SELECT used_at FROM account_tokens ORDER BY id")
    assert [row["used_at"] is not None for row in rows] == [True, False]
    with pytest.raises(InvalidToken):
        accounts.reset_password(older, NEW_PASSWORD)


def test_a_reset_token_expires_after_its_lifetime(
    fresh_read: FreshRead, clock: time_machine.Traveller
) -> None:
    _ann()
    token = _reset_token()

    clock.shift(HOUR - timedelta(seconds=1))
    assert accounts.reset_token_is_valid(token) is True
    clock.shift(timedelta(seconds=1))

    assert accounts.reset_token_is_valid(token) is False
    with pytest.raises(InvalidToken):
        accounts.reset_password(token, NEW_PASSWORD)
    assert passwords.hasher.verify(_stored_hash(fresh_read), STRONG_PASSWORD)


def test_a_reset_token_dies_when_the_password_changes() -> None:
    user = _ann()
    token = _reset_token()

    accounts.change_password(
        user, STRONG_PASSWORD, NEW_PASSWORD, session_token="not signed in", throttle=None
    )

    assert accounts.reset_token_is_valid(token) is False


def test_a_rejected_password_leaves_the_token_usable(
    fresh_read: FreshRead, fresh_rows: FreshRows
) -> None:
    _ann()
    token = _reset_token()

    with pytest.raises(PasswordRejected):
        accounts.reset_password(token, "short")

    (raw,) = fresh_rows("SELECT used_at FROM account_tokens")
    assert raw["used_at"] is None
    assert passwords.hasher.verify(_stored_hash(fresh_read), STRONG_PASSWORD)
    accounts.reset_password(token, NEW_PASSWORD)
    assert passwords.hasher.verify(_stored_hash(fresh_read), NEW_PASSWORD)


def test_a_token_resets_only_its_own_user(fresh_read: FreshRead) -> None:
    _ann()
    users.register_user("bob@example.com", "Bob", STRONG_PASSWORD)
    bob_before = _stored_hash(fresh_read, "bob@example.com")
    token = _reset_token("ann@example.com")

    user = accounts.reset_password(token, NEW_PASSWORD)

    assert user.email == "ann@example.com"
    assert _stored_hash(fresh_read, "bob@example.com") == bob_before
    assert passwords.hasher.verify(_stored_hash(fresh_read, "ann@example.com"), NEW_PASSWORD)


def test_a_reset_revokes_every_session_of_the_user(fresh_read: FreshRead) -> None:
    ann = _ann()
    bob = users.register_user("bob@example.com", "Bob", STRONG_PASSWORD)
    for user, remember in ((ann, False), (ann, True), (bob, False)):
        sessions.open_session(user, remember=remember, user_agent="UA", ip="192.0.2.1")
    token = _reset_token()

    accounts.reset_password(token, NEW_PASSWORD)

    rows = fresh_read(select(UserSession).order_by(UserSession.id))
    assert [(row.user_id, row.revoked_at is not None) for row in rows] == [
        (ann.id, True),
        (ann.id, True),
        (bob.id, False),
    ]


def test_an_inactive_account_gets_no_token_and_its_token_dies(fresh_rows: FreshRows) -> None:
    _ann()
    token = _reset_token()

    users.deactivate_user("ann@example.com")

    assert accounts.reset_token_is_valid(token) is False
    assert accounts.request_password_reset("ann@example.com", HOUR) is None
    assert len(fresh_rows("SELECT * FROM account_tokens")) == 1


def test_a_reset_confirms_the_address(fresh_read: FreshRead, clock: time_machine.Traveller) -> None:
    user = _ann()
    verify = accounts.start_email_verification(user, DAY)
    token = _reset_token()
    clock.shift(timedelta(minutes=5))

    accounts.reset_password(token, NEW_PASSWORD)

    (stored,) = fresh_read(select(User))
    assert stored.email_verified_at == T0 + timedelta(minutes=5)
    assert accounts.verification_account(verify) is None  # nothing left to confirm


def test_a_reset_keeps_an_earlier_confirmation_date(
    fresh_read: FreshRead, clock: time_machine.Traveller
) -> None:
    accounts.verify_email(accounts.start_email_verification(_ann(), DAY), STRONG_PASSWORD, None)
    clock.shift(HOUR)

    accounts.reset_password(_reset_token(), NEW_PASSWORD)

    (stored,) = fresh_read(select(User))
    assert stored.email_verified_at == T0


# --- one link, several simultaneous submissions -------------------------------------------------


def _race(db_app: Flask, attempt: Callable[[int], object]) -> list[str]:
    """Run ``attempt(i)`` in RACERS threads released together, each in its own app context."""

    def racer(i: int) -> Callable[[], str]:
        def run() -> str:
            with db_app.app_context():
                try:
                    attempt(i)
                except InvalidToken:
                    return "refused"
                return "done"

        return run

    return simultaneously([racer(i) for i in range(RACERS)])


def test_only_one_of_simultaneous_resets_with_one_link_succeeds(
    db_app: Flask, fresh_read: FreshRead, fresh_rows: FreshRows
) -> None:
    sessions.open_session(_ann(), remember=False, user_agent="UA", ip="192.0.2.1")
    token = _reset_token()
    chosen = [f"passphrase number {i} for ann" for i in range(RACERS)]

    outcomes = _race(db_app, lambda i: accounts.reset_password(token, chosen[i]))

    assert sorted(outcomes) == ["done"] + ["refused"] * (RACERS - 1)
    winner = chosen[outcomes.index("done")]
    assert passwords.hasher.verify(_stored_hash(fresh_read), winner)
    (raw,) = fresh_rows("SELECT used_at FROM account_tokens")
    assert raw["used_at"] is not None
    (session_row,) = fresh_read(select(UserSession))
    assert session_row.revoked_at is not None


def test_only_one_of_simultaneous_confirmations_with_one_link_succeeds(
    db_app: Flask, fresh_read: FreshRead
) -> None:
    token = accounts.start_email_verification(_ann(), DAY)

    outcomes = _race(db_app, lambda i: accounts.verify_email(token, STRONG_PASSWORD, None))

    assert sorted(outcomes) == ["done"] + ["refused"] * (RACERS - 1)
    (stored,) = fresh_read(select(User))
    assert stored.email_verified_at is not None


# --- email verification -------------------------------------------------------------------------


def test_verify_email_sets_the_timestamp_once(
    fresh_read: FreshRead, fresh_rows: FreshRows, clock: time_machine.Traveller
) -> None:
    user = _ann()
    token = accounts.start_email_verification(user, DAY)
    (raw,) = fresh_rows("SELECT token_hash, purpose FROM account_tokens")
    assert raw == {"token_hash": hashlib.sha256(token.encode()).hexdigest(), "purpose": "verify"}

    accounts.verify_email(token, STRONG_PASSWORD, None)

    (stored,) = fresh_read(select(User))
    assert stored.email_verified_at == T0
    with pytest.raises(InvalidToken):
        accounts.verify_email(token, STRONG_PASSWORD, None)


def test_a_verification_token_expires_after_24_hours(
    fresh_read: FreshRead, clock: time_machine.Traveller
) -> None:
    token = accounts.start_email_verification(_ann(), DAY)

    clock.shift(DAY + timedelta(hours=1))

    with pytest.raises(InvalidToken):
        accounts.verify_email(token, STRONG_PASSWORD, None)
    (stored,) = fresh_read(select(User))
    assert stored.email_verified_at is None


def test_a_new_verification_token_supersedes_the_older() -> None:
    user = _ann()
    older = accounts.start_email_verification(user, DAY)

    newer = accounts.start_email_verification(user, DAY)

    with pytest.raises(InvalidToken):
        accounts.verify_email(older, STRONG_PASSWORD, None)
    assert accounts.verify_email(newer, STRONG_PASSWORD, None).email_verified_at is not None


def test_reset_and_verification_tokens_do_not_stand_in_for_each_other() -> None:
    user = _ann()
    verify = accounts.start_email_verification(user, DAY)
    reset = _reset_token()

    assert accounts.reset_token_is_valid(verify) is False
    with pytest.raises(InvalidToken):
        accounts.verify_email(reset, STRONG_PASSWORD, None)
    assert accounts.reset_token_is_valid(reset) is True


def test_verify_email_needs_the_password_or_the_signed_in_account(
    fresh_read: FreshRead, fresh_rows: FreshRows
) -> None:
    ann = _ann()
    bob = users.register_user("bob@example.com", "Bob", STRONG_PASSWORD)
    token = accounts.start_email_verification(ann, DAY)

    assert accounts.verification_account(token) == ann
    for password, signed_in in [("not the password at all", None), (None, bob), (None, None)]:
        with pytest.raises(WrongPassword):
            accounts.verify_email(token, password, None, signed_in=signed_in)
    (raw,) = fresh_rows("SELECT used_at FROM account_tokens")
    assert raw["used_at"] is None  # a wrong password does not spend the link
    assert [u.email_verified_at for u in fresh_read(select(User).order_by(User.id))] == [None, None]

    accounts.verify_email(token, None, None, signed_in=ann)

    (stored, _) = fresh_read(select(User).order_by(User.id))
    assert stored.email_verified_at is not None
