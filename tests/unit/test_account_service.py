"""Password change, account deletion and the session list, with db.session patched.

Each assumption made here about the database (one commit for the whole change, the UPDATE's
WHERE clause, ON DELETE CASCADE) is proven again in tests/integration/test_account_service.py.
"""

from __future__ import annotations

import unicodedata
from datetime import timedelta
from typing import Any
from unittest.mock import NonCallableMagicMock

import pytest
from sqlalchemy import Update
from sqlalchemy.dialects import sqlite

from tests.support import STRONG_PASSWORD
from webapp.extensions import passwords
from webapp.models import User, UserSession, utcnow
from webapp.services import accounts, sessions, users
from webapp.services.errors import LoginThrottled, PasswordRejected, WrongPassword
from webapp.services.throttle import ThrottlePolicy, issue_device_cookie

NEW_PASSWORD = "velvet otter climbs the lighthouse"
WRONG = "definitely not the password"
LIMITS = sessions.SessionLimits(
    idle=timedelta(minutes=30), absolute=timedelta(hours=12), remember=timedelta(days=30)
)


def _sql(statement: Any) -> tuple[str, list[object]]:
    compiled = statement.compile(dialect=sqlite.dialect())
    return " ".join(str(compiled).split()), list(compiled.params.values())


def _user(password: str = STRONG_PASSWORD) -> User:
    return User(
        id=7,
        email="ann@example.com",
        name="Ann",
        password_hash=passwords.hasher.hash(password),
        is_active=True,
    )


def _updates(session_mock: NonCallableMagicMock, table: str) -> list[Update]:
    statements = [call.args[0] for call in session_mock.execute.call_args_list]
    return [s for s in statements if isinstance(s, Update) and s.table.name == table]


# --- change_password ------------------------------------------------------------------------

CAFE = "café au lait by the lighthouse"  # composed é
CAFE_NFD = unicodedata.normalize("NFD", CAFE)  # e and a combining acute accent


def _current(session_mock: NonCallableMagicMock, *, remember: bool = False) -> UserSession:
    """This browser's open session row, as the token lookup finds it."""
    row = UserSession(id=3, user_id=7, token_hash=sessions.hash_token("mine"), remember=remember)
    session_mock.scalar.return_value = row
    return row


@pytest.mark.twin("test_change_password_commits_the_new_hash")
def test_change_password_sets_a_new_argon2_hash_and_commits_once(
    session_mock: NonCallableMagicMock,
) -> None:
    user = _user()
    old_hash = user.password_hash
    _current(session_mock)

    accounts.change_password(
        user, STRONG_PASSWORD, NEW_PASSWORD, session_token="mine", throttle=None
    )

    assert user.password_hash != old_hash
    assert user.password_hash.startswith("$argon2id$")
    assert NEW_PASSWORD not in user.password_hash
    assert passwords.hasher.verify(user.password_hash, NEW_PASSWORD)
    assert not passwords.hasher.verify(user.password_hash, STRONG_PASSWORD)
    session_mock.commit.assert_called_once_with()
    # One unit of work: every statement is executed before the single commit.
    names = [name for name, _, _ in session_mock.mock_calls]
    assert names[-1] == "commit"
    session_mock.rollback.assert_not_called()


def test_change_password_gives_this_session_a_new_token_and_revokes_the_others(
    session_mock: NonCallableMagicMock,
) -> None:
    row = _current(session_mock)

    token = accounts.change_password(
        _user(), STRONG_PASSWORD, NEW_PASSWORD, session_token="mine", throttle=None
    )

    assert token.value != "mine"
    assert row.token_hash == sessions.hash_token(token.value)
    (lookup,), _ = session_mock.scalar.call_args
    sql, params = _sql(lookup)
    assert "user_sessions.user_id = ?" in sql
    assert "user_sessions.token_hash = ?" in sql
    assert "user_sessions.revoked_at IS NULL" in sql
    assert params == [7, sessions.hash_token("mine")]
    (statement,) = _updates(session_mock, "user_sessions")
    sql, params = _sql(statement)
    assert sql.startswith("UPDATE user_sessions SET revoked_at=")
    assert "user_sessions.user_id = ?" in sql
    assert "user_sessions.revoked_at IS NULL" in sql
    assert "user_sessions.token_hash != ?" in sql
    assert 7 in params
    assert sessions.hash_token(token.value) in params  # the renewed session is spared
    assert sessions.hash_token("mine") not in params  # the old token is not
    assert "mine" not in params  # only hashes are ever compared


@pytest.mark.parametrize("remember", [True, False])
def test_change_password_keeps_the_session_remembered_or_not(
    session_mock: NonCallableMagicMock, remember: bool
) -> None:
    _current(session_mock, remember=remember)

    token = accounts.change_password(
        _user(), STRONG_PASSWORD, NEW_PASSWORD, session_token="mine", throttle=None
    )

    assert token.remember is remember


def test_change_password_expires_outstanding_reset_links(
    session_mock: NonCallableMagicMock,
) -> None:
    _current(session_mock)

    accounts.change_password(
        _user(), STRONG_PASSWORD, NEW_PASSWORD, session_token="mine", throttle=None
    )

    (statement,) = _updates(session_mock, "account_tokens")
    sql, params = _sql(statement)
    assert sql.startswith("UPDATE account_tokens SET used_at=")
    assert "account_tokens.used_at IS NULL" in sql
    assert 7 in params
    assert "reset" in params


def test_change_password_with_a_wrong_current_password_changes_nothing(
    session_mock: NonCallableMagicMock,
) -> None:
    user = _user()
    old_hash = user.password_hash

    with pytest.raises(WrongPassword):
        accounts.change_password(user, WRONG, NEW_PASSWORD, session_token="mine", throttle=None)

    assert user.password_hash == old_hash
    session_mock.scalar.assert_not_called()
    session_mock.execute.assert_not_called()
    session_mock.commit.assert_not_called()


@pytest.mark.parametrize(
    ("current", "new"),
    [(STRONG_PASSWORD, STRONG_PASSWORD), (CAFE, CAFE_NFD), (CAFE_NFD, CAFE)],
    ids=["same", "new-decomposed", "current-decomposed"],
)
def test_change_password_refuses_the_current_password_again(
    session_mock: NonCallableMagicMock, current: str, new: str
) -> None:
    user = _user(current)
    old_hash = user.password_hash

    with pytest.raises(PasswordRejected) as raised:
        accounts.change_password(user, current, new, session_token="mine", throttle=None)

    assert raised.value.reason == "Choose a password different from your current one."
    assert user.password_hash == old_hash
    session_mock.scalar.assert_not_called()
    session_mock.execute.assert_not_called()
    session_mock.commit.assert_not_called()


@pytest.mark.parametrize(
    ("new", "reason"),
    [
        ("fourteen chars", "15 characters"),
        ("1qaz2wsx3edc4rfv", "commonly used"),
        ("ann@example.com ann@example.com", "your email address"),
    ],
)
def test_change_password_applies_the_policy_and_changes_nothing(
    session_mock: NonCallableMagicMock, new: str, reason: str
) -> None:
    user = _user()
    old_hash = user.password_hash

    with pytest.raises(PasswordRejected) as raised:
        accounts.change_password(user, STRONG_PASSWORD, new, session_token="mine", throttle=None)

    assert reason in raised.value.reason
    assert user.password_hash == old_hash
    session_mock.execute.assert_not_called()
    session_mock.commit.assert_not_called()


def test_wrong_current_passwords_count_towards_the_account_throttle(
    session_mock: NonCallableMagicMock,
) -> None:
    user = _user()
    policy = ThrottlePolicy()
    for _ in range(policy.free_failures):
        with pytest.raises(WrongPassword):
            accounts.change_password(user, WRONG, NEW_PASSWORD, session_token="t", throttle=policy)

    with pytest.raises(LoginThrottled) as raised:
        accounts.change_password(
            user, STRONG_PASSWORD, NEW_PASSWORD, session_token="t", throttle=policy
        )

    assert raised.value.retry_after == 30
    assert passwords.hasher.verify(user.password_hash, STRONG_PASSWORD)
    session_mock.commit.assert_not_called()


def test_the_right_password_ends_the_failure_streak(app_context: None) -> None:
    user = _user()
    policy = ThrottlePolicy()
    for _ in range(2):
        for _ in range(policy.free_failures - 1):
            with pytest.raises(WrongPassword):
                accounts.confirm_password(user, WRONG, policy)

        # Not throttled the second time round: success starts the count again.
        accounts.confirm_password(user, STRONG_PASSWORD, policy)


def test_confirming_in_a_trusted_browser_is_not_locked_by_untrusted_failures(
    app_context: None,
) -> None:
    user = _user()
    untrusted = ThrottlePolicy()
    cookie = issue_device_cookie(users.account_key(user.email), user.password_hash)
    for _ in range(untrusted.free_failures):
        with pytest.raises(WrongPassword):
            accounts.confirm_password(user, WRONG, untrusted)

    accounts.confirm_password(user, STRONG_PASSWORD, ThrottlePolicy(device_cookie=cookie))

    with pytest.raises(LoginThrottled):
        accounts.confirm_password(user, STRONG_PASSWORD, untrusted)


# --- delete_account -------------------------------------------------------------------------


@pytest.mark.twin("test_delete_account_removes_the_user_with_its_sessions_and_tokens")
def test_delete_account_deletes_the_user_and_commits(session_mock: NonCallableMagicMock) -> None:
    user = _user()

    accounts.delete_account(user, STRONG_PASSWORD, None)

    session_mock.delete.assert_called_once_with(user)
    session_mock.commit.assert_called_once_with()
    names = [name for name, _, _ in session_mock.mock_calls]
    assert names == ["delete", "commit"]  # sessions and tokens go by ON DELETE CASCADE


def test_delete_account_with_a_wrong_password_deletes_nothing(
    session_mock: NonCallableMagicMock,
) -> None:
    with pytest.raises(WrongPassword):
        accounts.delete_account(_user(), WRONG, None)

    session_mock.delete.assert_not_called()
    session_mock.commit.assert_not_called()


@pytest.mark.twin("test_delete_account_with_a_wrong_password_deletes_nothing")
def test_wrong_passwords_for_deletion_count_towards_the_account_throttle(
    session_mock: NonCallableMagicMock,
) -> None:
    user = _user()
    policy = ThrottlePolicy()
    for _ in range(policy.free_failures):
        with pytest.raises(WrongPassword):
            accounts.delete_account(user, WRONG, policy)

    with pytest.raises(LoginThrottled) as raised:
        accounts.delete_account(user, STRONG_PASSWORD, policy)

    assert raised.value.retry_after == 30
    session_mock.delete.assert_not_called()
    session_mock.commit.assert_not_called()


# --- list_open_sessions ---------------------------------------------------------------------


def _row(
    row_id: int, *, age: timedelta = timedelta(0), idle: timedelta = timedelta(0), **kw: Any
) -> UserSession:
    now = utcnow()
    kw.setdefault("remember", False)
    return UserSession(
        id=row_id,
        user_id=7,
        token_hash=f"h{row_id}",
        created_at=now - age,
        last_seen_at=now - idle,
        **kw,
    )


def test_list_open_sessions_leaves_out_expired_rows(session_mock: NonCallableMagicMock) -> None:
    live = _row(1, idle=timedelta(minutes=5))
    idle = _row(2, idle=timedelta(minutes=31))
    too_old = _row(3, age=timedelta(hours=12, seconds=1))
    remembered = _row(4, remember=True, age=timedelta(days=3), idle=timedelta(days=2))
    remembered_too_old = _row(5, remember=True, age=timedelta(days=30, seconds=1))
    session_mock.scalars.return_value = iter([live, idle, too_old, remembered, remembered_too_old])

    assert sessions.list_open_sessions(7, LIMITS) == [live, remembered]
    session_mock.commit.assert_not_called()  # listing is a read: nothing is revoked here


@pytest.mark.twin(
    "test_list_open_sessions_orders_by_last_use",
    "test_list_open_sessions_leaves_out_expired_rows",
)
def test_list_open_sessions_asks_for_the_users_unrevoked_rows_newest_first(
    session_mock: NonCallableMagicMock,
) -> None:
    session_mock.scalars.return_value = iter([])

    assert sessions.list_open_sessions(7, LIMITS) == []

    (statement,), _ = session_mock.scalars.call_args
    sql, params = _sql(statement)
    assert "FROM user_sessions" in sql
    assert "user_sessions.user_id = ?" in sql
    assert "user_sessions.revoked_at IS NULL" in sql
    assert "ORDER BY user_sessions.last_seen_at DESC, user_sessions.id DESC" in sql
    assert params == [7]


# --- revoke_user_session --------------------------------------------------------------------


@pytest.mark.twin("test_revoke_user_session_ends_only_the_users_own_row")
def test_revoke_user_session_updates_only_the_users_own_open_row(
    session_mock: NonCallableMagicMock,
) -> None:
    session_mock.execute.return_value.rowcount = 1

    assert sessions.revoke_user_session(7, 42) is True

    (statement,), _ = session_mock.execute.call_args
    sql, params = _sql(statement)
    assert sql.startswith("UPDATE user_sessions SET revoked_at=")
    assert "user_sessions.id = ?" in sql
    assert "user_sessions.user_id = ?" in sql
    assert "user_sessions.revoked_at IS NULL" in sql
    assert 7 in params
    assert 42 in params
    session_mock.commit.assert_called_once_with()


@pytest.mark.twin("test_revoke_user_session_twice_reports_the_second_as_nothing_to_end")
def test_revoke_user_session_reports_when_no_row_matched(
    session_mock: NonCallableMagicMock,
) -> None:
    session_mock.execute.return_value.rowcount = 0

    assert sessions.revoke_user_session(7, 42) is False
