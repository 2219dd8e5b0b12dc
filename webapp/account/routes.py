"""Routes of the "account" blueprint: the signed-in person's own pages."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import (
    confirm_login,
    current_user,
    fresh_login_required,
    login_required,
    logout_user,
)
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from webapp import audit, notifications
from webapp.account.forms import (
    OTHERS,
    ChangePasswordForm,
    ConfirmPasswordForm,
    DeleteAccountForm,
    SessionActionForm,
)
from webapp.devices import sign_in_throttle
from webapp.errors import too_many_requests
from webapp.extensions import limiter
from webapp.identity import session_limits, use_new_token
from webapp.models import User
from webapp.redirects import safe_next
from webapp.services import accounts, sessions
from webapp.services.errors import LoginThrottled, PasswordRejected, WrongPassword
from webapp.services.throttle import ThrottlePolicy
from webapp.useragents import describe

bp = Blueprint("account", __name__)

NOT_YOURS = "That is not your password."
WRONG_CURRENT = "That is not your current password."
CHANGED_NOTICE = "Your password has been changed. Other devices have been signed out."
SESSION_ENDED = "That device has been signed out."
OTHERS_ENDED = "All your other devices have been signed out."
ALREADY_ENDED = "That session was already ended."
ACCOUNT_DELETED = "Your account has been deleted."
# Row ids are positive 64-bit integers; anything longer is no id (and would overflow SQLite).
MAX_ID_DIGITS = 18

FormPage = tuple[str, int]
Throttled = tuple[str, int, dict[str, str]]


def _login_rate_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _me() -> User:
    # The model itself, not Flask-Login's proxy: services (and SQLAlchemy) need the object.
    return current_user._get_current_object()  # type: ignore[attr-defined,no-any-return]


def _throttle() -> ThrottlePolicy | None:
    return sign_in_throttle()


def _form_page(template: str, form: FlaskForm, **context: object) -> FormPage:
    # A rejected submission is a client error; browsers still show the page normally.
    status = 422 if request.method == "POST" else 200
    return render_template(template, form=form, **context), status


@bp.get("/account")
@login_required
def index() -> str:
    """The signed-in person's email address and name, and a sign-out button."""
    return render_template("account/index.html")


@bp.route("/account/confirm", methods=["GET", "POST"])
@limiter.limit(_login_rate_limit, methods=["POST"])
@login_required
def confirm() -> Response | FormPage | Throttled:
    """Ask for the password again; a right one makes the session fresh for sensitive pages."""
    form = ConfirmPasswordForm()
    if form.validate_on_submit():
        user = _me()
        try:
            accounts.confirm_password(user, form.password.data, _throttle())
        except LoginThrottled as exc:
            audit.record("reauthenticate", "throttled", user_id=user.id)
            return too_many_requests(exc.retry_after)
        except WrongPassword:
            audit.record("reauthenticate", "failure", user_id=user.id)
            form.password.errors.append(NOT_YOURS)
        else:
            audit.record("reauthenticate", "success", user_id=user.id)
            confirm_login()
            target = safe_next(request.args.get("next")) or url_for("account.index")
            return redirect(target, 303)
    return _form_page("account/confirm.html", form)


@bp.route("/account/password", methods=["GET", "POST"])
@limiter.limit(_login_rate_limit, methods=["POST"])
@fresh_login_required
def change_password() -> Response | FormPage | Throttled:
    """Change the password with the current one; this browser gets a new token, others end."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        user = _me()
        try:
            token = accounts.change_password(
                user,
                form.current_password.data,
                form.new_password.data,
                session_token=user.session_token,
                throttle=_throttle(),
            )
        except LoginThrottled as exc:
            audit.record("password_change", "throttled", user_id=user.id)
            return too_many_requests(exc.retry_after)
        except WrongPassword:
            audit.record("password_change", "failure", user_id=user.id)
            form.current_password.errors.append(WRONG_CURRENT)
        except PasswordRejected as exc:
            audit.record("password_change", "rejected", user_id=user.id, reason="password_policy")
            form.new_password.errors.append(exc.reason)
        else:
            use_new_token(user, token)
            audit.record("password_change", "success", user_id=user.id)
            notifications.send_password_changed(user)
            flash(CHANGED_NOTICE, "success")
            return redirect(url_for("account.index"), 303)
    return _form_page("account/password.html", form)


@dataclass(frozen=True)
class Device:
    """One open session as the sessions page shows it."""

    id: int
    browser: str
    ip: str
    started: datetime
    last_seen: datetime
    current: bool


def _session_id(text: str | None) -> int | None:
    """The row id in a submitted field, or None if it is not a plain positive number."""
    text = text or ""
    if not (text.isascii() and text.isdigit()) or len(text) > MAX_ID_DIGITS:
        return None
    return int(text) or None


@bp.route("/account/sessions", methods=["GET", "POST"], endpoint="sessions")
@login_required
def list_sessions() -> Response | str:
    """The browsers signed in to this account; end one of the others, or all of them."""
    user = _me()
    form = SessionActionForm()
    if request.method == "POST":
        if not form.validate():
            abort(400)
        if form.action.data == OTHERS:
            sessions.revoke_user_sessions(user.id, keep_token=user.session_token)
            audit.record("session_revoke", "success", user_id=user.id, scope="others")
            flash(OTHERS_ENDED, "success")
        else:
            row_id = _session_id(form.session_id.data)
            if row_id is not None and sessions.revoke_user_session(user.id, row_id):
                audit.record("session_revoke", "success", user_id=user.id, session_id=row_id)
                flash(SESSION_ENDED, "success")
            else:
                audit.record("session_revoke", "not_found", user_id=user.id)
                flash(ALREADY_ENDED, "info")
        return redirect(url_for("account.sessions"), 303)

    current = sessions.hash_token(user.session_token or "")
    devices = [
        Device(
            id=row.id,
            browser=describe(row.user_agent),
            ip=row.ip,
            started=row.created_at,
            last_seen=row.last_seen_at,
            current=hmac.compare_digest(row.token_hash, current),
        )
        for row in sessions.list_open_sessions(user.id, session_limits())
    ]
    devices.sort(key=lambda device: not device.current)  # this browser first, then by use
    return render_template("account/sessions.html", devices=devices)


@bp.route("/account/delete", methods=["GET", "POST"])
@limiter.limit(_login_rate_limit, methods=["POST"])
@fresh_login_required
def delete() -> Response | FormPage | Throttled:
    """Delete the account with its sessions and links, after the password is entered."""
    form = DeleteAccountForm()
    if form.validate_on_submit():
        user = _me()
        user_id = user.id  # the row, and so the object's state, is gone afterwards
        try:
            accounts.delete_account(user, form.password.data, _throttle())
        except LoginThrottled as exc:
            audit.record("account_delete", "throttled", user_id=user_id)
            return too_many_requests(exc.retry_after)
        except WrongPassword:
            audit.record("account_delete", "failure", user_id=user_id)
            form.password.errors.append(NOT_YOURS)
        else:
            audit.record("account_delete", "success", user_id=user_id)
            # Like sign-out, but the session rows went with the user: nothing to revoke.
            session.clear()
            logout_user()  # after clear(): it leaves the flag that deletes the remember cookie
            flash(ACCOUNT_DELETED, "info")
            return redirect(url_for("main.index"), 303)
    return _form_page("account/delete.html", form)
