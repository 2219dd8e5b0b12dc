"""No default or seeded privileged accounts (checklist item c21)."""

from __future__ import annotations

from pathlib import Path

import flask_migrate
from sqlalchemy import func, select

from webapp import create_app
from webapp.extensions import db, passwords
from webapp.models import User, UserSession

DEFAULT_NAMES = ("admin", "root", "test", "sa", "administrator")
DEFAULT_PASSWORDS = ("admin", "password", "changeme")


def test_c21_a_freshly_migrated_database_has_no_accounts(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'fresh.db'}"
    app = create_app({"APP_ENV": "testing", "SQLALCHEMY_DATABASE_URI": database})
    with app.app_context():
        try:
            flask_migrate.upgrade()

            accounts = list(db.session.scalars(select(User)))
            session_count = db.session.scalar(select(func.count(UserSession.id)))
            named = [
                user.email
                for user in accounts
                if user.email.partition("@")[0].lower() in DEFAULT_NAMES
                or user.name.lower() in DEFAULT_NAMES
            ]
            guessable = [
                user.email
                for user in accounts
                for guess in DEFAULT_PASSWORDS
                if passwords.hasher.verify(user.password_hash, guess)
            ]
        finally:
            db.session.remove()
            db.engine.dispose()

    assert accounts == []
    assert session_count == 0
    assert named == []
    assert guessable == []
