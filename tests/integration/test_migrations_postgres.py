"""Migrations on PostgreSQL, the production database: up from empty, down to base, and the
migrated schema equals the models, the case-insensitive email index included."""

from __future__ import annotations

from collections.abc import Iterator

import flask_migrate
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from sqlalchemy import func, inspect, select
from sqlalchemy.exc import IntegrityError

from tests.databases import empty_postgres_schema
from tests.support import STRONG_PASSWORD
from webapp import create_app
from webapp.extensions import db
from webapp.models import User
from webapp.passwords import PasswordHasher
from webapp.services import users


@pytest.fixture
def pg_app(postgres_database: str) -> Iterator[Flask]:
    """The app on an empty PostgreSQL schema, with an app context pushed."""
    empty_postgres_schema(postgres_database)
    app = create_app({"APP_ENV": "testing", "SQLALCHEMY_DATABASE_URI": postgres_database})
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def _tables() -> set[str]:
    return set(inspect(db.engine).get_table_names())


@pytest.mark.usefixtures("pg_app")
def test_upgrade_from_empty_builds_exactly_the_models() -> None:
    flask_migrate.upgrade()

    with db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), db.metadata)
    assert differences == []
    assert _tables() == {"alembic_version", "users", "user_sessions", "account_tokens"}


@pytest.mark.usefixtures("pg_app")
def test_the_email_index_is_unique_on_lower_email() -> None:
    flask_migrate.upgrade()

    [index] = [
        i for i in inspect(db.engine).get_indexes("users") if i["name"] == "uq_users_email_lower"
    ]
    assert index["unique"] is True
    assert index["expressions"] == ["lower(email::text)"]


@pytest.mark.usefixtures("pg_app")
def test_c42_c45_the_database_refuses_the_same_address_in_another_case() -> None:
    flask_migrate.upgrade()
    users.register_user("ann@example.com", "Ann", STRONG_PASSWORD)

    db.session.add(User(email="ANN@Example.com", name="Impostor", password_hash="x"))
    with pytest.raises(IntegrityError, match="uq_users_email_lower"):
        db.session.commit()
    db.session.rollback()

    assert db.session.scalar(select(func.count(User.id))) == 1


@pytest.mark.usefixtures("pg_app")
def test_downgrade_to_base_then_upgrade_again() -> None:
    flask_migrate.upgrade()

    flask_migrate.downgrade(revision="base")
    assert _tables() == {"alembic_version"}

    flask_migrate.upgrade()
    assert _tables() == {"alembic_version", "users", "user_sessions", "account_tokens"}
    assert users.register_user("ann@example.com", "Ann", STRONG_PASSWORD).id is not None


@pytest.mark.usefixtures("pg_app")
def test_c03_a_large_argon2_hash_is_stored_whole_on_postgresql() -> None:
    """Item 3 on the production engine: no truncation of a large-parameter hash."""
    flask_migrate.upgrade()
    stored = PasswordHasher(time_cost=3, memory_cost=65536, parallelism=4).hash(STRONG_PASSWORD)
    user = users.register_user("ann@example.com", "Ann", STRONG_PASSWORD)
    user.password_hash = stored
    db.session.commit()
    db.session.expire_all()

    assert db.session.get(User, user.id).password_hash == stored
