"""Single-use emailed links: a random token in the link, only its hash in the database."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import select, update

from webapp.extensions import db
from webapp.models import AccountToken, User, utcnow
from webapp.services.sessions import hash_token

RESET = "reset"
VERIFY = "verify"


def issue_token(user: User, purpose: str, lifetime: timedelta) -> str:
    """A new token for ``purpose``; any earlier unused one for the same purpose dies."""
    expire_tokens(user.id, purpose)
    token = secrets.token_urlsafe(32)
    db.session.add(
        AccountToken(
            user=user,
            purpose=purpose,
            token_hash=hash_token(token),
            expires_at=utcnow() + lifetime,
        )
    )
    db.session.commit()
    return token


def find_token(token: str, purpose: str) -> AccountToken | None:
    """The live token row (unused, unexpired, active user) for ``token``, or None."""
    row = db.session.scalar(
        select(AccountToken).where(
            AccountToken.token_hash == hash_token(token), AccountToken.purpose == purpose
        )
    )
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        return None
    return row if row.user.is_active else None


def expire_tokens(user_id: int, purpose: str) -> None:
    """Mark every unused token of a user for ``purpose`` as used (not committed)."""
    db.session.execute(
        update(AccountToken)
        .where(
            AccountToken.user_id == user_id,
            AccountToken.purpose == purpose,
            AccountToken.used_at.is_(None),
        )
        .values(used_at=utcnow())
    )
