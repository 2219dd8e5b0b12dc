"""Model behaviour the services rely on, on a real SQLite file: timestamps and cascades."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import time_machine
from sqlalchemy import select
from sqlalchemy.exc import StatementError

from tests.integration.conftest import T0, FreshRead, FreshRows
from tests.support import STRONG_PASSWORD
from webapp.extensions import db
from webapp.models import User, UserSession
from webapp.services import sessions, users

pytestmark = pytest.mark.usefixtures("db_context")


def _user_with_sessions(count: int) -> int:
    user = users.register_user("ann@example.com", "Ann", STRONG_PASSWORD)
    for _ in range(count):
        sessions.open_session(user, remember=False, user_agent="UA", ip="192.0.2.1")
    user_id = user.id
    db.session.remove()  # a new session: nothing loaded yet
    return user_id


def test_timestamps_come_back_timezone_aware_utc(
    fresh_read: FreshRead, fresh_rows: FreshRows, clock: time_machine.Traveller
) -> None:
    """Proves UTCDateTime: SQLite keeps naive UTC text, PostgreSQL timestamptz; every read
    through the models gives aware datetimes in UTC itself."""
    token = sessions.open_session(
        users.register_user("ann@example.com", "Ann", STRONG_PASSWORD),
        remember=False,
        user_agent="",
        ip="",
    )
    clock.shift(timedelta(hours=1))
    sessions.revoke_session(token)

    (user,) = fresh_read(select(User))
    (row,) = fresh_read(select(UserSession))
    values = [user.created_at, row.created_at, row.last_seen_at, row.revoked_at]
    assert all(v.tzinfo is UTC for v in values), values
    assert values == [T0, T0, T0, T0 + timedelta(hours=1)]
    (raw,) = fresh_rows("SELECT created_at, revoked_at FROM user_sessions")
    if db.engine.dialect.name == "sqlite":
        assert raw == {
            "created_at": "2030-01-01 09:00:00.000000",
            "revoked_at": "2030-01-01 10:00:00.000000",
        }
    else:  # timestamptz: the same instants, in whatever zone the connection uses
        assert raw == {"created_at": T0, "revoked_at": T0 + timedelta(hours=1)}


def test_other_time_zones_are_stored_as_utc(fresh_read: FreshRead) -> None:
    """Proves an aware non-UTC value is converted on the way in, so comparisons stay right."""
    user_id = _user_with_sessions(1)
    row = db.session.scalar(select(UserSession).where(UserSession.user_id == user_id))
    assert row is not None
    row.revoked_at = datetime(2030, 1, 1, 11, 0, tzinfo=timezone(timedelta(hours=2)))
    db.session.commit()

    (stored,) = fresh_read(select(UserSession))
    assert stored.revoked_at == T0
    assert stored.revoked_at.tzinfo is UTC


def test_naive_timestamps_are_refused() -> None:
    """Proves a naive datetime never reaches the database (it would be read back as UTC)."""
    user_id = _user_with_sessions(1)
    row = db.session.scalar(select(UserSession).where(UserSession.user_id == user_id))
    assert row is not None
    row.revoked_at = datetime(2030, 1, 1, 9, 0)  # naive on purpose

    with pytest.raises(StatementError, match="naive datetime"):
        db.session.commit()
    db.session.rollback()


def test_deleting_a_user_with_loaded_sessions_deletes_them(fresh_read: FreshRead) -> None:
    """Proves the ORM cascade deletes a user's sessions when the collection is loaded."""
    user_id = _user_with_sessions(2)
    user = db.session.get(User, user_id)
    assert user is not None
    assert len(user.sessions) == 2  # loads the collection

    db.session.delete(user)
    db.session.commit()

    assert fresh_read(select(User)) == []
    assert fresh_read(select(UserSession)) == []


def test_deleting_a_user_deletes_their_sessions(fresh_read: FreshRead) -> None:
    """Proves deleting a user (sessions not loaded) leaves no orphan session rows behind."""
    user_id = _user_with_sessions(2)
    user = db.session.get(User, user_id)
    assert user is not None

    db.session.delete(user)  # passive_deletes=True: the database's ON DELETE CASCADE must act
    db.session.commit()

    assert fresh_read(select(User)) == []
    assert fresh_read(select(UserSession)) == []
