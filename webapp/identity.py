"""Flask-Login glue: the token in the cookie to the signed-in user."""

from __future__ import annotations

from flask import current_app, request, session
from flask_login import login_user, logout_user
from flask_login.utils import decode_cookie

from webapp.devices import remember_device
from webapp.extensions import client_address
from webapp.models import User
from webapp.services import sessions


def session_limits() -> sessions.SessionLimits:
    """The current app's session timeouts."""
    config = current_app.config
    return sessions.SessionLimits(
        idle=config["SESSION_IDLE_TIMEOUT"],
        absolute=config["SESSION_ABSOLUTE_TIMEOUT"],
        remember=config["REMEMBER_COOKIE_DURATION"],
    )


def load_user(token: str) -> User | None:
    """Flask-Login's user loader: the user of a live session, or None."""
    row = sessions.load_session(token, session_limits())
    if row is None:
        return None
    row.user.session_token = token
    return row.user


def sign_in(user: User, *, remember: bool) -> None:
    """Start a fresh session: nothing from before sign-in survives (no fixation).

    The browser's previous session ends on the server, and its remember cookie goes,
    so a restart cannot bring back whoever was signed in here before.
    """
    previous = _tokens_in_browser()
    session.clear()
    user.session_token = sessions.open_session(
        user,
        remember=remember,
        user_agent=request.user_agent.string,
        ip=client_address(),
        replaces=previous,
    )
    _log_in(user, remember=remember)


def use_new_token(user: User, token: sessions.NewToken) -> None:
    """Carry this browser's session on under its new token, a new remember cookie included."""
    user.session_token = token.value
    _log_in(user, remember=token.remember)


def _tokens_in_browser() -> list[str]:
    """The session tokens this browser brought: in the Flask session and the remember cookie."""
    remembered = request.cookies.get(current_app.config["REMEMBER_COOKIE_NAME"])
    candidates = [session.get("_user_id"), decode_cookie(remembered) if remembered else None]
    return [token for token in candidates if isinstance(token, str) and token]


def _log_in(user: User, *, remember: bool) -> None:
    login_user(user, remember=remember)
    if not remember and current_app.config["REMEMBER_COOKIE_NAME"] in request.cookies:
        # Flask-Login leaves a remember cookie alone unless it sets a new one; this one
        # belongs to a session that has ended, so it goes too.
        session["_remember"] = "clear"
    remember_device(user)


def sign_out(user: User) -> None:
    """End the session on the server and in the browser, remember-me cookie included."""
    if user.session_token:
        sessions.revoke_session(user.session_token)
    session.clear()
    logout_user()  # after clear(): it leaves the flag that deletes the remember cookie
