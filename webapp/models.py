"""Database models: users and their server-side sessions."""

from __future__ import annotations

from datetime import UTC, datetime

from flask_login import UserMixin
from sqlalchemy import DateTime, Dialect, ForeignKey, Index, String, TypeDecorator, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db

EMAIL_MAX_LENGTH = 254  # RFC 5321 path limit, as the OWASP input validation sheet advises
NAME_MAX_LENGTH = 100
# Argon2id PHC strings are ~100 characters; 255 leaves room for larger parameters and
# for the longer legacy Werkzeug formats that are upgraded at sign-in.
PASSWORD_HASH_MAX_LENGTH = 255


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every database; SQLite would hand back naive ones."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store UTC; a naive value is a bug, not something to guess about."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Read back as aware UTC (PostgreSQL answers in the session's zone, SQLite naively)."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class User(UserMixin, db.Model):
    """A person with an account."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(EMAIL_MAX_LENGTH))
    name: Mapped[str] = mapped_column(String(NAME_MAX_LENGTH))
    password_hash: Mapped[str] = mapped_column(String(PASSWORD_HASH_MAX_LENGTH))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    sessions: Mapped[list[UserSession]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )
    tokens: Mapped[list[AccountToken]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )

    # Flask-Login's id is the token of the session the request is signed in with (its
    # "alternative token" pattern), so revoking the row ends cookie and remember-me alike.
    session_token = None  # set per request by webapp.identity; never stored

    def get_id(self) -> str | None:
        """The signed-in session's token, for Flask-Login."""
        return self.session_token

    def __repr__(self) -> str:
        return f"<User {self.id}>"


# Uniqueness is the database's job, case-insensitively, so that racing sign-ups cannot
# create two accounts even when an address arrives in another letter case.
Index("uq_users_email_lower", func.lower(User.email), unique=True)


class UserSession(db.Model):
    """One signed-in browser; the cookie holds a token, the row holds only its hash."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    remember: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    user_agent: Mapped[str] = mapped_column(String(255), default="")
    ip: Mapped[str] = mapped_column(String(45), default="")

    user: Mapped[User] = relationship(back_populates="sessions")

    def __repr__(self) -> str:
        return f"<UserSession {self.id} user={self.user_id}>"


class AccountToken(db.Model):
    """A single-use emailed link (password reset, email verification); only its hash is kept."""

    __tablename__ = "account_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship(back_populates="tokens")

    def __repr__(self) -> str:
        return f"<AccountToken {self.id} {self.purpose} user={self.user_id}>"
