"""The device cookie in the browser: read it for the throttle, give a fresh one at sign-in.

What it means (a browser where the account's owner signed in, with a failure count of its
own) is decided in webapp.services.throttle; this module only carries it.
"""

from __future__ import annotations

from flask import after_this_request, current_app, request
from werkzeug.wrappers import Response

from webapp.models import User
from webapp.services.throttle import ThrottlePolicy, issue_device_cookie
from webapp.services.users import account_key


def sign_in_throttle() -> ThrottlePolicy | None:
    """The app's sign-in throttle for this request, with the device cookie the browser sent."""
    config = current_app.config
    return ThrottlePolicy.from_config(config, request.cookies.get(config["DEVICE_COOKIE_NAME"]))


def remember_device(user: User) -> None:
    """Give this browser a new device cookie for ``user`` with the response to this request.

    Called wherever someone proves the password here (sign-in, sign-up, a password change),
    so it carries the current password's binding and a lifetime counted from now.
    """
    config = current_app.config
    cookie = issue_device_cookie(account_key(user.email), user.password_hash)

    @after_this_request
    def set_device_cookie(response: Response) -> Response:
        response.set_cookie(
            config["DEVICE_COOKIE_NAME"],
            cookie,
            max_age=int(config["DEVICE_COOKIE_LIFETIME"].total_seconds()),
            path="/",
            secure=config["DEVICE_COOKIE_SECURE"],
            httponly=True,
            samesite="Lax",
        )
        return response
