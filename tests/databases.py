"""Real databases for the tests: a SQLite file always, PostgreSQL when TEST_DATABASE_URL is set.

Each test run creates a PostgreSQL database of its own (from TEST_DATABASE_URL, which names
a server and a database the user may connect to) and drops it at the end; each test starts
from an empty schema in it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool


def postgres_server_url() -> str | None:
    """TEST_DATABASE_URL, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test, or None."""
    return os.environ.get("TEST_DATABASE_URL") or None


@contextmanager
def temporary_postgres_database(server_url: str) -> Iterator[str]:
    """A new, uniquely named database on the server; dropped (connections and all) afterwards."""
    name = f"webapp_test_{secrets.token_hex(6)}"
    admin = create_engine(server_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def empty_postgres_schema(url: str) -> None:
    """Drop everything in the public schema: the next test starts from nothing."""
    engine = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
