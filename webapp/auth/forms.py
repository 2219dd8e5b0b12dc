"""Sign-up and sign-in forms: shape only, no queries."""

from __future__ import annotations

from wtforms import BooleanField, EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, InputRequired, Length

from webapp.forms import Form, ReadableText
from webapp.models import EMAIL_MAX_LENGTH, NAME_MAX_LENGTH


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


# Longer than any password the policy accepts, so the policy gives the reason, yet
# small enough that the hasher is never handed a flood.
PASSWORD_FIELD_MAX = 1024


class RegisterForm(Form):
    """Create an account."""

    email = EmailField(
        "Email address",
        filters=[_strip],
        validators=[
            InputRequired("Enter your email address."),
            Length(max=EMAIL_MAX_LENGTH, message="Use at most %(max)d characters."),
            ReadableText(),
            Email("Enter an email address like name@example.com."),
        ],
    )
    name = StringField(
        "Name",
        filters=[_strip],
        validators=[
            DataRequired("Enter your name."),
            Length(max=NAME_MAX_LENGTH, message="Use at most %(max)d characters."),
            ReadableText(),
        ],
    )
    password = PasswordField(
        "Password",
        validators=[
            InputRequired("Choose a password."),
            Length(max=PASSWORD_FIELD_MAX, message="Use at most %(max)d characters."),
            ReadableText(),
        ],
    )
    confirm_password = PasswordField(
        "Confirm password",
        validators=[
            InputRequired("Enter the password again."),
            EqualTo("password", message="The two passwords do not match."),
        ],
    )


class LoginForm(Form):
    """Sign in with email address and password."""

    email = EmailField(
        "Email address",
        filters=[_strip],
        validators=[
            InputRequired("Enter your email address."),
            Length(max=EMAIL_MAX_LENGTH, message="Use at most %(max)d characters."),
            ReadableText(),
        ],
    )
    password = PasswordField(
        "Password",
        validators=[
            InputRequired("Enter your password."),
            Length(max=PASSWORD_FIELD_MAX, message="Use at most %(max)d characters."),
            ReadableText(),
        ],
    )
    remember = BooleanField("Keep me signed in on this device")
