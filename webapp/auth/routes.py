"""Routes of the "auth" blueprint."""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from webapp import audit, notifications
from webapp.auth.forms import (
    EmailRequestForm,
    LoginForm,
    RegisterForm,
    ResetPasswordForm,
    VerifyEmailForm,
)
from webapp.devices import sign_in_throttle
from webapp.errors import mail_unavailable, too_many_requests
from webapp.extensions import limiter, mailer
from webapp.forms import Form
from webapp.identity import sign_in, sign_out
from webapp.redirects import safe_next
from webapp.services import accounts, users
from webapp.services.errors import (
    EmailAlreadyRegistered,
    EmailNotVerified,
    InvalidEmail,
    InvalidToken,
    LoginThrottled,
    PasswordRejected,
    WrongPassword,
)

bp = Blueprint("auth", __name__)

Page = Response | tuple[str, int] | tuple[str, int, dict[str, str]]

LOGIN_FAILED = "Incorrect email address or password."
SIGNED_OUT = "You have been signed out."
NOT_VERIFIED = "Confirm your email address first: use the link we sent you."
PASSWORD_RESET_DONE = "Your password has been changed. Sign in with your new password."  # noqa: S105
EMAIL_CONFIRMED = "Your email address is confirmed."
WRONG_ACCOUNT_PASSWORD = "That is not the password of this account."  # noqa: S105
# Where the reset link's token waits between the link and the form, out of the address bar.
RESET_TOKEN_KEY = "reset_token"  # noqa: S105
# Pages whose address holds (or held, a redirect ago) a token: a Referer may carry it to
# this site only, never to another one.
TOKEN_ENDPOINTS = frozenset(
    {"auth.reset_password", "auth.reset_password_form", "auth.verify_email"}
)


@bp.after_request
def _same_origin_referrer_for_token_pages(response: Response) -> Response:
    # A blueprint hook, so the 429 and CSRF error pages of these routes get it too. Not
    # "no-referrer": a browser then posts the page's form with no Referer and Origin: null,
    # which Flask-WTF's HTTPS check refuses, so no reset could ever be completed.
    if request.endpoint in TOKEN_ENDPOINTS:
        response.headers["Referrer-Policy"] = "same-origin"
    return response


def _verification_required() -> bool:
    return bool(current_app.config["REQUIRE_EMAIL_VERIFICATION"])


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["REGISTER_RATE_LIMIT"], methods=["POST"])
def register() -> Page:
    """Show the sign-up form; on a valid submission create the account.

    Without email verification the new account is signed in. With it, nothing is signed
    in, and new and taken addresses get the same answer: a confirmation link for the one,
    an "already registered" notice to the owner for the other.
    """
    form = RegisterForm()
    verify = _verification_required()
    if form.validate_on_submit():
        if verify and not mailer.is_available():
            return mail_unavailable()
        email = form.email.data
        try:
            user = users.register_user(
                email,
                form.name.data,
                form.password.data,
                # Only while verification is required can an account be unconfirmed
                # for good; without it every account signs in without confirming.
                replace_unconfirmed_after=(
                    current_app.config["VERIFY_TOKEN_LIFETIME"] if verify else None
                ),
            )
        except EmailAlreadyRegistered:
            audit.record("sign_up", "rejected", email=email, reason="already_registered")
            if verify:
                notifications.send_already_registered(email)
                return redirect(url_for("auth.register_sent"), 303)
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
            if verify:
                notifications.send_verification(user)
                return redirect(url_for("auth.register_sent"), 303)
            sign_in(user, remember=False)
            flash("Welcome! Your account is ready.", "success")
            return redirect(url_for("account.index"), 303)
    return _form_page("auth/register.html", form)


@bp.get("/register/sent")
def register_sent() -> str:
    """The one answer to every sign-up (and resend) while verification is on."""
    return render_template("auth/register_sent.html", hours=_hours("VERIFY_TOKEN_LIFETIME"))


@bp.route("/register/resend", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["MAIL_REQUEST_RATE_LIMIT"], methods=["POST"])
def resend_verification() -> Page:
    """Ask for a new confirmation link; the answer is the same for every address."""
    form = EmailRequestForm()
    if form.validate_on_submit():
        if not mailer.is_available():
            return mail_unavailable()
        email = form.email.data
        notifications.resend_verification(email)
        audit.record("email_verify", "requested", email=email)
        return redirect(url_for("auth.register_sent"), 303)
    return _form_page("auth/resend_verification.html", form)


@bp.route("/register/verify/<token>", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"])
def verify_email(token: str) -> Page:
    """The emailed link: a GET only asks; a POST confirms the address and signs in.

    A mail scanner or a curious click must not confirm an account that somebody else
    opened with this address, so the POST needs the account's password, or a browser
    already signed in as the account (it then shows just a Confirm button).
    """
    account = accounts.verification_account(token)
    if account is None:
        audit.record("email_verify", "failure", reason="invalid_token")
        return _link_expired("verify")
    me = current_user._get_current_object() if current_user.is_authenticated else None
    signed_in = me is not None and me.id == account.id
    form = Form() if signed_in else VerifyEmailForm()
    if form.validate_on_submit():
        try:
            user = accounts.verify_email(
                token,
                None if signed_in else form.password.data,
                sign_in_throttle(),
                signed_in=me,
            )
        except InvalidToken:
            audit.record("email_verify", "failure", reason="invalid_token")
            return _link_expired("verify")
        except LoginThrottled as exc:
            audit.record("email_verify", "throttled", user_id=account.id)
            return too_many_requests(exc.retry_after)
        except WrongPassword:
            audit.record("email_verify", "failure", user_id=account.id, reason="wrong_password")
            form.password.errors.append(WRONG_ACCOUNT_PASSWORD)
        else:
            audit.record("email_verify", "success", user_id=user.id)
            if not signed_in:
                if me is not None:
                    sign_out(me)  # another account's session must not linger in this browser
                sign_in(user, remember=False)
            flash(EMAIL_CONFIRMED, "success")
            return redirect(url_for("account.index"), 303)
    return _form_page("auth/verify_email.html", form, account=account, signed_in=signed_in)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def login() -> Page:
    """Show the sign-in form; on good credentials sign in and go to a safe ``next``."""
    if request.method == "GET" and request.args.get("signed_out") == "1":
        flash(SIGNED_OUT, "info")
    form = LoginForm()
    if form.validate_on_submit():
        email = form.email.data
        throttle = sign_in_throttle()
        try:
            user = users.authenticate(
                email, form.password.data, throttle, require_verified=_verification_required()
            )
        except LoginThrottled as exc:
            audit.record("sign_in", "throttled", email=email)
            return too_many_requests(exc.retry_after)
        except EmailNotVerified:
            # Only said after the right password, so it reveals nothing to a guesser.
            audit.record("sign_in", "unverified", email=email)
            form.form_errors.append(NOT_VERIFIED)
            return _form_page("auth/login.html", form, unverified=True)
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
    # Not a flash: it would start a new session cookie right after sign-out deleted it.
    return redirect(url_for("auth.login", signed_out=1), 303)


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["MAIL_REQUEST_RATE_LIMIT"], methods=["POST"])
def forgot_password() -> Page:
    """Ask for a reset link; the answer never says whether an account has the address."""
    form = EmailRequestForm()
    if request.method == "GET" and current_user.is_authenticated:
        form.email.data = current_user.email  # a signed-in person asks for their own
    if form.validate_on_submit():
        # Checked for every address alike, so the outage page reveals nothing either.
        if not mailer.is_available():
            return mail_unavailable()
        email = form.email.data
        # A background job finds the account, if any: the reply and its timing are the same.
        notifications.send_password_reset(email)
        audit.record("password_reset_request", "accepted", email=email)
        return redirect(url_for("auth.forgot_password_sent"), 303)
    return _form_page("auth/forgot_password.html", form)


@bp.get("/password/forgot/sent")
def forgot_password_sent() -> str:
    """The one answer to every reset request."""
    return render_template(
        "auth/forgot_password_sent.html", minutes=_minutes("RESET_TOKEN_LIFETIME")
    )


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"])
def reset_password(token: str) -> Page:
    """The emailed link: keep its token in the session and move it out of the address bar.

    A POST here (the public contract's form fields, CSRF token included) sets the password
    with the link's token directly, for clients that post to the link itself.
    """
    if request.method == "POST":
        return _choose_new_password(token, ResetPasswordForm())
    if not accounts.reset_token_is_valid(token):
        audit.record("password_reset", "failure", reason="invalid_token")
        return _link_expired("reset")
    session[RESET_TOKEN_KEY] = token
    return redirect(url_for("auth.reset_password_form"), 303)


@bp.route("/password/reset", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"])
def reset_password_form() -> Page:
    """Choose a new password; every session of the account ends and nobody is signed in."""
    token = session.get(RESET_TOKEN_KEY)
    if not isinstance(token, str):
        if request.method == "POST":
            return _link_expired("reset")
        # No link opened in this browser (a bookmark, or Back after the change): offer one.
        form = EmailRequestForm(formdata=None)
        return render_template(
            "auth/forgot_password.html", form=form, action=url_for("auth.forgot_password")
        ), 200
    if request.method != "POST" and not accounts.reset_token_is_valid(token):
        session.pop(RESET_TOKEN_KEY, None)
        return _link_expired("reset")
    return _choose_new_password(token, ResetPasswordForm())


def _choose_new_password(token: str, form: ResetPasswordForm) -> Page:
    if form.validate_on_submit():
        # Looked up before the reset revokes the sessions, so this browser can be signed
        # out properly (remember-me cookie included) whoever it was signed in as.
        signed_in = current_user._get_current_object() if current_user.is_authenticated else None
        try:
            user = accounts.reset_password(token, form.password.data)
        except InvalidToken:
            session.pop(RESET_TOKEN_KEY, None)
            audit.record("password_reset", "failure", reason="invalid_token")
            return _link_expired("reset")
        except PasswordRejected as exc:
            audit.record("password_reset", "rejected", reason="password_policy")
            form.password.errors.append(exc.reason)
        else:
            if signed_in is not None:
                sign_out(signed_in)
            session.pop(RESET_TOKEN_KEY, None)
            notifications.send_password_changed(user)
            audit.record("password_reset", "success", user_id=user.id)
            flash(PASSWORD_RESET_DONE, "success")
            return redirect(url_for("auth.login"), 303)
    return _form_page("auth/reset_password.html", form)


def _form_page(template: str, form: FlaskForm, **context: object) -> tuple[str, int]:
    # A rejected submission is a client error; browsers still show the page normally.
    status = 422 if request.method == "POST" else 200
    return render_template(template, form=form, **context), status


def _link_expired(kind: str) -> tuple[str, int]:
    """The page for an unknown, used, superseded or expired emailed link."""
    return render_template("auth/link_expired.html", kind=kind), 400


def _minutes(key: str) -> int:
    return int(current_app.config[key].total_seconds() // 60)


def _hours(key: str) -> int:
    return _minutes(key) // 60
