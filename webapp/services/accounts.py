"""Account lifecycle: change, reset and verify, delete."""

from __future__ import annotations

from datetime import timedelta

from webapp.extensions import db, passwords
from webapp.models import User, utcnow
from webapp.passwords import normalize
from webapp.services import throttle as throttling
from webapp.services.errors import InvalidToken, PasswordRejected, WrongPassword
from webapp.services.sessions import NewToken, replace_token, revoke_user_sessions
from webapp.services.throttle import ThrottlePolicy
from webapp.services.tokens import (
    RESET,
    VERIFY,
    consume_token,
    expire_tokens,
    find_token,
    issue_token,
)
from webapp.services.users import account_key, get_user_by_email

SAME_PASSWORD = "Choose a password different from your current one."  # noqa: S105


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


def _checked_hash(user: User, password: str) -> str:
    # The same policy as sign-up.
    passwords.policy.check(password, context=(user.email, user.name))
    return passwords.hasher.hash(password)


def _set_password(user: User, password: str) -> None:
    # Any outstanding reset link dies with the old password.
    user.password_hash = _checked_hash(user, password)
    expire_tokens(user.id, RESET)


def change_password(
    user: User,
    current: str,
    new: str,
    *,
    session_token: str,
    throttle: ThrottlePolicy | None,
) -> NewToken:
    """Replace the password; this session gets a new token and every other one ends.

    Raises WrongPassword (or LoginThrottled) for a wrong current password, PasswordRejected
    for a new one the policy refuses or that is the current one again.
    """
    confirm_password(user, current, throttle)
    # The current password is proven right, so comparing the texts is enough (no hashing).
    if normalize(new) == normalize(current):
        raise PasswordRejected(SAME_PASSWORD)
    _set_password(user, new)
    # A copy of this browser's cookies taken before the change must not work after it.
    token = replace_token(user.id, session_token)
    revoke_user_sessions(user.id, keep_token=token.value)  # commits the whole change
    return token


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
    """Set a new password from an emailed link and end every session; the link dies.

    The link proves the mailbox, so it also confirms the address: whoever signed up with
    someone else's address loses the account to its owner (password and sessions alike).
    Raises InvalidToken for a dead link, and for all but one of simultaneous uses of one.
    """
    row = find_token(token, RESET)
    if row is None:
        raise InvalidToken
    user = row.user
    # Checked and hashed before the link is spent: a rejected password leaves it usable.
    password_hash = _checked_hash(user, new)
    consume_token(token, RESET)
    user.password_hash = password_hash
    expire_tokens(user.id, RESET)
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
        expire_tokens(user.id, VERIFY)
    revoke_user_sessions(user.id)  # commits the whole change
    # Proving control of the mailbox lifts any sign-in lock on the account.
    throttling.record_success(account_key(user.email))
    return user


def start_email_verification(user: User, lifetime: timedelta) -> str:
    """A verification token for the user's address."""
    return issue_token(user, VERIFY, lifetime)


def verification_account(token: str) -> User | None:
    """The account a live verification link would confirm, or None; changes nothing."""
    row = find_token(token, VERIFY)
    return None if row is None else row.user


def verify_email(
    token: str,
    password: str | None,
    throttle: ThrottlePolicy | None,
    *,
    signed_in: User | None = None,
) -> User:
    """Confirm the address of the link's account; the link dies.

    Following the link is not enough, or a mail scanner (or the owner's curious click)
    would confirm an account somebody else opened with the owner's address: the person
    also proves they hold the account, by its ``password`` (counted by the per-account
    throttle) or by being ``signed_in`` as it. Raises InvalidToken, WrongPassword or
    LoginThrottled; nothing changes unless it succeeds.
    """
    row = find_token(token, VERIFY)
    if row is None:
        raise InvalidToken
    user = row.user
    if signed_in is None or signed_in.id != user.id:
        if password is None:
            raise WrongPassword
        confirm_password(user, password, throttle)
    consume_token(token, VERIFY)
    user.email_verified_at = utcnow()
    expire_tokens(user.id, VERIFY)
    db.session.commit()
    return user


def delete_account(user: User, password: str, throttle: ThrottlePolicy | None) -> None:
    """Remove the user with their sessions and tokens, or raise WrongPassword."""
    confirm_password(user, password, throttle)
    db.session.delete(user)
    db.session.commit()
