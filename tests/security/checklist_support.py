"""Helpers for the security tests, which are named after the checklist items (c01 ... c50)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bs4 import BeautifulSoup
from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import select
from werkzeug.test import TestResponse

from webapp.extensions import db
from webapp.models import User, UserSession

# A fixed, timezone-aware instant for tests that move the clock.
T0 = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)
LOGIN_FAILED = "Incorrect email address or password."
SESSION_COOKIE = "__Host-session"
DEVICE_COOKIE = "__Host-device"


def stored_users(app: Flask) -> list[User]:
    """The users table, read afresh in an app context of its own."""
    with app.app_context():
        return list(db.session.scalars(select(User).order_by(User.id)))


def stored_sessions(app: Flask) -> list[UserSession]:
    """The user_sessions table, read afresh in an app context of its own."""
    with app.app_context():
        return list(db.session.scalars(select(UserSession).order_by(UserSession.id)))


def field_error(html: str, field: str) -> str:
    """The error shown beside a form field (linked to it with aria-describedby)."""
    soup = BeautifulSoup(html, "html.parser")
    control = soup.find(id=field)
    assert control is not None, f"no #{field} in the page"
    assert control.get("aria-invalid") == "true", f"#{field} is not marked invalid"
    error = soup.find(id=f"{field}-error")
    assert error is not None, f"no #{field}-error in the page"
    assert f"{field}-error" in control["aria-describedby"].split()
    return error.get_text(" ", strip=True)


def fields_in_error(html: str) -> set[str]:
    """The ids of the form controls a page marks invalid."""
    soup = BeautifulSoup(html, "html.parser")
    return {control["id"] for control in soup.find_all(attrs={"aria-invalid": "true"})}


def session_data(app: Flask, cookie_value: str) -> dict[str, Any]:
    """What Flask's signed session cookie holds (signature checked, age not)."""
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    assert serializer is not None
    return dict(serializer.loads(cookie_value))


def location_path(response: TestResponse) -> str:
    """The path of a redirect's Location, without its query string."""
    return response.headers["Location"].split("?", 1)[0]
