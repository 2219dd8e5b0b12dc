"""Twins of tests/unit/test_session_service.py: the same behaviour on a real SQLite file."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import inspect, select, update
from sqlalchemy.exc import IntegrityError

from tests.integration.conftest import T0, FreshRead, FreshRows
from tests.support import STRONG_PASSWORD
from webapp.extensions import db
from webapp.models import User, UserSession
from webapp.services import sessions, users

pytestmark = pytest.mark.usefixtures("db_context")

LIMITS = sessions.SessionLimits(
    idle=timedelta(minutes=30), absolute=timedelta(hours=12), remember=timedelta(days=30)
)


def _ann() -> User:
    return users.register_user("ann@example.com", "Ann", STRONG_PASSWORD)


def _open(user: User, *, remember: bool = False) -> str:
    return sessions.open_session(user, remember=remember, user_agent="UA", ip="192.0.2.1")


def _stored(fresh_read: FreshRead, token: str) -> UserSession:
    (row,) = fresh_read(
        select(UserSession).where(UserSession.token_hash == sessions.hash_token(token))
    )
    return row


def test_c26_open_session_stores_only_the_hash_of_a_strong_token(fresh_rows: FreshRows) -> None:
    """Proves the committed row holds sha256(token) and the token itself in no column."""
    user = _ann()

    token = sessions.open_session(user, remember=True, user_agent="UA" * 200, ip="203.0.113.9")

    (raw,) = fresh_rows("SELECT * FROM user_sessions")
    assert raw["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert not any(token in str(value) for value in raw.values())
    assert raw["user_id"] == user.id
    assert raw["remember"] == 1
    assert raw["user_agent"] == "UA" * 127 + "U"  # cut to the column's 255 characters
    assert raw["ip"] == "203.0.113.9"
    assert raw["revoked_at"] is None


def test_c26_tokens_are_unique() -> None:
    """Proves the database itself refuses two sessions with the same token hash, at commit."""
    user = _ann()
    token = _open(user)
    db.session.add(UserSession(user=user, token_hash=sessions.hash_token(token)))

    with pytest.raises(IntegrityError, match="token_hash"):
        db.session.commit()
    db.session.rollback()


def test_open_session_ends_the_sessions_it_replaces_in_the_same_commit(
    fresh_read: FreshRead,
) -> None:
    """Proves the replaced sessions (anyone's) end, others stay, and the new one is open."""
    ann = _ann()
    bob = users.register_user("bob@example.com", "Bob", STRONG_PASSWORD)
    anns_remembered, anns_other, bobs = _open(ann, remember=True), _open(ann), _open(bob)

    token = sessions.open_session(
        bob, remember=False, user_agent="UA", ip="192.0.2.1", replaces=[anns_remembered, bobs]
    )

    assert _stored(fresh_read, anns_remembered).revoked_at is not None
    assert _stored(fresh_read, bobs).revoked_at is not None
    assert _stored(fresh_read, anns_other).revoked_at is None
    assert _stored(fresh_read, token).revoked_at is None
    assert sessions.load_session(anns_remembered, LIMITS) is None
    assert sessions.load_session(token, LIMITS) is not None


def test_load_unknown_token_is_none() -> None:
    """Proves scalar(select(...)) gives None for a token hash that matches no row."""
    _open(_ann())

    assert sessions.load_session("nope", LIMITS) is None


def test_load_fresh_session_returns_it_without_writing(
    fresh_read: FreshRead, clock: time_machine.Traveller
) -> None:
    """Proves the query returns the row with its user already loaded, and writes nothing."""
    user_id = _ann().id
    token = _open(db.session.get(User, user_id))
    db.session.remove()  # a new session: the row and user must come from the query
    clock.shift(timedelta(seconds=10))

    row = sessions.load_session(token, LIMITS)

    assert row is not None
    assert "user" not in inspect(row).unloaded  # joinedload: no lazy load needed
    assert row.user.id == user_id
    assert row.user.email == "ann@example.com"
    assert _stored(fresh_read, token).last_seen_at == T0


def test_load_touches_last_seen_at_most_once_a_minute(
    fresh_read: FreshRead, clock: time_machine.Traveller
) -> None:
    """Proves last_seen_at is committed at most once a minute: 10 s no write, 2 min a write."""
    token = _open(_ann())

    clock.shift(timedelta(seconds=10))
    assert sessions.load_session(token, LIMITS) is not None
    clock.shift(timedelta(seconds=10))
    assert sessions.load_session(token, LIMITS) is not None
    assert _stored(fresh_read, token).last_seen_at == T0

    clock.shift(timedelta(minutes=2))
    assert sessions.load_session(token, LIMITS) is not None
    assert _stored(fresh_read, token).last_seen_at == T0 + timedelta(minutes=2, seconds=20)


def test_load_signed_out_session_is_none(
    fresh_read: FreshRead, clock: time_machine.Traveller
) -> None:
    """Proves revoke_session commits revoked_at, and load_session then refuses the row."""
    token = _open(_ann())
    clock.shift(timedelta(minutes=5))

    sessions.revoke_session(token)

    assert sessions.load_session(token, LIMITS) is None
    assert _stored(fresh_read, token).revoked_at == T0 + timedelta(minutes=5)


def test_revoke_session_updates_the_open_row_by_hash(
    fresh_read: FreshRead, clock: time_machine.Traveller
) -> None:
    """Proves the UPDATE hits only this token's row and never moves an earlier revoked_at."""
    user = _ann()
    mine, other = _open(user), _open(user)
    clock.shift(timedelta(minutes=1))
    sessions.revoke_session(mine)

    clock.shift(timedelta(minutes=1))
    sessions.revoke_session(mine)  # "revoked_at IS NULL": a second sign-out changes nothing

    assert _stored(fresh_read, mine).revoked_at == T0 + timedelta(minutes=1)
    assert _stored(fresh_read, other).revoked_at is None
    assert sessions.load_session(other, LIMITS) is not None


def test_revoke_user_sessions_can_keep_the_current_one(fresh_read: FreshRead) -> None:
    """Proves the UPDATE ends the user's other sessions only, keeping keep_token's."""
    ann = _ann()
    bob = users.register_user("bob@example.com", "Bob", STRONG_PASSWORD)
    mine, second, third = _open(ann), _open(ann), _open(ann)
    bobs = _open(bob)

    sessions.revoke_user_sessions(ann.id, keep_token=mine)

    revoked = {t: _stored(fresh_read, t).revoked_at is not None for t in (mine, second, third)}
    assert revoked == {mine: False, second: True, third: True}
    assert _stored(fresh_read, bobs).revoked_at is None
    assert sessions.load_session(mine, LIMITS) is not None
    assert sessions.load_session(second, LIMITS) is None


def test_revoke_user_sessions_without_keep_token_ends_them_all(fresh_read: FreshRead) -> None:
    """Proves the UPDATE without keep_token ends every open session of the user."""
    ann = _ann()
    tokens = [_open(ann), _open(ann)]

    sessions.revoke_user_sessions(ann.id)

    assert all(_stored(fresh_read, t).revoked_at is not None for t in tokens)


def test_idle_session_expires_and_is_revoked(
    fresh_read: FreshRead, clock: time_machine.Traveller
) -> None:
    """Proves idle expiry: None after 30 idle minutes, and revoked_at committed at that time."""
    token = _open(_ann())
    clock.shift(timedelta(minutes=29, seconds=59))
    assert sessions.load_session(token, LIMITS) is not None  # also touches last_seen_at

    clock.shift(timedelta(minutes=30))

    assert sessions.load_session(token, LIMITS) is None
    assert _stored(fresh_read, token).revoked_at == T0 + timedelta(minutes=59, seconds=59)
    assert sessions.load_session(token, LIMITS) is None  # stays ended


@pytest.mark.parametrize(
    ("remember", "step", "lifetime"),
    [(False, timedelta(minutes=25), LIMITS.absolute), (True, timedelta(days=1), LIMITS.remember)],
    ids=["absolute", "remember-lifetime"],
)
def test_busy_session_still_expires_at_its_absolute_lifetime(
    fresh_read: FreshRead,
    clock: time_machine.Traveller,
    remember: bool,
    step: timedelta,
    lifetime: timedelta,
) -> None:
    """Proves absolute expiry on stored created_at, even for a session in constant use."""
    token = _open(_ann(), remember=remember)
    elapsed = timedelta(0)
    while elapsed + step < lifetime:
        clock.shift(step)
        elapsed += step
        assert sessions.load_session(token, LIMITS) is not None, elapsed

    clock.shift(lifetime - elapsed + timedelta(seconds=1))

    assert sessions.load_session(token, LIMITS) is None
    assert _stored(fresh_read, token).revoked_at == T0 + lifetime + timedelta(seconds=1)


def test_remembered_session_survives_a_long_idle_gap(
    fresh_read: FreshRead, clock: time_machine.Traveller
) -> None:
    """Proves a remembered row read from the database ignores the short idle timeout."""
    token = _open(_ann(), remember=True)
    clock.shift(timedelta(days=2))

    assert sessions.load_session(token, LIMITS) is not None
    stored = _stored(fresh_read, token)
    assert stored.revoked_at is None
    assert stored.last_seen_at == T0 + timedelta(days=2)


def test_load_session_of_a_deactivated_user_is_none() -> None:
    """Proves is_active as stored, reached through the joined user, refuses the session."""
    token = _open(_ann())
    db.session.execute(update(User).values(is_active=False))  # sessions themselves left open
    db.session.commit()
    db.session.remove()

    assert sessions.load_session(token, LIMITS) is None


def test_load_session_of_a_deleted_user_is_none() -> None:
    """Proves a session token outlives no deleted user: loading it gives None, not a crash."""
    user = _ann()
    token = _open(user)
    db.session.delete(user)
    db.session.commit()
    db.session.remove()

    assert sessions.load_session(token, LIMITS) is None
