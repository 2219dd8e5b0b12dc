"""The Alembic migrations, run on an empty SQLite file: they must build exactly the models."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import flask_migrate
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask, current_app
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import NullPool

from tests.support import STRONG_PASSWORD
from webapp import create_app
from webapp.extensions import db
from webapp.models import User
from webapp.services import users

REPO_ROOT = Path(__file__).resolve().parents[2]
MODEL_TABLES = {"alembic_version", "users", "user_sessions", "account_tokens"}
# SQLite cannot reflect expression-based indexes: SQLAlchemy and Alembic say so and skip it
# (test_functional_unique_index_is_migrated checks that index directly instead).
EXPECTED_WARNINGS = (
    "Skipped unsupported reflection of expression-based index uq_users_email_lower",
    "autogenerate skipping metadata-specified expression-based index 'uq_users_email_lower'",
)


@pytest.fixture
def empty_app(tmp_path: Path) -> Iterator[Flask]:
    """The testing app on an empty SQLite file (no create_all), inside an app context."""
    app = create_app(
        {"APP_ENV": "testing", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'm.db'}"}
    )
    with app.app_context():
        yield app
        db.engine.dispose()


def _sqlite_master(kind: str) -> dict[str, str | None]:
    """Name -> SQL of the tables or indexes in the app's database (SQLite's own excluded)."""
    with db.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT name, sql FROM sqlite_master WHERE type = :kind"), {"kind": kind}
        )
        return {name: sql for name, sql in rows if not name.startswith("sqlite_")}


def _head() -> str:
    """The head revision of the app's migrations directory."""
    directory = current_app.extensions["migrate"].directory
    (head,) = ScriptDirectory(directory).get_heads()
    return head


def _current_revision() -> str | None:
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@pytest.mark.usefixtures("empty_app")
def test_upgrade_builds_exactly_the_models() -> None:
    """Proves upgrade head leaves autogenerate nothing to add, drop or alter."""
    flask_migrate.upgrade()

    assert _current_revision() == _head()
    with db.engine.connect() as connection, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        differences = compare_metadata(MigrationContext.configure(connection), db.metadata)

    assert differences == []
    unexpected = [
        str(w.message) for w in caught if not str(w.message).startswith(EXPECTED_WARNINGS)
    ]
    assert unexpected == []


@pytest.mark.usefixtures("empty_app")
def test_functional_unique_index_is_migrated() -> None:
    """Proves the migration creates UNIQUE lower(email), and it refuses another letter case."""
    flask_migrate.upgrade()

    sql = _sqlite_master("index")["uq_users_email_lower"]
    assert sql is not None
    assert sql.startswith("CREATE UNIQUE INDEX uq_users_email_lower ON users")
    assert "lower(email)" in sql
    with db.engine.connect() as connection:
        index_list = connection.execute(text("PRAGMA index_list(users)")).mappings().all()
    assert {"name": "uq_users_email_lower", "unique": 1} in [
        {"name": i["name"], "unique": i["unique"]} for i in index_list
    ]

    users.register_user("ann@example.com", "Ann", STRONG_PASSWORD)
    db.session.add(User(email="Ann@Example.com", name="Impostor", password_hash="x"))
    with pytest.raises(IntegrityError, match="uq_users_email_lower"):
        db.session.commit()
    db.session.rollback()
    assert db.session.scalar(select(func.count(User.id))) == 1


@pytest.mark.usefixtures("empty_app")
def test_downgrade_to_base_and_upgrade_again() -> None:
    """Proves downgrade base removes everything but alembic_version, and upgrade works again."""
    flask_migrate.upgrade()

    flask_migrate.downgrade(revision="base")

    assert set(_sqlite_master("table")) == {"alembic_version"}
    assert _sqlite_master("index") == {}
    assert _current_revision() is None

    flask_migrate.upgrade()

    assert set(_sqlite_master("table")) == MODEL_TABLES
    assert set(_sqlite_master("index")) == {
        "uq_users_email_lower",
        "ix_user_sessions_user_id",
        "ix_account_tokens_user_id",
    }
    assert _current_revision() == _head()
    assert users.register_user("ann@example.com", "Ann", STRONG_PASSWORD).id is not None


def test_flask_db_upgrade_cli(tmp_path: Path) -> None:
    """Proves the real `flask --app wsgi db upgrade` command migrates a development database."""
    database = tmp_path / "x.db"
    flask = Path(sys.executable).parent / "flask"
    command = str(flask) if flask.exists() else shutil.which("flask")
    assert command, "the flask command is not installed"
    env = {
        **os.environ,
        "APP_ENV": "development",
        "DATABASE_URL": f"sqlite:///{database}",
        "SECRET_KEY": secrets.token_urlsafe(36),  # 48 characters
        "FLASK_SKIP_DOTENV": "1",
    }
    env.pop("FLASK_APP", None)

    result = subprocess.run(
        [command, "--app", "wsgi", "db", "upgrade"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    engine = create_engine(f"sqlite:///{database}", poolclass=NullPool)
    try:
        with engine.connect() as connection:
            tables = set(
                connection.scalars(text("SELECT name FROM sqlite_master WHERE type = 'table'"))
            )
            version = connection.scalar(text("SELECT version_num FROM alembic_version"))
    finally:
        engine.dispose()
    assert tables == MODEL_TABLES
    assert version == "0002"


@pytest.mark.usefixtures("empty_app")
def test_each_revision_keeps_the_case_insensitive_email_index() -> None:
    """Stepping down and up one revision at a time never loses uq_users_email_lower."""
    flask_migrate.upgrade()
    flask_migrate.downgrade(revision="0001")

    assert "uq_users_email_lower" in _sqlite_master("index")

    flask_migrate.upgrade()

    assert "uq_users_email_lower" in _sqlite_master("index")
    assert _current_revision() == _head()
