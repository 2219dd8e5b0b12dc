"""Account lifecycle: change, reset and verify, delete."""

from __future__ import annotations

from datetime import timedelta

from webapp.extensions import db, passwords
from webapp.models import User, utcnow
from webapp.services import throttle as throttling
from webapp.services.errors import InvalidToken, WrongPassword
from webapp.services.sessions import revoke_user_sessions
from webapp.services.throttle import ThrottlePolicy
from webapp.services.tokens import RESET, VERIFY, expire_tokens, find_token, issue_token
from webapp.services.users import account_key, get_user_by_email


def confirm_password(user: User, password: str, throttle: ThrottlePolicy | None) -> None:
    """Raise WrongPassword (or LoginThrottled) unless ``password`` is the user's.

    Counts towards the same throttle as signing in (the browser's own counter when the
    policy carries its valid device cookie, else the account's untrusted one), so a stolen
    session cannot be used to guess the password either.
    """
    account = account_key(user.email)
    device = throttling.trusted_device(throttle, account, user.password_hash)
    if throttle:
        throttling.reserve_attempt(account, throttle, device)
    if not passwords.hasher.verify(user.password_hash, password):
        raise WrongPassword
    if throttle:
        throttling.record_success(account, device)


def _set_password(user: User, password: str) -> None:
    # The same policy as sign-up; any outstanding reset link dies with the old password.
    passwords.policy.check(password, context=(user.email, user.name))
    user.password_hash = passwords.hasher.hash(password)
    expire_tokens(user.id, RESET)


def change_password(
    user: User,
    current: str,
    new: str,
    *,
    keep_token: str | None,
    throttle: ThrottlePolicy | None,
) -> None:
    """Replace the password and end the other sessions (WrongPassword, PasswordRejected)."""
    confirm_password(user, current, throttle)
    _set_password(user, new)
    revoke_user_sessions(user.id, keep_token=keep_token)  # commits the whole change


def request_password_reset(email: str, lifetime: timedelta) -> tuple[User, str] | None:
    """A reset token for the active account with this address, or None if there is none."""
    user = get_user_by_email(email)
    if user is None or not user.is_active:
        return None
    return user, issue_token(user, RESET, lifetime)


def reset_token_is_valid(token: str) -> bool:
    """Whether ``token`` would reset a password now."""
    return find_token(token, RESET) is not None


def reset_password(token: str, new: str) -> User:
    """Set a new password from an emailed link and end every session; the link dies."""
    row = find_token(token, RESET)
    if row is None:
        raise InvalidToken
    user = row.user
    _set_password(user, new)
    revoke_user_sessions(user.id)  # commits the whole change
    # Proving control of the mailbox lifts any sign-in lock on the account.
    throttling.record_success(account_key(user.email))
    return user


def start_email_verification(user: User, lifetime: timedelta) -> str:
    """A verification token for the user's address."""
    return issue_token(user, VERIFY, lifetime)


def verify_email(token: str) -> User:
    """Mark the address of the token's user as verified; the link dies."""
    row = find_token(token, VERIFY)
    if row is None:
        raise InvalidToken
    user = row.user
    user.email_verified_at = utcnow()
    expire_tokens(user.id, VERIFY)
    db.session.commit()
    return user


def delete_account(user: User, password: str, throttle: ThrottlePolicy | None) -> None:
    """Remove the user with their sessions and tokens, or raise WrongPassword."""
    confirm_password(user, password, throttle)
    db.session.delete(user)
    db.session.commit()
