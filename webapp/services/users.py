"""Accounts: sign-up, look-up, credential checks and deactivation."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import delete, exists, func, select
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db, passwords
from webapp.fingerprints import fingerprint
from webapp.models import AccountToken, User, UserSession, utcnow
from webapp.services import throttle as throttling
from webapp.services.errors import (
    EmailAlreadyRegistered,
    EmailNotVerified,
    InvalidEmail,
    UnknownUser,
)
from webapp.services.sessions import revoke_user_sessions
from webapp.services.throttle import ThrottlePolicy
from webapp.services.tokens import VERIFY


def normalize_email(email: str) -> str:
    """The canonical form stored and compared: email-validator's normal form, lower-cased."""
    try:
        result = validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidEmail(str(exc)) from None
    # Mail providers treat local parts case-insensitively in practice, and people type
    # their address in whatever case; one lower-case form keeps one account per person.
    return result.normalized.lower()


def register_user(
    email: str,
    name: str,
    password: str,
    *,
    replace_unconfirmed_after: timedelta | None = None,
) -> User:
    """Create an account, or raise EmailAlreadyRegistered / PasswordRejected / InvalidEmail.

    With ``replace_unconfirmed_after`` (the verification link's lifetime, given while
    verification is required), an account with this address that was never confirmed,
    never signed in to and has had no live link for that long is deleted and replaced.
    """
    email = normalize_email(email)
    name = name.strip()
    passwords.policy.check(password, context=(email, name))
    user = User(email=email, name=name, password_hash=passwords.hasher.hash(password))
    if replace_unconfirmed_after is not None:
        _delete_stale_unconfirmed(email, replace_unconfirmed_after)
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:
        # The unique index decides, so two simultaneous sign-ups give one account.
        db.session.rollback()
        raise EmailAlreadyRegistered(email) from None
    return user


def _delete_stale_unconfirmed(email: str, lifetime: timedelta) -> None:
    # An unconfirmed address would otherwise stay blocked for good by whoever typed it
    # first (perhaps to pre-register someone else's). Such an account could never sign
    # in and its link is dead, so it holds nothing of anyone's. Accounts with a session
    # date from before verification was required and are kept. Not committed: the new
    # row is added in the same transaction, and the unique index settles a race.
    now = utcnow()
    db.session.execute(
        delete(User).where(
            func.lower(User.email) == email,
            User.email_verified_at.is_(None),
            User.created_at <= now - lifetime,
            ~exists().where(UserSession.user_id == User.id),
            ~exists().where(
                AccountToken.user_id == User.id,
                AccountToken.purpose == VERIFY,
                AccountToken.expires_at > now,
            ),
        )
    )


def get_user_by_email(email: str) -> User | None:
    """The account with this address in any letter case, or None."""
    try:
        email = normalize_email(email)
    except InvalidEmail:
        return None
    return db.session.scalar(select(User).where(func.lower(User.email) == email))


def account_key(email: str) -> str:
    """A fingerprint naming the address in counters, for accounts and unknown addresses alike."""
    try:
        email = normalize_email(email)
    except InvalidEmail:
        email = email.strip().lower()
    return fingerprint(email)


def authenticate(
    email: str,
    password: str,
    throttle: ThrottlePolicy | None = None,
    *,
    require_verified: bool = False,
) -> User | None:
    """The active user these credentials belong to, or None; the cost is the same either way.

    With a ``throttle`` policy, raises LoginThrottled instead of checking the password when
    this address has failed too often, whether or not an account has it: counted for the
    browser alone when the policy carries its valid device cookie for this account, else for
    every untrusted client together. With ``require_verified``, right credentials for an
    unconfirmed address raise EmailNotVerified.
    """
    hasher = passwords.hasher
    if len(password) > passwords.policy.max_length:
        return None  # never feed the hasher more than the policy could ever have accepted
    account = account_key(email)
    user = get_user_by_email(email)
    device = throttling.trusted_device(throttle, account, user.password_hash if user else None)
    if throttle:
        # A failure's wait is set here already; only a success lifts it again.
        throttling.reserve_attempt(account, throttle, device)
    if user is None:
        # Spend one verification anyway, so timing does not reveal who has an account.
        hasher.dummy_verify(password)
    if user is None or not (hasher.verify(user.password_hash, password) and user.is_active):
        return None
    if throttle:
        throttling.record_success(account, device)
    if require_verified and user.email_verified_at is None:
        raise EmailNotVerified(user.email)
    if hasher.needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
        db.session.commit()
    return user


def list_users() -> Sequence[User]:
    """Every account, oldest first."""
    return db.session.scalars(select(User).order_by(User.id)).all()


def deactivate_user(email: str) -> User:
    """Stop an account from signing in and end its sessions, or raise UnknownUser."""
    user = get_user_by_email(email)
    if user is None:
        raise UnknownUser(email)
    user.is_active = False
    revoke_user_sessions(user.id)
    return user
