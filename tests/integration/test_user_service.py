"""Twins of tests/unit/test_user_service.py: what the mocked db.session assumed, on real SQLite."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import argon2
import pytest
import time_machine
from flask import Flask
from pytest_mock import MockerFixture
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.security import generate_password_hash

from tests.integration.conftest import FreshRead, FreshRows
from tests.production.servers import simultaneously
from tests.support import STRONG_PASSWORD
from webapp.extensions import db, passwords
from webapp.models import User, UserSession
from webapp.passwords import PasswordHasher
from webapp.services import accounts, sessions, users
from webapp.services.errors import (
    EmailAlreadyRegistered,
    InvalidEmail,
    PasswordRejected,
    UnknownUser,
)

pytestmark = pytest.mark.usefixtures("db_context")

DAY = timedelta(hours=24)


def _add_user(email: str, password_hash: str, *, is_active: bool = True) -> int:
    """Insert a user directly, bypassing the service (and its normalization)."""
    user = User(email=email, name="Ann", password_hash=password_hash, is_active=is_active)
    db.session.add(user)
    db.session.commit()
    return user.id


def _stored_user(fresh_read: FreshRead, email: str = "ann@example.com") -> User:
    (user,) = fresh_read(select(User).where(User.email == email))
    return user


def test_fresh_read_does_not_see_uncommitted_rows(fresh_read: FreshRead) -> None:
    """Proves the helper itself: a flushed but uncommitted row is invisible to it."""
    db.session.add(User(email="ann@example.com", name="Ann", password_hash="x"))
    db.session.flush()

    assert db.session.scalar(select(func.count(User.id))) == 1
    assert fresh_read(select(User)) == []
    db.session.rollback()


# --- register_user ------------------------------------------------------------------------


def test_register_adds_and_commits_a_normalized_user(
    fresh_read: FreshRead, fresh_rows: FreshRows
) -> None:
    """Proves add()+commit() persist the normalized email, trimmed name and an argon2id hash."""
    user = users.register_user("  Ann.Lee@EXAMPLE.com ", " Ann Lee ", STRONG_PASSWORD)

    (stored,) = fresh_read(select(User))
    assert stored.id == user.id
    assert stored.email == "ann.lee@example.com"
    assert stored.name == "Ann Lee"
    assert stored.is_active is True
    assert stored.password_hash.startswith("$argon2id$")
    assert passwords.hasher.verify(stored.password_hash, STRONG_PASSWORD)
    assert not passwords.hasher.needs_rehash(stored.password_hash)
    (raw,) = fresh_rows("SELECT * FROM users")
    assert not any(STRONG_PASSWORD in str(value) for value in raw.values())


def test_register_duplicate_rolls_back_and_raises(fresh_read: FreshRead) -> None:
    """Proves a duplicate in other case raises at commit, rollback leaves the session usable."""
    users.register_user("ann@example.com", "Ann", STRONG_PASSWORD)

    with pytest.raises(EmailAlreadyRegistered) as raised:
        users.register_user("ANN@Example.COM", "Ann Again", STRONG_PASSWORD)

    assert raised.value.email == "ann@example.com"
    bob = users.register_user("bob@example.com", "Bob", STRONG_PASSWORD)  # session still works
    assert bob.id is not None
    same_address = select(User).where(func.lower(User.email) == "ann@example.com")
    assert [u.name for u in fresh_read(same_address)] == ["Ann"]
    assert sorted(u.email for u in fresh_read(select(User))) == [
        "ann@example.com",
        "bob@example.com",
    ]


def test_c42_c45_unique_index_raises_integrity_error_at_commit_in_any_case() -> None:
    """Proves uq_users_email_lower makes the database, at commit(), refuse another letter case."""
    users.register_user("ann@example.com", "Ann", STRONG_PASSWORD)
    db.session.add(User(email="Ann@Example.com", name="Impostor", password_hash="x"))  # no flush

    with pytest.raises(IntegrityError, match="uq_users_email_lower"):
        db.session.commit()

    db.session.rollback()
    assert db.session.scalar(select(func.count(User.id))) == 1


# --- replacing a stale unconfirmed account -------------------------------------------------


def _stale_unconfirmed_ann(clock: time_machine.Traveller) -> User:
    """Ann's account as a sign-up under verification left it, its link now a second dead."""
    ann = users.register_user("ann@example.com", "Ann", STRONG_PASSWORD)
    accounts.start_email_verification(ann, DAY)
    clock.shift(DAY + timedelta(seconds=1))
    return ann


def test_a_stale_unconfirmed_account_is_replaced_by_a_new_sign_up(
    fresh_read: FreshRead, fresh_rows: FreshRows, clock: time_machine.Traveller
) -> None:
    _stale_unconfirmed_ann(clock)

    new = users.register_user(
        "ANN@example.com",
        "The real Ann",
        "the owner's own passphrase",
        replace_unconfirmed_after=DAY,
    )

    (stored,) = fresh_read(select(User))
    assert (stored.id, stored.name) == (new.id, "The real Ann")
    assert passwords.hasher.verify(stored.password_hash, "the owner's own passphrase")
    assert fresh_rows("SELECT * FROM account_tokens") == []  # the old link went with its account


def test_an_unconfirmed_account_is_kept_without_replacement(
    fresh_read: FreshRead, clock: time_machine.Traveller
) -> None:
    _stale_unconfirmed_ann(clock)

    with pytest.raises(EmailAlreadyRegistered):
        users.register_user("ann@example.com", "Someone", STRONG_PASSWORD)

    assert [u.name for u in fresh_read(select(User))] == ["Ann"]


@pytest.mark.parametrize(
    "kept", ["link-still-live", "resent-link-live", "confirmed", "signed-in-before"]
)
def test_an_account_that_is_not_stale_is_never_replaced(
    fresh_read: FreshRead, clock: time_machine.Traveller, kept: str
) -> None:
    ann = users.register_user("ann@example.com", "Ann", STRONG_PASSWORD)
    token = accounts.start_email_verification(ann, DAY)
    if kept == "link-still-live":
        clock.shift(DAY - timedelta(seconds=1))
    else:
        clock.shift(DAY + timedelta(hours=1))
    if kept == "resent-link-live":
        accounts.start_email_verification(ann, DAY)
    if kept == "confirmed":
        clock.shift(-timedelta(hours=2))
        accounts.verify_email(token, STRONG_PASSWORD, None)
        clock.shift(timedelta(hours=2))
    if kept == "signed-in-before":  # an account from before verification was required
        sessions.open_session(ann, remember=False, user_agent="UA", ip="192.0.2.1")

    with pytest.raises(EmailAlreadyRegistered):
        users.register_user(
            "ann@example.com", "Someone", STRONG_PASSWORD, replace_unconfirmed_after=DAY
        )

    assert [u.name for u in fresh_read(select(User))] == ["Ann"]


def test_simultaneous_sign_ups_replacing_one_stale_account_make_one_account(
    db_app: Flask, fresh_read: FreshRead, clock: time_machine.Traveller
) -> None:
    _stale_unconfirmed_ann(clock)
    racers = 8

    def sign_up(i: int) -> Callable[[], str]:
        def run() -> str:
            with db_app.app_context():
                try:
                    users.register_user(
                        "ann@example.com",
                        f"Racer {i}",
                        STRONG_PASSWORD,
                        replace_unconfirmed_after=DAY,
                    )
                except EmailAlreadyRegistered:
                    return "taken"
                return "created"

        return run

    outcomes = simultaneously([sign_up(i) for i in range(racers)])

    assert sorted(outcomes) == ["created"] + ["taken"] * (racers - 1)
    (stored,) = fresh_read(select(User))
    assert stored.name == f"Racer {outcomes.index('created')}"


@pytest.mark.parametrize(
    ("email", "password", "error"),
    [
        ("ann@example.com", "short", PasswordRejected),
        ("not-an-email", STRONG_PASSWORD, InvalidEmail),
    ],
    ids=["rejected-password", "invalid-email"],
)
def test_register_rejected_input_touches_nothing(
    fresh_read: FreshRead, email: str, password: str, error: type[Exception]
) -> None:
    """Proves a refused registration leaves no row behind, even with a real session."""
    with pytest.raises(error):
        users.register_user(email, "Ann", password)

    db.session.commit()  # a pending object would now be written: there is none
    assert fresh_read(select(User)) == []


# --- get_user_by_email --------------------------------------------------------------------


def test_lookup_of_an_unknown_address_is_none() -> None:
    """Proves db.session.scalar(select(...)) returns None, not an error, when no row matches."""
    users.register_user("ann@example.com", "Ann", STRONG_PASSWORD)

    assert users.get_user_by_email("nobody@example.com") is None


@pytest.mark.parametrize(
    ("registered", "typed"),
    [
        ("ann@example.com", " ANN@Example.COM "),
        ("Ann.Lee@Example.com", "\tann.lee@EXAMPLE.COM\n"),
        ("Éva@example.com", "  ÉVA@EXAMPLE.COM"),
    ],
    ids=["ascii", "dotted", "non-ascii"],
)
def test_lookup_filters_on_the_normalized_email(registered: str, typed: str) -> None:
    """Proves lower(users.email) = :normalized finds the row typed in other case and spacing."""
    user_id = users.register_user(registered, "Ann", STRONG_PASSWORD).id
    db.session.remove()  # a new session: the answer has to come from the database

    found = users.get_user_by_email(typed)

    assert found is not None
    assert found.id == user_id


def test_lookup_of_an_invalid_address_is_none_without_a_query() -> None:
    """Proves an unparsable address is None on a real session too, not a database error."""
    users.register_user("ann@example.com", "Ann", STRONG_PASSWORD)

    assert users.get_user_by_email("no at sign") is None


# --- authenticate -------------------------------------------------------------------------


def test_valid_login_returns_the_user(fresh_read: FreshRead) -> None:
    """Proves the real query returns the user for valid credentials and nothing is rewritten."""
    user_id = users.register_user("ann@example.com", "Ann", STRONG_PASSWORD).id
    before = _stored_user(fresh_read).password_hash
    db.session.remove()

    user = users.authenticate("Ann@Example.com", STRONG_PASSWORD)

    assert user is not None
    assert user.id == user_id
    assert _stored_user(fresh_read).password_hash == before


def test_wrong_password_returns_none() -> None:
    """Proves a wrong password against a stored argon2id hash gives None."""
    users.register_user("ann@example.com", "Ann", STRONG_PASSWORD)

    assert users.authenticate("ann@example.com", "wrong " + STRONG_PASSWORD) is None


def test_unknown_email_returns_none_after_a_dummy_verification() -> None:
    """Proves an unknown address (scalar -> None on a real table) gives None."""
    users.register_user("ann@example.com", "Ann", STRONG_PASSWORD)

    assert users.authenticate("nobody@example.com", STRONG_PASSWORD) is None


def test_inactive_account_returns_none() -> None:
    """Proves is_active=False as stored in the database refuses a correct password."""
    users.register_user("ann@example.com", "Ann", STRONG_PASSWORD)
    db.session.execute(update(User).values(is_active=False))
    db.session.commit()
    db.session.remove()

    assert users.authenticate("ann@example.com", STRONG_PASSWORD) is None


OLD_HASHES = {
    "argon2-old-parameters": lambda pw: PasswordHasher(time_cost=1, memory_cost=16).hash(pw),
    "werkzeug-pbkdf2": lambda pw: generate_password_hash(pw, method="pbkdf2:sha256:1000"),
}


@pytest.mark.parametrize("make_hash", OLD_HASHES.values(), ids=OLD_HASHES.keys())
def test_c04_login_rehashes_when_parameters_changed(fresh_read: FreshRead, make_hash) -> None:
    """Proves the rehash after a valid login is committed: a new connection sees argon2id."""
    old_hash = make_hash(STRONG_PASSWORD)
    _add_user("ann@example.com", old_hash)
    assert passwords.hasher.needs_rehash(old_hash)
    db.session.remove()

    assert users.authenticate("ann@example.com", STRONG_PASSWORD) is not None

    stored = _stored_user(fresh_read).password_hash
    assert stored != old_hash
    assert stored.startswith("$argon2id$")
    assert not passwords.hasher.needs_rehash(stored)
    assert passwords.hasher.verify(stored, STRONG_PASSWORD)


@pytest.mark.parametrize("make_hash", OLD_HASHES.values(), ids=OLD_HASHES.keys())
def test_c04_failed_login_never_rewrites_an_old_hash(fresh_read: FreshRead, make_hash) -> None:
    """Proves a failed login leaves the stored old hash exactly as it was."""
    old_hash = make_hash(STRONG_PASSWORD)
    _add_user("ann@example.com", old_hash)
    db.session.remove()

    assert users.authenticate("ann@example.com", "a wrong but long password") is None

    db.session.commit()  # even a later commit of this session writes nothing
    assert _stored_user(fresh_read).password_hash == old_hash


# --- deactivate_user ----------------------------------------------------------------------


def test_c31_deactivate_marks_inactive_and_ends_sessions(fresh_read: FreshRead) -> None:
    """Proves is_active=False and every session's revoked_at are committed, others untouched."""
    ann = users.register_user("ann@example.com", "Ann", STRONG_PASSWORD)
    bob = users.register_user("bob@example.com", "Bob", STRONG_PASSWORD)
    for user in (ann, ann, bob):
        sessions.open_session(user, remember=False, user_agent="UA", ip="192.0.2.1")
    ann_id, bob_id = ann.id, bob.id
    db.session.remove()

    assert users.deactivate_user("ANN@example.com").id == ann_id

    assert _stored_user(fresh_read).is_active is False
    assert _stored_user(fresh_read, "bob@example.com").is_active is True
    stored = fresh_read(select(UserSession).order_by(UserSession.id))
    assert [(s.user_id, s.revoked_at is not None) for s in stored] == [
        (ann_id, True),
        (ann_id, True),
        (bob_id, False),
    ]


def test_deactivate_unknown_email_raises() -> None:
    """Proves an address with no row gives UnknownUser (scalar -> None), not a crash."""
    users.register_user("ann@example.com", "Ann", STRONG_PASSWORD)

    with pytest.raises(UnknownUser):
        users.deactivate_user("nobody@example.com")


def test_list_users_returns_every_account_oldest_first() -> None:
    """Proves scalars(select(...).order_by(id)).all() returns committed users in id order."""
    for email in ("c@example.com", "a@example.com", "b@example.com"):
        users.register_user(email, "Someone", STRONG_PASSWORD)
    db.session.remove()

    assert [u.email for u in users.list_users()] == [
        "c@example.com",
        "a@example.com",
        "b@example.com",
    ]


def test_c07_overlong_password_never_reaches_the_hasher(mocker: MockerFixture) -> None:
    """Proves on a real database that an over-long password fails without any hashing."""
    users.register_user("ann@example.com", "Ann", STRONG_PASSWORD)
    verify = mocker.spy(argon2.PasswordHasher, "verify")

    assert users.authenticate("ann@example.com", "x" * 1_000_000) is None
    verify.assert_not_called()
