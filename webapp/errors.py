"""Error pages: one per status, never a traceback."""

from __future__ import annotations

import time

from flask import current_app, g, render_template
from flask_limiter import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import BadRequest, HTTPException, InternalServerError, ServiceUnavailable

from webapp import audit
from webapp.extensions import db, limiter, login_manager

# Title and advice for each status with a page of its own.
PAGES: dict[int, tuple[str, str]] = {
    400: ("Bad request", "The request could not be understood. Go back and try again."),
    403: ("Forbidden", "You do not have permission to see this page."),
    404: ("Page not found", "Check the address, or start again from the home page."),
    405: ("Method not allowed", "This page cannot be used that way. Use the buttons on the site."),
    413: ("Too much data", "What you sent is larger than this site accepts. Send less."),
    415: ("Not a form", "This site accepts only what its forms send. Send the form from its page."),
    429: ("Too many attempts", "Please wait a moment before you try again."),
    500: ("Something went wrong", "An unexpected error happened on our side. Try again later."),
    503: ("Temporarily unavailable", "The service is briefly unavailable. Try again in a minute."),
}
CSRF_ADVICE = "The form expired, reload and try again."


class UnreadableForm(BadRequest):
    """A form body that is not valid UTF-8."""

    advice = "Some of what you sent could not be read as text. Check it and send it again."


class FileInForm(BadRequest):
    """A form that carries files: none of the forms here has a file field."""

    advice = "The forms on this site take no files. Send the form again without any."


class UnreadableReferer(BadRequest):
    """A Referer or Origin header that is no address (its port is not a number, say)."""

    advice = (
        "Your browser sent the address of the previous page in a form this site cannot read. "
        "Open the page again and send the form from there."
    )


def render_error(code: int, advice: str | None = None) -> tuple[str, int]:
    """The page for ``code`` with its status; a status without a page gets the 400 or 500 one."""
    title, default_advice = PAGES.get(code) or PAGES[400 if code < 500 else 500]
    page = render_template(
        "errors/error.html", code=code, title=title, advice=advice or default_advice
    )
    return page, code


def handle_http_error(error: HTTPException) -> tuple[str, int]:
    """Every HTTP error gets the page of its status."""
    # A client error keeps its status (416 for a Range past the end of a file, say): only
    # the server is to blame for a 5xx.
    code = error.code if error.code and 400 <= error.code < 600 else 500
    return render_error(code, getattr(error, "advice", None))


def _in_words(seconds: int) -> str:
    for unit, size in (("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = -(-seconds // size)  # round up: never promise too early
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def too_many_requests(retry_after: int) -> tuple[str, int, dict[str, str]]:
    """The 429 page, saying when to try again, with a matching Retry-After header."""
    page, code = render_error(429, f"Please wait {_in_words(retry_after)}, then try again.")
    return page, code, {"Retry-After": str(retry_after)}


MAIL_UNAVAILABLE = (
    "We can't send email right now, so nothing was sent or changed. "
    "Please try again in a few minutes."
)


def mail_unavailable() -> tuple[str, int]:
    """The 503 page for a request that needs the mail server while it is down."""
    return render_error(ServiceUnavailable.code, MAIL_UNAVAILABLE)


def handle_rate_limited(error: RateLimitExceeded) -> tuple[str, int, dict[str, str]]:
    """Flask-Limiter refused a request from this client address."""
    current = limiter.current_limit
    retry_after = max(1, int(current.reset_at - time.time())) if current else 60
    audit.record("rate_limit", "throttled", limit=str(error.limit.limit))
    return too_many_requests(retry_after)


def handle_csrf_error(error: CSRFError) -> tuple[str, int]:
    """A missing or stale CSRF token: say how to recover."""
    return render_error(400, CSRF_ADVICE)


def _forget_the_user() -> None:
    # Flask-Login loads current_user for every template; when the database is what
    # failed, that load would fail again inside the error page itself.
    db.session.rollback()
    if "_login_user" not in g:
        g._login_user = login_manager.anonymous_user()


def handle_service_unavailable(error: Exception) -> tuple[str, int]:
    """The database or the rate-limit storage did not answer: say so with a 503.

    Refusing is deliberate for the storage too: signing in without the throttle would
    let an outage open the door to password guessing (fail closed).
    """
    _forget_the_user()
    current_app.logger.error("dependency unavailable: %s", error.__class__.__name__)
    return render_error(ServiceUnavailable.code)


def handle_unexpected_error(error: InternalServerError) -> tuple[str, int]:
    """An unhandled exception (Flask has logged it): show the generic page."""
    _forget_the_user()
    return render_error(InternalServerError.code)
