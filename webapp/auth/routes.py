"""Routes of the "auth" blueprint."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from webapp.auth.forms import LoginForm, RegisterForm
from webapp.extensions import limiter
from webapp.identity import sign_in, sign_out
from webapp.redirects import safe_next
from webapp.services import users
from webapp.services.errors import EmailAlreadyRegistered, InvalidEmail, PasswordRejected

bp = Blueprint("auth", __name__)

LOGIN_FAILED = "Incorrect email address or password."


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["REGISTER_RATE_LIMIT"], methods=["POST"])
def register() -> Response | tuple[str, int]:
    """Show the sign-up form; on a valid submission create the account and sign in."""
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            user = users.register_user(form.email.data, form.name.data, form.password.data)
        except EmailAlreadyRegistered:
            form.email.errors.append(
                "An account with this email address already exists. Sign in instead."
            )
        except InvalidEmail as exc:
            form.email.errors.append(str(exc))
        except PasswordRejected as exc:
            form.password.errors.append(exc.reason)
        else:
            sign_in(user, remember=False)
            flash("Welcome! Your account is ready.", "success")
            return redirect(url_for("account.index"), 303)
    return _form_page("auth/register.html", form)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def login() -> Response | tuple[str, int]:
    """Show the sign-in form; on good credentials sign in and go to a safe ``next``."""
    form = LoginForm()
    if form.validate_on_submit():
        user = users.authenticate(form.email.data, form.password.data)
        if user is not None:
            sign_in(user, remember=form.remember.data)
            target = safe_next(request.args.get("next")) or url_for("account.index")
            return redirect(target, 303)
        form.form_errors.append(LOGIN_FAILED)
    return _form_page("auth/login.html", form)


@bp.post("/logout")
def logout() -> Response:
    """End the session (POST with a CSRF token only, so no link or image can sign you out)."""
    if current_user.is_authenticated:
        sign_out(current_user)
    flash("You have been signed out.", "info")
    return redirect(url_for("auth.login"), 303)


def _form_page(template: str, form: RegisterForm | LoginForm) -> tuple[str, int]:
    # A rejected submission is a client error; browsers still show the page normally.
    status = 422 if request.method == "POST" else 200
    return render_template(template, form=form), status
