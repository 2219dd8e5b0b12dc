"""The session service with db.session patched by an autospec of scoped_session."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from unittest.mock import NonCallableMagicMock

import pytest
import time_machine

from webapp.models import User, UserSession, utcnow
from webapp.services import sessions

LIMITS = sessions.SessionLimits(
    idle=timedelta(minutes=30), absolute=timedelta(hours=12), remember=timedelta(days=30)
)


def _row(
    *, age: timedelta = timedelta(0), idle: timedelta = timedelta(0), **kw: object
) -> UserSession:
    now = utcnow()
    user = User(id=1, email="ann@example.com", name="Ann", password_hash="x", is_active=True)
    kw.setdefault("remember", False)
    return UserSession(
        user=user, token_hash="h", created_at=now - age, last_seen_at=now - idle, **kw
    )


def test_c26_open_session_stores_only_the_hash_of_a_strong_token(
    session_mock: NonCallableMagicMock,
) -> None:
    user = User(id=1, email="ann@example.com", name="Ann", password_hash="x")

    token = sessions.open_session(user, remember=True, user_agent="UA" * 200, ip="203.0.113.9")

    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)  # 32 random bytes, URL-safe
    (row,), _ = session_mock.add.call_args
    assert row.user is user
    assert row.token_hash == sessions.hash_token(token) != token
    assert row.remember is True
    assert len(row.user_agent) == 255
    assert row.ip == "203.0.113.9"
    session_mock.commit.assert_called_once_with()


@pytest.mark.twin("test_c26_open_session_stores_only_the_hash_of_a_strong_token")
def test_open_session_keeps_at_most_45_characters_of_the_address(
    session_mock: NonCallableMagicMock,
) -> None:
    user = User(id=1, email="ann@example.com", name="Ann", password_hash="x")
    address = "2001:db8:85a3:8d3:1319:8a2e:370:7348%a-long-zone-name"  # 45 is IPv6's longest

    sessions.open_session(user, remember=False, user_agent="UA", ip=address)

    (row,), _ = session_mock.add.call_args
    assert row.ip == address[:45]


def test_open_session_ends_the_sessions_it_replaces_in_the_same_commit(
    session_mock: NonCallableMagicMock,
) -> None:
    user = User(id=1, email="ann@example.com", name="Ann", password_hash="x")

    token = sessions.open_session(
        user, remember=False, user_agent="UA", ip="192.0.2.1", replaces=["a's", "b's"]
    )

    (statement,), _ = session_mock.execute.call_args
    compiled = statement.compile()
    assert str(compiled).startswith("UPDATE user_sessions SET revoked_at")
    assert "user_sessions.revoked_at IS NULL" in str(compiled)
    assert [sessions.hash_token("a's"), sessions.hash_token("b's")] in compiled.params.values()
    (row,), _ = session_mock.add.call_args
    assert row.token_hash == sessions.hash_token(token)
    names = [name for name, _, _ in session_mock.mock_calls]
    assert names == ["execute", "add", "commit"]


@pytest.mark.twin("test_c26_open_session_stores_only_the_hash_of_a_strong_token")
def test_open_session_with_nothing_to_replace_ends_nothing(
    session_mock: NonCallableMagicMock,
) -> None:
    user = User(id=1, email="ann@example.com", name="Ann", password_hash="x")

    sessions.open_session(user, remember=False, user_agent="UA", ip="192.0.2.1")

    session_mock.execute.assert_not_called()


def test_c26_tokens_are_unique(session_mock: NonCallableMagicMock) -> None:
    user = User(id=1, email="ann@example.com", name="Ann", password_hash="x")

    tokens = {sessions.open_session(user, remember=False, user_agent="", ip="") for _ in range(500)}

    assert len(tokens) == 500


def test_load_unknown_token_is_none(session_mock: NonCallableMagicMock) -> None:
    session_mock.scalar.return_value = None

    assert sessions.load_session("nope", LIMITS) is None
    (statement,), _ = session_mock.scalar.call_args
    assert sessions.hash_token("nope") in statement.compile().params.values()


def test_load_fresh_session_returns_it_without_writing(session_mock: NonCallableMagicMock) -> None:
    row = _row()
    session_mock.scalar.return_value = row

    assert sessions.load_session("t", LIMITS) is row
    session_mock.commit.assert_not_called()


def test_load_touches_last_seen_at_most_once_a_minute(session_mock: NonCallableMagicMock) -> None:
    row = _row(idle=timedelta(minutes=2))
    before = row.last_seen_at
    session_mock.scalar.return_value = row

    assert sessions.load_session("t", LIMITS) is row
    assert row.last_seen_at > before
    session_mock.commit.assert_called_once_with()


@pytest.mark.twin("test_load_touches_last_seen_at_most_once_a_minute")
def test_load_touches_last_seen_once_a_full_minute_has_passed(
    session_mock: NonCallableMagicMock,
) -> None:
    with time_machine.travel(datetime(2030, 1, 1, 9, 0, tzinfo=UTC), tick=False):
        row = _row(idle=sessions.TOUCH_INTERVAL)
        session_mock.scalar.return_value = row

        assert sessions.load_session("t", LIMITS) is row
        assert row.last_seen_at == utcnow()
    session_mock.commit.assert_called_once_with()


@pytest.mark.twin(
    "test_idle_session_expires_and_is_revoked",
    "test_busy_session_still_expires_at_its_absolute_lifetime",
    "test_load_signed_out_session_is_none",
)
@pytest.mark.parametrize(
    ("row_kwargs", "reason"),
    [
        ({"revoked_at": utcnow()}, "signed out"),
        ({"idle": timedelta(minutes=31)}, "idle"),
        ({"age": timedelta(hours=12, seconds=1)}, "absolute"),
        ({"remember": True, "age": timedelta(days=30, seconds=1)}, "remember lifetime"),
    ],
)
def test_c29_c30_load_ended_or_expired_session_is_none(
    session_mock: NonCallableMagicMock, row_kwargs: dict[str, object], reason: str
) -> None:
    session_mock.scalar.return_value = _row(**row_kwargs)

    assert sessions.load_session("t", LIMITS) is None, reason


@pytest.mark.twin("test_idle_session_expires_and_is_revoked")
def test_expired_session_is_revoked_on_the_server(session_mock: NonCallableMagicMock) -> None:
    row = _row(idle=timedelta(hours=1))
    session_mock.scalar.return_value = row

    sessions.load_session("t", LIMITS)

    assert row.revoked_at is not None
    session_mock.commit.assert_called_once_with()


def test_remembered_session_survives_a_long_idle_gap(session_mock: NonCallableMagicMock) -> None:
    row = _row(remember=True, age=timedelta(days=3), idle=timedelta(days=2))
    session_mock.scalar.return_value = row

    assert sessions.load_session("t", LIMITS) is row


def test_load_session_of_a_deactivated_user_is_none(session_mock: NonCallableMagicMock) -> None:
    row = _row()
    row.user.is_active = False
    session_mock.scalar.return_value = row

    assert sessions.load_session("t", LIMITS) is None


def test_revoke_session_updates_the_open_row_by_hash(session_mock: NonCallableMagicMock) -> None:
    sessions.revoke_session("tok")

    (statement,), _ = session_mock.execute.call_args
    compiled = statement.compile()
    assert str(compiled).startswith("UPDATE user_sessions SET revoked_at")
    assert "user_sessions.revoked_at IS NULL" in str(compiled)
    assert [sessions.hash_token("tok")] in compiled.params.values()
    session_mock.commit.assert_called_once_with()


def test_revoke_user_sessions_can_keep_the_current_one(
    session_mock: NonCallableMagicMock,
) -> None:
    sessions.revoke_user_sessions(7, keep_token="mine")

    (statement,), _ = session_mock.execute.call_args
    compiled = statement.compile()
    assert "user_sessions.token_hash != " in str(compiled)
    assert 7 in compiled.params.values()
    assert sessions.hash_token("mine") in compiled.params.values()
