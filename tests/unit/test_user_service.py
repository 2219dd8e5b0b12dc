"""The user service with db.session patched by an autospec of scoped_session."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest.mock import NonCallableMagicMock

import argon2
import pytest
import time_machine
from pytest_mock import MockerFixture
from sqlalchemy import Delete, Select
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError

from tests.support import STRONG_PASSWORD
from webapp.extensions import passwords
from webapp.models import User
from webapp.services import users
from webapp.services.errors import (
    EmailAlreadyRegistered,
    EmailNotVerified,
    InvalidEmail,
    LoginThrottled,
    PasswordRejected,
)
from webapp.services.throttle import ThrottlePolicy, issue_device_cookie


def _sql(statement: Select | Delete) -> tuple[str, dict[str, object]]:
    compiled = statement.compile(dialect=sqlite.dialect())
    return str(compiled), dict(compiled.params)


T0 = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)
DAY = timedelta(hours=24)


def _user(email: str = "ann@example.com", password: str = STRONG_PASSWORD, **kw: object) -> User:
    kw.setdefault("is_active", True)
    return User(id=1, email=email, name="Ann", password_hash=passwords.hasher.hash(password), **kw)


def test_register_adds_and_commits_a_normalized_user(session_mock: NonCallableMagicMock) -> None:
    user = users.register_user("  Ann.Lee@EXAMPLE.com ", " Ann Lee ", STRONG_PASSWORD)

    assert user.email == "ann.lee@example.com"
    assert user.name == "Ann Lee"
    assert STRONG_PASSWORD not in user.password_hash
    assert user.password_hash.startswith("$argon2id$")
    assert passwords.hasher.verify(user.password_hash, STRONG_PASSWORD)
    session_mock.add.assert_called_once_with(user)
    session_mock.commit.assert_called_once_with()
    session_mock.rollback.assert_not_called()


def test_register_duplicate_rolls_back_and_raises(session_mock: NonCallableMagicMock) -> None:
    session_mock.commit.side_effect = IntegrityError("INSERT", {}, Exception("UNIQUE"))

    with pytest.raises(EmailAlreadyRegistered) as raised:
        users.register_user("ann@example.com", "Ann", STRONG_PASSWORD)

    assert raised.value.email == "ann@example.com"
    session_mock.rollback.assert_called_once_with()


@pytest.mark.twin("test_a_stale_unconfirmed_account_is_replaced_by_a_new_sign_up")
def test_register_replacing_deletes_only_a_stale_unconfirmed_account_then_adds(
    session_mock: NonCallableMagicMock,
) -> None:
    order: list[str] = []
    session_mock.execute.side_effect = lambda *a, **k: order.append("execute")
    session_mock.add.side_effect = lambda *a, **k: order.append("add")
    session_mock.commit.side_effect = lambda *a, **k: order.append("commit")

    with time_machine.travel(T0, tick=False):
        user = users.register_user(
            "Ann@Example.com", "Ann", STRONG_PASSWORD, replace_unconfirmed_after=DAY
        )

    assert user.email == "ann@example.com"
    assert order == ["execute", "add", "commit"]  # one transaction: the index settles races
    (statement,), _ = session_mock.execute.call_args
    sql, params = _sql(statement)
    sql = " ".join(sql.split())
    assert sql.startswith("DELETE FROM users WHERE ")
    assert "lower(users.email) = ?" in sql
    assert "users.email_verified_at IS NULL" in sql
    assert "users.created_at <= ?" in sql
    assert (
        "NOT (EXISTS (SELECT * FROM user_sessions WHERE user_sessions.user_id = users.id))" in sql
    )
    assert "account_tokens.purpose = ? AND account_tokens.expires_at > ?" in sql
    assert sorted(map(str, params.values())) == sorted(
        ["ann@example.com", str(T0 - DAY), "verify", str(T0)]
    )
    session_mock.rollback.assert_not_called()


@pytest.mark.twin("test_an_unconfirmed_account_is_kept_without_replacement")
def test_register_without_replacement_deletes_nothing(session_mock: NonCallableMagicMock) -> None:
    users.register_user("ann@example.com", "Ann", STRONG_PASSWORD)

    session_mock.execute.assert_not_called()
    session_mock.commit.assert_called_once_with()


@pytest.mark.twin("test_register_rejected_input_touches_nothing")
def test_register_rejected_password_touches_nothing(session_mock: NonCallableMagicMock) -> None:
    with pytest.raises(PasswordRejected) as raised:
        users.register_user("ann@example.com", "Ann", "short")

    assert "15 characters" in raised.value.reason
    session_mock.add.assert_not_called()
    session_mock.commit.assert_not_called()


@pytest.mark.twin("test_register_rejected_input_touches_nothing")
def test_register_rejects_password_built_from_the_email(
    session_mock: NonCallableMagicMock,
) -> None:
    with pytest.raises(PasswordRejected):
        users.register_user("alice.smith@example.com", "Alice", "alicesmithalicesmith")

    session_mock.add.assert_not_called()


@pytest.mark.twin("test_register_rejected_input_touches_nothing")
def test_register_invalid_email_touches_nothing(session_mock: NonCallableMagicMock) -> None:
    with pytest.raises(InvalidEmail):
        users.register_user("not-an-email", "Ann", STRONG_PASSWORD)

    session_mock.add.assert_not_called()


def test_an_invalid_address_is_refused_with_the_reason() -> None:
    # The reason reaches the person: beside the sign-up field, and from `flask users create`.
    with pytest.raises(InvalidEmail) as raised:
        users.normalize_email("ann.example.com")

    assert "@-sign" in str(raised.value)  # email-validator's own explanation


def test_lookup_filters_on_the_normalized_email(session_mock: NonCallableMagicMock) -> None:
    expected = _user()
    session_mock.scalar.return_value = expected

    found = users.get_user_by_email(" ANN@Example.COM ")

    assert found is expected
    (statement,), _ = session_mock.scalar.call_args
    sql, params = _sql(statement)
    assert "lower(users.email) = ?" in sql
    assert list(params.values()) == ["ann@example.com"]


def test_lookup_of_an_invalid_address_is_none_without_a_query(
    session_mock: NonCallableMagicMock,
) -> None:
    assert users.get_user_by_email("no at sign") is None
    session_mock.scalar.assert_not_called()


def test_valid_login_returns_the_user(session_mock: NonCallableMagicMock) -> None:
    user = _user()
    session_mock.scalar.return_value = user

    assert users.authenticate("ann@example.com", STRONG_PASSWORD) is user
    session_mock.commit.assert_not_called()  # parameters are current: no rehash


@pytest.mark.twin("test_c19_the_owners_browser_gets_in_while_a_wait_runs_for_untrusted_clients")
def test_a_trusted_browser_signs_in_while_untrusted_clients_wait(
    session_mock: NonCallableMagicMock,
) -> None:
    user = _user()
    session_mock.scalar.return_value = user
    untrusted = ThrottlePolicy()
    trusted = ThrottlePolicy(
        device_cookie=issue_device_cookie(users.account_key(user.email), user.password_hash)
    )
    for _ in range(untrusted.free_failures):
        assert users.authenticate(user.email, "wrong " + STRONG_PASSWORD, untrusted) is None
    with pytest.raises(LoginThrottled):
        users.authenticate(user.email, STRONG_PASSWORD, untrusted)

    assert users.authenticate(user.email, STRONG_PASSWORD, trusted) is user
    with pytest.raises(LoginThrottled):  # her success is her browser's alone
        users.authenticate(user.email, STRONG_PASSWORD, untrusted)


def test_wrong_password_returns_none(session_mock: NonCallableMagicMock) -> None:
    session_mock.scalar.return_value = _user()

    assert users.authenticate("ann@example.com", "wrong " + STRONG_PASSWORD) is None


def test_inactive_account_returns_none(session_mock: NonCallableMagicMock) -> None:
    session_mock.scalar.return_value = _user(is_active=False)

    assert users.authenticate("ann@example.com", STRONG_PASSWORD) is None


def test_unknown_email_returns_none_after_a_dummy_verification(
    session_mock: NonCallableMagicMock, mocker: MockerFixture
) -> None:
    session_mock.scalar.return_value = None
    dummy = mocker.spy(passwords.hasher, "dummy_verify")

    assert users.authenticate("nobody@example.com", STRONG_PASSWORD) is None
    dummy.assert_called_once_with(STRONG_PASSWORD)


@pytest.mark.twin(
    "test_wrong_password_returns_none",
    "test_unknown_email_returns_none_after_a_dummy_verification",
)
@pytest.mark.parametrize("known", [True, False], ids=["wrong-password", "unknown-email"])
def test_c17_every_failed_login_runs_the_hasher_once(
    session_mock: NonCallableMagicMock, mocker: MockerFixture, known: bool
) -> None:
    session_mock.scalar.return_value = _user() if known else None
    verify = mocker.spy(argon2.PasswordHasher, "verify")

    assert users.authenticate("ann@example.com", "not the password at all") is None
    assert verify.call_count == 1


def test_c07_overlong_password_never_reaches_the_hasher(
    session_mock: NonCallableMagicMock, mocker: MockerFixture
) -> None:
    verify = mocker.spy(argon2.PasswordHasher, "verify")

    assert users.authenticate("ann@example.com", "x" * 1_000_000) is None
    verify.assert_not_called()
    session_mock.scalar.assert_not_called()


@pytest.mark.twin("test_valid_login_returns_the_user")
def test_c07_a_password_of_exactly_the_maximum_length_is_checked(
    session_mock: NonCallableMagicMock,
) -> None:
    longest = ("velvet otter climbs the lighthouse " * 30)[: passwords.policy.max_length]
    user = _user(password=longest)
    session_mock.scalar.return_value = user

    assert users.authenticate("ann@example.com", longest) is user


@pytest.mark.twin("test_signing_in_before_confirming_says_so_and_offers_a_new_link")
def test_right_password_for_an_unconfirmed_address_names_the_address(
    session_mock: NonCallableMagicMock,
) -> None:
    session_mock.scalar.return_value = _user(email_verified_at=None)

    with pytest.raises(EmailNotVerified) as raised:
        users.authenticate("Ann@Example.com", STRONG_PASSWORD, require_verified=True)

    assert raised.value.email == "ann@example.com"
    session_mock.commit.assert_not_called()


def test_c04_login_rehashes_when_parameters_changed(session_mock: NonCallableMagicMock) -> None:
    old = User(
        id=1,
        email="ann@example.com",
        name="Ann",
        password_hash=type(passwords.hasher)(time_cost=1, memory_cost=16).hash(STRONG_PASSWORD),
        is_active=True,
    )
    before = old.password_hash
    session_mock.scalar.return_value = old

    assert users.authenticate("ann@example.com", STRONG_PASSWORD) is old

    assert old.password_hash != before
    assert not passwords.hasher.needs_rehash(old.password_hash)
    session_mock.commit.assert_called_once_with()


def test_c04_failed_login_never_rewrites_an_old_hash(session_mock: NonCallableMagicMock) -> None:
    old_hash = type(passwords.hasher)(time_cost=1, memory_cost=16).hash(STRONG_PASSWORD)
    user = User(id=1, email="ann@example.com", name="Ann", password_hash=old_hash)
    session_mock.scalar.return_value = user

    assert users.authenticate("ann@example.com", "a wrong but long password") is None

    assert user.password_hash == old_hash
    session_mock.commit.assert_not_called()


def test_c31_deactivate_marks_inactive_and_ends_sessions(
    session_mock: NonCallableMagicMock,
) -> None:
    user = _user()
    session_mock.scalar.return_value = user

    assert users.deactivate_user("ann@example.com") is user

    assert user.is_active is False
    (statement,), _ = session_mock.execute.call_args
    assert statement.is_dml
    assert "UPDATE user_sessions SET revoked_at" in str(statement.compile())
    session_mock.commit.assert_called_once_with()


@pytest.mark.twin("test_list_users_returns_every_account_oldest_first")
def test_list_users_asks_for_every_account_oldest_first(
    session_mock: NonCallableMagicMock,
) -> None:
    accounts = [_user(), _user("bob@example.com")]
    session_mock.scalars.return_value.all.return_value = accounts

    assert users.list_users() == accounts

    (statement,), _ = session_mock.scalars.call_args
    sql, params = _sql(statement)
    assert " ".join(sql.split()).endswith("FROM users ORDER BY users.id")
    assert params == {}
