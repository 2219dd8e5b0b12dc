"""Sign-up and sign-in forms: shape only, no queries."""

from __future__ import annotations

from wtforms import BooleanField, EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, InputRequired, Length

from webapp.forms import Form, ReadableText, Repeats
from webapp.models import EMAIL_MAX_LENGTH, NAME_MAX_LENGTH

# Longer than any password the policy accepts, so the policy gives the reason, yet
# small enough that the hasher is never handed a flood.
PASSWORD_FIELD_MAX = 1024
TOO_LONG = "Use at most %(max)d characters."


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def _email_field(*checks: object) -> EmailField:
    return EmailField(
        "Email address",
        filters=[_strip],
        validators=[
            InputRequired("Enter your email address."),
            Length(max=EMAIL_MAX_LENGTH, message=TOO_LONG),
            ReadableText(),
            *checks,
        ],
    )


def _password_field(label: str, missing: str, *checks: object) -> PasswordField:
    # Never trimmed: spaces are part of a password.
    return PasswordField(
        label,
        validators=[
            InputRequired(missing),
            Length(max=PASSWORD_FIELD_MAX, message=TOO_LONG),
            ReadableText(),
            *checks,
        ],
    )


class RegisterForm(Form):
    """Create an account."""

    email = _email_field(Email("Enter an email address like name@example.com."))
    name = StringField(
        "Name",
        filters=[_strip],
        validators=[
            DataRequired("Enter your name."),
            Length(max=NAME_MAX_LENGTH, message=TOO_LONG),
            ReadableText(),
        ],
    )
    password = _password_field("Password", "Choose a password.")
    confirm_password = _password_field(
        "Confirm password",
        "Enter the password again.",
        Repeats("password", "The two passwords do not match."),
    )


class LoginForm(Form):
    """Sign in with email address and password."""

    # No syntax check: a malformed address simply fails like any unknown one.
    email = _email_field()
    password = _password_field("Password", "Enter your password.")
    remember = BooleanField("Keep me signed in on this device")


class EmailRequestForm(Form):
    """Ask for an emailed link (password reset, or a new confirmation link)."""

    email = _email_field(Email("Enter an email address like name@example.com."))


class ResetPasswordForm(Form):
    """Choose a new password from an emailed reset link."""

    password = _password_field("New password", "Choose a new password.")
    confirm_password = _password_field(
        "Confirm new password",
        "Enter the new password again.",
        Repeats("password", "The two passwords do not match."),
    )


class VerifyEmailForm(Form):
    """Confirm an address from its emailed link with the account's password."""

    password = _password_field("Password", "Enter the password of this account.")
