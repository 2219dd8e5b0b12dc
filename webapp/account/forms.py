"""Forms of the signed-in person's own pages: shape only, no queries."""

from __future__ import annotations

from wtforms import HiddenField
from wtforms.validators import AnyOf, InputRequired

from webapp.auth.forms import _password_field
from webapp.forms import Form, Repeats

REVOKE = "revoke"
OTHERS = "others"


class ConfirmPasswordForm(Form):
    """Enter the password again before a sensitive page ("Confirm it's you")."""

    password = _password_field("Password", "Enter your password.")


class ChangePasswordForm(Form):
    """Replace the password; the current one proves it is really you."""

    current_password = _password_field("Current password", "Enter your current password.")
    new_password = _password_field("New password", "Choose a new password.")
    confirm_password = _password_field(
        "Confirm new password",
        "Enter the new password again.",
        Repeats("new_password", "The two new passwords do not match."),
    )


class DeleteAccountForm(Form):
    """Delete the account for good, after entering the password."""

    password = _password_field("Password", "Enter your password to delete your account.")


class SessionActionForm(Form):
    """End one other session (``action=revoke`` with ``session_id``) or all the others."""

    action = HiddenField(validators=[InputRequired(), AnyOf((REVOKE, OTHERS))])
    # Read as a number by the view: a bad one is reported like an already ended session.
    session_id = HiddenField()
