"""Reset and verification services with db.session patched by an autospec of scoped_session."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from unittest.mock import NonCallableMagicMock, create_autospec

import pytest
import time_machine
from sqlalchemy import CursorResult, Select, Update
from sqlalchemy.dialects import sqlite

from tests.support import STRONG_PASSWORD
from webapp.extensions import passwords
from webapp.models import AccountToken, User, utcnow
from webapp.services import accounts
from webapp.services.errors import InvalidToken, PasswordRejected, WrongPassword

T0 = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
NEW_PASSWORD = "a brand new passphrase for ann"


def _sql(statement: Select | Update) -> tuple[str, dict[str, object]]:
    compiled = statement.compile(dialect=sqlite.dialect())
    return str(compiled), dict(compiled.params)


def _user(**kw: object) -> User:
    kw.setdefault("is_active", True)
    kw.setdefault("id", 7)
    return User(
        email="ann@example.com",
        name="Ann",
        password_hash=passwords.hasher.hash(STRONG_PASSWORD),
        **kw,
    )


def _row(purpose: str, *, user: User | None = None, **kw: object) -> AccountToken:
    kw.setdefault("expires_at", utcnow() + HOUR)
    return AccountToken(user=user or _user(), purpose=purpose, token_hash="h", **kw)


def _executed(session_mock: NonCallableMagicMock) -> list[tuple[str, dict[str, object]]]:
    return [_sql(call.args[0]) for call in session_mock.execute.call_args_list]


def _updates(session_mock: NonCallableMagicMock, rows: int) -> NonCallableMagicMock:
    """Every UPDATE reports ``rows`` matched rows, as the database's cursor would."""
    result = create_autospec(CursorResult, instance=True)
    result.rowcount = rows
    session_mock.execute.return_value = result
    return result


def _assert_consumes(sql: str, params: dict[str, object], token: str, purpose: str) -> None:
    """``sql`` spends exactly this live link: one row, and only while unused and unexpired."""
    assert sql.startswith("UPDATE account_tokens SET used_at=? WHERE ")
    where = sql.split(" WHERE ", 1)[1]
    assert where.split(" AND ") == [
        "account_tokens.token_hash = ?",
        "account_tokens.purpose = ?",
        "account_tokens.used_at IS NULL",
        "account_tokens.expires_at > ?",
    ]
    assert hashlib.sha256(token.encode()).hexdigest() in params.values()
    assert purpose in params.values()
    now = params["used_at"]
    assert isinstance(now, datetime)
    assert params["expires_at_1"] == now  # "expired" is judged at the moment of use


# --- request_password_reset ---------------------------------------------------------------------


@pytest.mark.twin("test_an_unknown_address_stores_nothing")
def test_request_for_an_unknown_address_returns_none_and_writes_nothing(
    session_mock: NonCallableMagicMock,
) -> None:
    session_mock.scalar.return_value = None

    assert accounts.request_password_reset("nobody@example.com", HOUR) is None

    session_mock.add.assert_not_called()
    session_mock.execute.assert_not_called()
    session_mock.commit.assert_not_called()


@pytest.mark.twin("test_an_inactive_account_gets_no_token_and_its_token_dies")
def test_request_for_an_inactive_account_returns_none_and_writes_nothing(
    session_mock: NonCallableMagicMock,
) -> None:
    session_mock.scalar.return_value = _user(is_active=False)

    assert accounts.request_password_reset("ann@example.com", HOUR) is None

    session_mock.add.assert_not_called()
    session_mock.commit.assert_not_called()


@pytest.mark.twin("test_a_reset_token_is_stored_only_as_its_sha256")
def test_request_for_a_user_stores_only_the_hash_of_a_strong_token(
    session_mock: NonCallableMagicMock,
) -> None:
    user = _user()
    session_mock.scalar.return_value = user

    with time_machine.travel(T0, tick=False):
        found = accounts.request_password_reset("ANN@example.com", HOUR)

    assert found is not None
    returned_user, token = found
    assert returned_user is user
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)  # 256 random bits, URL-safe
    (row,), _ = session_mock.add.call_args
    assert isinstance(row, AccountToken)
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert row.user is user
    assert row.purpose == "reset"
    assert row.expires_at == T0 + HOUR
    assert row.used_at is None
    session_mock.commit.assert_called_once_with()


@pytest.mark.twin("test_a_newer_token_supersedes_the_older")
def test_request_expires_the_users_earlier_reset_tokens_first(
    session_mock: NonCallableMagicMock,
) -> None:
    session_mock.scalar.return_value = _user()
    order: list[str] = []
    session_mock.execute.side_effect = lambda *a, **k: order.append("execute")
    session_mock.add.side_effect = lambda *a, **k: order.append("add")
    session_mock.commit.side_effect = lambda *a, **k: order.append("commit")

    accounts.request_password_reset("ann@example.com", HOUR)

    assert order == ["execute", "add", "commit"]
    [(sql, params)] = _executed(session_mock)
    assert sql.startswith("UPDATE account_tokens SET used_at=?")
    assert "account_tokens.user_id = ?" in sql
    assert "account_tokens.purpose = ?" in sql
    assert "account_tokens.used_at IS NULL" in sql
    assert 7 in params.values()
    assert "reset" in params.values()


@pytest.mark.twin("test_a_newer_token_supersedes_the_older")
def test_tokens_differ_every_time(session_mock: NonCallableMagicMock) -> None:
    session_mock.scalar.return_value = _user()

    tokens = set()
    for _ in range(200):
        found = accounts.request_password_reset("ann@example.com", HOUR)
        assert found is not None
        tokens.add(found[1])

    assert len(tokens) == 200


# --- reset_token_is_valid and the look-up -------------------------------------------------------


@pytest.mark.twin("test_reset_and_verification_tokens_do_not_stand_in_for_each_other")
def test_the_look_up_filters_on_the_hash_and_the_purpose(
    session_mock: NonCallableMagicMock,
) -> None:
    session_mock.scalar.return_value = None

    assert accounts.reset_token_is_valid("some-token") is False

    (statement,), _ = session_mock.scalar.call_args
    sql, params = _sql(statement)
    assert "account_tokens.token_hash = ?" in sql
    assert "account_tokens.purpose = ?" in sql
    assert sorted(map(str, params.values())) == sorted(
        [hashlib.sha256(b"some-token").hexdigest(), "reset"]
    )


@pytest.mark.twin(
    "test_a_reset_token_works_once",
    "test_a_reset_token_expires_after_its_lifetime",
    "test_an_inactive_account_gets_no_token_and_its_token_dies",
)
@pytest.mark.parametrize(
    ("row_kw", "user_kw", "valid"),
    [
        ({}, {}, True),
        ({"used_at": utcnow()}, {}, False),
        ({"expires_at": utcnow() - timedelta(seconds=1)}, {}, False),
        ({}, {"is_active": False}, False),
    ],
    ids=["live", "used", "expired", "inactive-user"],
)
def test_only_a_live_token_of_an_active_user_is_valid(
    session_mock: NonCallableMagicMock,
    row_kw: dict[str, object],
    user_kw: dict[str, object],
    valid: bool,
) -> None:
    session_mock.scalar.return_value = _row("reset", user=_user(**user_kw), **row_kw)

    assert accounts.reset_token_is_valid("token") is valid
    session_mock.commit.assert_not_called()


# --- reset_password -----------------------------------------------------------------------------


@pytest.mark.twin("test_a_reset_token_works_once")
def test_reset_with_an_unknown_token_raises_and_commits_nothing(
    session_mock: NonCallableMagicMock,
) -> None:
    session_mock.scalar.return_value = None

    with pytest.raises(InvalidToken):
        accounts.reset_password("unknown", NEW_PASSWORD)

    session_mock.execute.assert_not_called()
    session_mock.commit.assert_not_called()


@pytest.mark.twin("test_a_reset_token_works_once")
def test_reset_with_a_used_token_raises_and_changes_nothing(
    session_mock: NonCallableMagicMock,
) -> None:
    row = _row("reset", used_at=utcnow())
    before = row.user.password_hash
    session_mock.scalar.return_value = row

    with pytest.raises(InvalidToken):
        accounts.reset_password("used", NEW_PASSWORD)

    assert row.user.password_hash == before
    session_mock.commit.assert_not_called()


@pytest.mark.twin(
    "test_a_reset_revokes_every_session_of_the_user",
    "test_a_reset_token_works_once",
)
def test_reset_sets_the_hash_kills_the_links_and_revokes_every_session(
    session_mock: NonCallableMagicMock,
) -> None:
    row = _row("reset", user=_user(email_verified_at=T0))
    session_mock.scalar.return_value = row
    _updates(session_mock, 1)

    user = accounts.reset_password("token", NEW_PASSWORD)

    assert user is row.user
    assert passwords.hasher.verify(user.password_hash, NEW_PASSWORD)
    assert not passwords.hasher.verify(user.password_hash, STRONG_PASSWORD)
    assert user.email_verified_at == T0  # a confirmed address keeps its date
    (consume_sql, consume_params), (expire_sql, expire_params), (revoke_sql, revoke_params) = (
        _executed(session_mock)
    )
    _assert_consumes(consume_sql, consume_params, "token", "reset")
    assert expire_sql.startswith("UPDATE account_tokens SET used_at=?")
    assert "reset" in expire_params.values()
    assert revoke_sql.startswith("UPDATE user_sessions SET revoked_at=?")
    assert "token_hash" not in revoke_sql  # every session, none kept
    assert 7 in revoke_params.values()
    session_mock.commit.assert_called_once_with()
    session_mock.rollback.assert_not_called()


@pytest.mark.twin("test_only_one_of_simultaneous_resets_with_one_link_succeeds")
def test_reset_spends_the_link_before_anything_changes_and_commits_once(
    session_mock: NonCallableMagicMock,
) -> None:
    session_mock.scalar.return_value = _row("reset")
    order: list[str] = []
    result = _updates(session_mock, 1)

    def execute(statement: Update, *args: object, **kwargs: object) -> NonCallableMagicMock:
        order.append(_sql(statement)[0].split(" WHERE ")[0])
        return result

    session_mock.execute.side_effect = execute
    session_mock.commit.side_effect = lambda: order.append("COMMIT")

    accounts.reset_password("token", NEW_PASSWORD)

    assert order[0] == "UPDATE account_tokens SET used_at=?"
    assert order[-1] == "COMMIT"
    assert order.count("COMMIT") == 1  # the link and the change it allows: one transaction


@pytest.mark.twin("test_only_one_of_simultaneous_resets_with_one_link_succeeds")
def test_reset_that_finds_the_link_spent_meanwhile_raises_and_changes_nothing(
    session_mock: NonCallableMagicMock,
) -> None:
    row = _row("reset")  # live when read ...
    before = row.user.password_hash
    session_mock.scalar.return_value = row
    _updates(session_mock, 0)  # ... but another submission spent it first

    with pytest.raises(InvalidToken):
        accounts.reset_password("token", NEW_PASSWORD)

    assert row.user.password_hash == before
    assert row.user.email_verified_at is None
    [(sql, params)] = _executed(session_mock)
    _assert_consumes(sql, params, "token", "reset")
    session_mock.rollback.assert_called_once_with()
    session_mock.commit.assert_not_called()


@pytest.mark.twin("test_a_reset_confirms_the_address")
def test_reset_of_an_unconfirmed_account_confirms_it_and_kills_its_confirmation_links(
    session_mock: NonCallableMagicMock,
) -> None:
    row = _row("reset")
    session_mock.scalar.return_value = row
    _updates(session_mock, 1)

    with time_machine.travel(T0, tick=False):
        row.expires_at = T0 + HOUR
        user = accounts.reset_password("token", NEW_PASSWORD)

    assert user.email_verified_at == T0
    statements = _executed(session_mock)
    assert [params.get("purpose_1") for _, params in statements[:3]] == [
        "reset",
        "reset",
        "verify",
    ]
    assert statements[3][0].startswith("UPDATE user_sessions SET revoked_at=?")
    session_mock.commit.assert_called_once_with()


@pytest.mark.twin("test_a_rejected_password_leaves_the_token_usable")
def test_reset_applies_the_password_policy_and_commits_nothing(
    session_mock: NonCallableMagicMock,
) -> None:
    row = _row("reset")
    before = row.user.password_hash
    session_mock.scalar.return_value = row

    with pytest.raises(PasswordRejected):
        accounts.reset_password("token", "short")

    assert row.user.password_hash == before
    session_mock.execute.assert_not_called()
    session_mock.commit.assert_not_called()


# --- verify_email -------------------------------------------------------------------------------


@pytest.mark.twin("test_verify_email_sets_the_timestamp_once")
def test_verify_with_the_password_sets_email_verified_at_kills_the_links_and_commits(
    session_mock: NonCallableMagicMock,
) -> None:
    row = _row("verify")
    session_mock.scalar.return_value = row
    _updates(session_mock, 1)

    with time_machine.travel(T0, tick=False):
        row.expires_at = T0 + HOUR
        user = accounts.verify_email("token", STRONG_PASSWORD, None)

    assert user is row.user
    assert user.email_verified_at == T0
    (consume_sql, consume_params), (expire_sql, expire_params) = _executed(session_mock)
    _assert_consumes(consume_sql, consume_params, "token", "verify")
    assert consume_params["used_at"] == T0
    assert expire_sql.startswith("UPDATE account_tokens SET used_at=?")
    assert "verify" in expire_params.values()
    session_mock.commit.assert_called_once_with()


@pytest.mark.twin("test_verify_email_needs_the_password_or_the_signed_in_account")
@pytest.mark.parametrize("password", ["not the password at all", None])
def test_verify_without_the_right_password_raises_and_changes_nothing(
    session_mock: NonCallableMagicMock, password: str | None
) -> None:
    row = _row("verify")
    session_mock.scalar.return_value = row
    _updates(session_mock, 1)

    with pytest.raises(WrongPassword):
        accounts.verify_email("token", password, None, signed_in=_user(id=8))

    assert row.user.email_verified_at is None
    session_mock.execute.assert_not_called()  # the link is not spent
    session_mock.commit.assert_not_called()


@pytest.mark.twin("test_verify_email_needs_the_password_or_the_signed_in_account")
def test_verify_from_the_accounts_own_session_needs_no_password(
    session_mock: NonCallableMagicMock,
) -> None:
    row = _row("verify")
    session_mock.scalar.return_value = row
    _updates(session_mock, 1)

    user = accounts.verify_email("token", None, None, signed_in=_user())

    assert user.email_verified_at is not None
    session_mock.commit.assert_called_once_with()


@pytest.mark.twin("test_only_one_of_simultaneous_confirmations_with_one_link_succeeds")
def test_verify_that_finds_the_link_spent_meanwhile_raises_and_changes_nothing(
    session_mock: NonCallableMagicMock,
) -> None:
    row = _row("verify")
    session_mock.scalar.return_value = row
    _updates(session_mock, 0)

    with pytest.raises(InvalidToken):
        accounts.verify_email("token", STRONG_PASSWORD, None)

    assert row.user.email_verified_at is None
    [(sql, params)] = _executed(session_mock)
    _assert_consumes(sql, params, "token", "verify")
    session_mock.rollback.assert_called_once_with()
    session_mock.commit.assert_not_called()


@pytest.mark.twin("test_verify_email_sets_the_timestamp_once")
def test_verify_with_an_unknown_token_raises_and_commits_nothing(
    session_mock: NonCallableMagicMock,
) -> None:
    session_mock.scalar.return_value = None

    with pytest.raises(InvalidToken):
        accounts.verify_email("unknown", STRONG_PASSWORD, None)

    session_mock.execute.assert_not_called()
    session_mock.commit.assert_not_called()


@pytest.mark.twin("test_reset_and_verification_tokens_do_not_stand_in_for_each_other")
def test_verify_asks_for_a_verify_token_not_a_reset_one(
    session_mock: NonCallableMagicMock,
) -> None:
    session_mock.scalar.return_value = None

    with pytest.raises(InvalidToken):
        accounts.verify_email("token", STRONG_PASSWORD, None)

    (statement,), _ = session_mock.scalar.call_args
    _, params = _sql(statement)
    assert "verify" in params.values()
    assert "reset" not in params.values()


@pytest.mark.twin("test_verify_email_sets_the_timestamp_once")
def test_the_verification_account_is_read_without_writing(
    session_mock: NonCallableMagicMock,
) -> None:
    row = _row("verify")
    session_mock.scalar.return_value = row

    assert accounts.verification_account("token") is row.user

    assert row.user.email_verified_at is None
    session_mock.execute.assert_not_called()
    session_mock.commit.assert_not_called()


@pytest.mark.twin("test_a_new_verification_token_supersedes_the_older")
def test_start_email_verification_stores_the_hash_of_a_token(
    session_mock: NonCallableMagicMock,
) -> None:
    user = _user()

    token = accounts.start_email_verification(user, timedelta(hours=24))

    assert len(token) >= 32
    (row,), _ = session_mock.add.call_args
    assert row.purpose == "verify"
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    session_mock.commit.assert_called_once_with()
