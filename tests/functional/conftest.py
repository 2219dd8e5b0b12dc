"""Functional fixtures: a reader for what the database holds, outside any request."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import User, UserSession


@pytest.fixture
def stored_users(app: Flask) -> Callable[[], list[User]]:
    """Read the users table afresh, in an app context of its own."""

    def read() -> list[User]:
        with app.app_context():
            return list(db.session.scalars(select(User)))

    return read


@pytest.fixture
def stored_sessions(app: Flask) -> Callable[[], list[UserSession]]:
    """Read the user_sessions table afresh, in an app context of its own."""

    def read() -> list[UserSession]:
        with app.app_context():
            return list(db.session.scalars(select(UserSession).order_by(UserSession.id)))

    return read
