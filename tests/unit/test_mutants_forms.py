"""The shared email and password fields, built afresh inside each test.

Every form class calls ``_email_field`` and ``_password_field`` once, when webapp.auth.forms
is imported. Mutation testing (``make mutation``) links a function to the tests that call it
while they run, so the page tests that use RegisterForm never count for these two; the tests
here build a form from them and check what a person sees: the label, the error messages,
the length limits and the trimming. The last ones check the shared Form base class the same
way: a field sent twice, and extra validators.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from werkzeug.datastructures import MultiDict
from wtforms import Field
from wtforms.validators import Email, ValidationError

from webapp.auth.forms import PASSWORD_FIELD_MAX, _email_field, _password_field
from webapp.forms import Form, Repeats
from webapp.models import EMAIL_MAX_LENGTH

ADDRESS = "ann@example.com"
PASSWORD = "  velvet otter climbs the lighthouse  "


def _submit(app: Flask, make_form: Callable[[], Form], data: dict[str, str]) -> Form:
    """Post ``data`` to a form made by ``make_form`` and validate it (no CSRF token needed)."""
    with app.test_request_context("/", method="POST", data=data):
        form = make_form()
        form.validate()
        return form


def _email_form(*checks: object) -> Callable[[], Form]:
    def make() -> Form:
        class EmailForm(Form):
            email = _email_field(*checks)

        return EmailForm(meta={"csrf": False})

    return make


def _password_form(*checks: object) -> Callable[[], Form]:
    def make() -> Form:
        class PasswordForm(Form):
            password = _password_field("New password", "Choose a new password.", *checks)
            again = _password_field(
                "Confirm new password",
                "Enter the new password again.",
                Repeats("password", "The two passwords do not match."),
            )

        return PasswordForm(meta={"csrf": False})

    return make


def _label(field: Field) -> str:
    return str(field.label.text)


# --- the email field --------------------------------------------------------------------------


def test_email_field_is_labelled_and_trimmed(app: Flask) -> None:
    form = _submit(app, _email_form(), {"email": f"  {ADDRESS}\t"})

    assert _label(form.email) == "Email address"
    assert form.email.data == ADDRESS
    assert form.email.errors == []


def test_email_field_asks_for_a_missing_address(app: Flask) -> None:
    form = _submit(app, _email_form(), {})

    assert form.email.errors == ["Enter your email address."]


@pytest.mark.parametrize(
    ("length", "errors"),
    [
        (EMAIL_MAX_LENGTH, []),
        (EMAIL_MAX_LENGTH + 1, [f"Use at most {EMAIL_MAX_LENGTH} characters."]),
    ],
)
def test_email_field_caps_the_length(app: Flask, length: int, errors: list[str]) -> None:
    address = "a" * (length - len("@example.com")) + "@example.com"

    form = _submit(app, _email_form(), {"email": address})

    assert form.email.errors == errors


def test_email_field_refuses_control_characters(app: Flask) -> None:
    form = _submit(app, _email_form(), {"email": "ann@exa\x00mple.com"})

    assert form.email.errors == ["Remove the control characters (such as line breaks)."]


def test_email_field_refuses_characters_that_could_not_be_read(app: Flask) -> None:
    # Werkzeug turns bytes that are not UTF-8 into U+FFFD.
    form = _submit(app, _email_form(), {"email": "ann@exa\ufffdmple.com"})

    assert form.email.errors == ["Some characters could not be read. Type them again."]


def test_email_field_applies_the_extra_checks(app: Flask) -> None:
    checked = _email_form(Email("Enter an email address like name@example.com."))

    form = _submit(app, checked, {"email": "not an address"})

    assert form.email.errors == ["Enter an email address like name@example.com."]


# --- the password field -----------------------------------------------------------------------


def test_password_field_is_labelled_and_never_trimmed(app: Flask) -> None:
    form = _submit(app, _password_form(), {"password": PASSWORD, "again": PASSWORD})

    assert _label(form.password) == "New password"
    assert _label(form.again) == "Confirm new password"
    assert form.password.data == PASSWORD  # spaces are part of a password
    assert form.errors == {}


def test_password_field_asks_with_its_own_message(app: Flask) -> None:
    form = _submit(app, _password_form(), {})

    assert form.password.errors == ["Choose a new password."]
    assert form.again.errors == ["Enter the new password again."]


@pytest.mark.parametrize(
    ("length", "errors"),
    [
        (PASSWORD_FIELD_MAX, []),
        (PASSWORD_FIELD_MAX + 1, [f"Use at most {PASSWORD_FIELD_MAX} characters."]),
    ],
)
def test_password_field_caps_the_length(app: Flask, length: int, errors: list[str]) -> None:
    password = "x" * length

    form = _submit(app, _password_form(), {"password": password, "again": password})

    assert form.password.errors == errors


def test_password_field_refuses_control_characters(app: Flask) -> None:
    password = "velvet otter\nclimbs the lighthouse"

    form = _submit(app, _password_form(), {"password": password, "again": password})

    assert form.password.errors == ["Remove the control characters (such as line breaks)."]


def test_password_field_applies_the_extra_checks(app: Flask) -> None:
    form = _submit(app, _password_form(), {"password": PASSWORD, "again": PASSWORD + "!"})

    assert form.password.errors == []
    assert form.again.errors == ["The two passwords do not match."]


def test_an_empty_password_is_not_also_called_a_mismatch(app: Flask) -> None:
    form = _submit(app, _password_form(), {"password": "", "again": PASSWORD})

    assert form.password.errors == ["Choose a new password."]
    assert form.again.errors == []


# --- the Form base class ----------------------------------------------------------------------


def test_a_field_sent_twice_fails_the_form(app: Flask) -> None:
    data = MultiDict([("email", ADDRESS), ("email", "bob@example.com")])
    with app.test_request_context("/", method="POST", data=data):
        form = _email_form()()

        assert form.validate() is False
        assert form.email.errors == ["Send this field only once."]


def test_extra_validators_still_run(app: Flask) -> None:
    def not_bob(form: Form, field: Field) -> None:
        if field.data.startswith("bob@"):
            raise ValidationError("Not Bob.")

    with app.test_request_context("/", method="POST", data={"email": "bob@example.com"}):
        form = _email_form()()

        assert form.validate(extra_validators={"email": [not_bob]}) is False
        assert form.email.errors == ["Not Bob."]
