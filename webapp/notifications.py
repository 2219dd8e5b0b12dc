"""The emails the app sends, each built and sent as a background job."""

from __future__ import annotations

from email.message import EmailMessage

from flask import current_app
from limits import parse
from limits.strategies import FixedWindowRateLimiter

from webapp import audit
from webapp.extensions import counters, db, jobs, mailer
from webapp.mail import build_message, public_url
from webapp.models import User
from webapp.services import accounts
from webapp.services.users import account_key, get_user_by_email


def _within_mail_limit(email: str) -> bool:
    # Beyond the limit nothing is sent, silently: the reply must not differ, and a
    # mailbox must not be floodable through this site.
    window = FixedWindowRateLimiter(counters())
    limit = parse(current_app.config["MAIL_PER_ADDRESS_LIMIT"])
    return window.hit(limit, "mail", account_key(email))


def _deliver(message: EmailMessage, kind: str, user_id: int | None) -> None:
    try:
        mailer.send(message)
    except OSError as exc:  # smtplib.SMTPException is an OSError
        audit.record("mail", "failed", user_id=user_id, kind=kind, error=type(exc).__name__)
        raise
    audit.record("mail", "sent", user_id=user_id, kind=kind)


def _minutes(key: str) -> int:
    return int(current_app.config[key].total_seconds() // 60)


def send_password_reset(email: str) -> None:
    """Queue a reset link for the address, if an active account has it (the caller can't tell)."""
    jobs.submit(_password_reset, email)


def _password_reset(email: str) -> None:
    if not _within_mail_limit(email):
        return
    found = accounts.request_password_reset(email, current_app.config["RESET_TOKEN_LIFETIME"])
    if found is None:
        return
    user, token = found
    message = build_message(
        user.email,
        "Reset your password",
        "reset_password",
        user=user,
        link=public_url("auth.reset_password", token=token),
        minutes=_minutes("RESET_TOKEN_LIFETIME"),
    )
    _deliver(message, "reset_password", user.id)


def send_verification(user: User) -> None:
    """Queue a link that confirms the user's address."""
    jobs.submit(_verification, user.id)


def resend_verification(email: str) -> None:
    """Queue a new confirmation link if an unconfirmed account has this address."""
    jobs.submit(_resend_verification, email)


def _resend_verification(email: str) -> None:
    user = get_user_by_email(email)
    if user is not None and user.email_verified_at is None and _within_mail_limit(email):
        _verification(user.id)


def _verification(user_id: int) -> None:
    user = db.session.get(User, user_id)
    if user is None or not user.is_active:
        return
    token = accounts.start_email_verification(user, current_app.config["VERIFY_TOKEN_LIFETIME"])
    message = build_message(
        user.email,
        "Confirm your email address",
        "verify_email",
        user=user,
        link=public_url("auth.verify_email", token=token),
        hours=_minutes("VERIFY_TOKEN_LIFETIME") // 60,
    )
    _deliver(message, "verify_email", user.id)


def send_already_registered(email: str) -> None:
    """Queue a notice to the owner of an address that someone tried to sign up with."""
    jobs.submit(_already_registered, email)


def _already_registered(email: str) -> None:
    user = get_user_by_email(email)
    if user is None or not _within_mail_limit(email):
        return
    message = build_message(
        user.email,
        "Someone tried to create an account with your address",
        "already_registered",
        user=user,
        login_link=public_url("auth.login"),
        reset_link=public_url("auth.forgot_password"),
    )
    _deliver(message, "already_registered", user.id)


def send_password_changed(user: User) -> None:
    """Queue the notice that the user's password was changed (never the password itself)."""
    jobs.submit(_password_changed, user.id)


def _password_changed(user_id: int) -> None:
    user = db.session.get(User, user_id)
    if user is None:
        return
    message = build_message(
        user.email,
        "Your password was changed",
        "password_changed",
        user=user,
        reset_link=public_url("auth.forgot_password"),
    )
    _deliver(message, "password_changed", user.id)
