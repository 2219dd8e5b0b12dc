"""Single-use emailed links: a random token in the link, only its hash in the database."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import CursorResult, select, update

from webapp.extensions import db
from webapp.models import AccountToken, User, utcnow
from webapp.services.errors import InvalidToken
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
    """The live token row (unused, unexpired, active user) for ``token``, or None.

    Only a look-up: what a link may do is decided by ``consume_token``, never by this.
    """
    row = db.session.scalar(
        select(AccountToken).where(
            AccountToken.token_hash == hash_token(token), AccountToken.purpose == purpose
        )
    )
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        return None
    return row if row.user.is_active else None


def consume_token(token: str, purpose: str) -> None:
    """Mark ``token`` used if it is still live, or raise InvalidToken (not committed).

    One conditional UPDATE decides, so of several simultaneous submissions of one link
    exactly one matches the row; the database holds the others back until that one's
    transaction ends and then finds the row used. The caller commits the change the link
    authorises in the same transaction, or rolls back.
    """
    now = utcnow()
    result = db.session.execute(
        update(AccountToken)
        .where(
            AccountToken.token_hash == hash_token(token),
            AccountToken.purpose == purpose,
            AccountToken.used_at.is_(None),
            AccountToken.expires_at > now,
        )
        .values(used_at=now)
    )
    if not isinstance(result, CursorResult) or result.rowcount != 1:
        db.session.rollback()
        raise InvalidToken


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
