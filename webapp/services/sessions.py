"""Server-side sessions: the cookie carries a random token, the database its hash."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

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


def hash_token(token: str) -> str:
    """The stored form of a token; a leaked table then gives no usable cookie."""
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(user: User, *, remember: bool, user_agent: str, ip: str) -> str:
    """Record a new signed-in session and return its token (256 random bits)."""
    token = secrets.token_urlsafe(32)
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
    lifetime, idle = (
        (limits.remember, limits.remember) if row.remember else (limits.absolute, limits.idle)
    )
    if now - row.created_at >= lifetime or now - row.last_seen_at >= idle:
        row.revoked_at = now
        db.session.commit()
        return None
    if now - row.last_seen_at >= TOUCH_INTERVAL:
        row.last_seen_at = now
        db.session.commit()
    return row


def revoke_session(token: str) -> None:
    """End the session with this token, if it is still open."""
    db.session.execute(
        update(UserSession)
        .where(UserSession.token_hash == hash_token(token), UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    db.session.commit()


def revoke_user_sessions(user_id: int, *, keep_token: str | None = None) -> None:
    """End every open session of a user, except the one with ``keep_token``."""
    statement = update(UserSession).where(
        UserSession.user_id == user_id, UserSession.revoked_at.is_(None)
    )
    if keep_token is not None:
        statement = statement.where(UserSession.token_hash != hash_token(keep_token))
    db.session.execute(statement.values(revoked_at=utcnow()))
    db.session.commit()
