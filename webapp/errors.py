"""Error pages: one per status, never a traceback."""

from __future__ import annotations

from flask import current_app, g, render_template
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import BadRequest, HTTPException, InternalServerError, ServiceUnavailable

from webapp.extensions import db, login_manager

# Title and advice for each status with a page of its own.
PAGES: dict[int, tuple[str, str]] = {
    400: ("Bad request", "The request could not be understood. Go back and try again."),
    403: ("Forbidden", "You do not have permission to see this page."),
    404: ("Page not found", "Check the address, or start again from the home page."),
    405: ("Method not allowed", "This page cannot be used that way. Use the buttons on the site."),
    413: ("Too much data", "What you sent is larger than this site accepts. Send less."),
    429: ("Too many attempts", "Please wait a moment before you try again."),
    500: ("Something went wrong", "An unexpected error happened on our side. Try again later."),
    503: ("Temporarily unavailable", "The service is briefly unavailable. Try again in a minute."),
}
CSRF_ADVICE = "The form expired, reload and try again."


class UnreadableForm(BadRequest):
    """A form body that is not valid UTF-8."""

    advice = "Some of what you sent could not be read as text. Check it and send it again."


def render_error(code: int, advice: str | None = None) -> tuple[str, int]:
    """The page for ``code`` with its status."""
    title, default_advice = PAGES.get(code, PAGES[500])
    page = render_template(
        "errors/error.html", code=code, title=title, advice=advice or default_advice
    )
    return page, code


def handle_http_error(error: HTTPException) -> tuple[str, int]:
    """Every HTTP error gets the page of its status."""
    code = error.code or 500
    return render_error(code if code in PAGES else 500, getattr(error, "advice", None))


def handle_csrf_error(error: CSRFError) -> tuple[str, int]:
    """A missing or stale CSRF token: say how to recover."""
    return render_error(400, CSRF_ADVICE)


def _forget_the_user() -> None:
    # Flask-Login loads current_user for every template; when the database is what
    # failed, that load would fail again inside the error page itself.
    db.session.rollback()
    if "_login_user" not in g:
        g._login_user = login_manager.anonymous_user()


def handle_database_unavailable(error: OperationalError) -> tuple[str, int]:
    """The database did not answer: drop the failed transaction and say so with a 503."""
    _forget_the_user()
    current_app.logger.error("database unavailable: %s", error.__class__.__name__)
    return render_error(ServiceUnavailable.code)


def handle_unexpected_error(error: InternalServerError) -> tuple[str, int]:
    """An unhandled exception (Flask has logged it): show the generic page."""
    _forget_the_user()
    return render_error(InternalServerError.code)
