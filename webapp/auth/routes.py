"""Routes of the "auth" blueprint."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from webapp import audit
from webapp.auth.forms import LoginForm, RegisterForm
from webapp.errors import too_many_requests
from webapp.extensions import limiter
from webapp.identity import sign_in, sign_out
from webapp.redirects import safe_next
from webapp.services import users
from webapp.services.errors import (
    EmailAlreadyRegistered,
    InvalidEmail,
    LoginThrottled,
    PasswordRejected,
)
from webapp.services.throttle import ThrottlePolicy

bp = Blueprint("auth", __name__)

LOGIN_FAILED = "Incorrect email address or password."


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["REGISTER_RATE_LIMIT"], methods=["POST"])
def register() -> Response | tuple[str, int]:
    """Show the sign-up form; on a valid submission create the account and sign in."""
    form = RegisterForm()
    if form.validate_on_submit():
        email = form.email.data
        try:
            user = users.register_user(email, form.name.data, form.password.data)
        except EmailAlreadyRegistered:
            audit.record("sign_up", "rejected", email=email, reason="already_registered")
            form.email.errors.append(
                "An account with this email address already exists. Sign in instead."
            )
        except InvalidEmail as exc:
            audit.record("sign_up", "rejected", email=email, reason="invalid_email")
            form.email.errors.append(str(exc))
        except PasswordRejected as exc:
            audit.record("sign_up", "rejected", email=email, reason="password_policy")
            form.password.errors.append(exc.reason)
        else:
            audit.record("sign_up", "success", user_id=user.id)
            sign_in(user, remember=False)
            flash("Welcome! Your account is ready.", "success")
            return redirect(url_for("account.index"), 303)
    return _form_page("auth/register.html", form)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def login() -> Response | tuple[str, int] | tuple[str, int, dict[str, str]]:
    """Show the sign-in form; on good credentials sign in and go to a safe ``next``."""
    form = LoginForm()
    if form.validate_on_submit():
        email = form.email.data
        throttle = ThrottlePolicy.from_config(current_app.config)
        try:
            user = users.authenticate(email, form.password.data, throttle)
        except LoginThrottled as exc:
            audit.record("sign_in", "throttled", email=email)
            return too_many_requests(exc.retry_after)
        if user is not None:
            audit.record("sign_in", "success", user_id=user.id)
            sign_in(user, remember=form.remember.data)
            target = safe_next(request.args.get("next")) or url_for("account.index")
            return redirect(target, 303)
        audit.record("sign_in", "failure", email=email)
        form.form_errors.append(LOGIN_FAILED)
    return _form_page("auth/login.html", form)


@bp.post("/logout")
def logout() -> Response:
    """End the session (POST with a CSRF token only, so no link or image can sign you out)."""
    if current_user.is_authenticated:
        audit.record("sign_out", "success", user_id=current_user.id)
        sign_out(current_user)
    flash("You have been signed out.", "info")
    return redirect(url_for("auth.login"), 303)


def _form_page(template: str, form: RegisterForm | LoginForm) -> tuple[str, int]:
    # A rejected submission is a client error; browsers still show the page normally.
    status = 422 if request.method == "POST" else 200
    return render_template(template, form=form), status
