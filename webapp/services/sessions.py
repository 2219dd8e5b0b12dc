"""Server-side sessions: the cookie carries a random token, the database its hash."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from webapp.extensions import db
from webapp.models import User, UserSession, utcnow

# Writing last-seen on every request would make every page a write; once a minute is
# precise enough for an idle timeout measured in tens of minutes.
TOUCH_INTERVAL = timedelta(minutes=1)


@dataclass(frozen=True)
class SessionLimits:
    """How long a session may sit idle and live at most; remembered ones use ``remember``."""

    idle: timedelta
    absolute: timedelta
    remember: timedelta


@dataclass(frozen=True)
class NewToken:
    """A session's new token, and whether that session is remembered (so needs a new cookie)."""

    value: str
    remember: bool


def hash_token(token: str) -> str:
    """The stored form of a token; a leaked table then gives no usable cookie."""
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token() -> str:
    return secrets.token_urlsafe(32)  # 256 random bits


def open_session(
    user: User, *, remember: bool, user_agent: str, ip: str, replaces: Collection[str] = ()
) -> str:
    """Record a new signed-in session and return its token (256 random bits).

    The sessions with a token in ``replaces`` end in the same commit: the browser's
    previous sign-in, whoever it was, must not come back once another one starts.
    """
    if replaces:
        _revoke_tokens(replaces)
    token = _new_token()
    db.session.add(
        UserSession(
            user=user,
            token_hash=hash_token(token),
            remember=remember,
            user_agent=user_agent[:255],
            ip=ip[:45],
        )
    )
    db.session.commit()
    return token


def replace_token(user_id: int, token: str) -> NewToken:
    """Give the user's open session with ``token`` a new token; the caller commits.

    A copy of the old cookies then opens nothing. A session that ended meanwhile stays
    ended: the new token matches no open row either.
    """
    new = _new_token()
    row = db.session.scalar(
        select(UserSession).where(
            UserSession.user_id == user_id,
            UserSession.token_hash == hash_token(token),
            UserSession.revoked_at.is_(None),
        )
    )
    if row is None:
        return NewToken(new, remember=False)
    row.token_hash = hash_token(new)
    return NewToken(new, remember=row.remember)


def load_session(token: str, limits: SessionLimits) -> UserSession | None:
    """The live session for this token with its user, or None if unknown, ended or expired."""
    row = db.session.scalar(
        select(UserSession)
        .where(UserSession.token_hash == hash_token(token))
        .options(joinedload(UserSession.user))
    )
    if row is None or row.revoked_at is not None or not row.user.is_active:
        return None
    now = utcnow()
    if _expired(row, limits, now):
        row.revoked_at = now
        db.session.commit()
        return None
    if now - row.last_seen_at >= TOUCH_INTERVAL:
        row.last_seen_at = now
        db.session.commit()
    return row


def _expired(row: UserSession, limits: SessionLimits, now: datetime) -> bool:
    lifetime, idle = (
        (limits.remember, limits.remember) if row.remember else (limits.absolute, limits.idle)
    )
    return now - row.created_at >= lifetime or now - row.last_seen_at >= idle


def list_open_sessions(user_id: int, limits: SessionLimits) -> list[UserSession]:
    """The user's sessions that are neither ended nor expired, most recently used first."""
    rows = db.session.scalars(
        select(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())
    )
    now = utcnow()
    return [row for row in rows if not _expired(row, limits, now)]


def revoke_user_session(user_id: int, session_id: int) -> bool:
    """End one of the user's own sessions by its row id; False if there was none to end."""
    result = db.session.execute(
        update(UserSession)
        .where(
            UserSession.id == session_id,
            UserSession.user_id == user_id,
            UserSession.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
    )
    db.session.commit()
    return bool(result.rowcount)


def revoke_session(token: str) -> None:
    """End the session with this token, if it is still open."""
    _revoke_tokens([token])
    db.session.commit()


def _revoke_tokens(tokens: Collection[str]) -> None:
    db.session.execute(
        update(UserSession)
        .where(
            UserSession.token_hash.in_([hash_token(token) for token in tokens]),
            UserSession.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
    )


def revoke_user_sessions(user_id: int, *, keep_token: str | None = None) -> None:
    """End every open session of a user, except the one with ``keep_token``."""
    statement = update(UserSession).where(
        UserSession.user_id == user_id, UserSession.revoked_at.is_(None)
    )
    if keep_token is not None:
        statement = statement.where(UserSession.token_hash != hash_token(keep_token))
    db.session.execute(statement.values(revoked_at=utcnow()))
    db.session.commit()
