"""Integration fixtures: the real app on a throwaway database (a SQLite *file*, and PostgreSQL
when TEST_DATABASE_URL is set), and a reader that looks at it through a brand-new connection,
so a missing ``commit()`` cannot hide in the
session's identity map or in an open transaction.

pytest-flask's ``_push_request_context`` is a no-op here (tests/conftest.py), so every test
pushes the app context it needs with ``db_context``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from flask import Flask
from sqlalchemy import Executable, create_engine, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from tests.support import make_app
from webapp.extensions import db

# A fixed, timezone-aware instant for tests that move the clock.
T0 = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)

FreshRead = Callable[[Executable], list[Any]]
FreshRows = Callable[..., list[Mapping[str, Any]]]


@pytest.fixture
def db_url(database_url: str) -> str:
    """A real database of this test's own (a SQLite file, and PostgreSQL when configured):
    separate connections really are separate."""
    return database_url


@pytest.fixture
def db_app(db_url: str) -> Iterator[Flask]:
    """The testing app on a real SQLite file with the models' tables created."""
    app = make_app(SQLALCHEMY_DATABASE_URI=db_url)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def db_context(db_app: Flask) -> Iterator[Flask]:
    """An app context for the whole test, as the services need one (db.session, passwords)."""
    with db_app.app_context():
        yield db_app


@pytest.fixture
def fresh_read(db_url: str) -> Iterator[FreshRead]:
    """``fresh_read(select(...))``: the scalars of a statement, read through a NEW connection.

    A new engine with NullPool opens a new DBAPI connection for every read, so only what
    was committed to the file is visible. The returned ORM objects are detached: their
    columns are loaded, relationships are not.
    """
    engine = create_engine(db_url, poolclass=NullPool)

    def read(statement: Executable) -> list[Any]:
        with Session(engine) as session:
            return list(session.scalars(statement))

    yield read
    engine.dispose()


@pytest.fixture
def fresh_rows(db_url: str) -> Iterator[FreshRows]:
    """``fresh_rows("SELECT ...", **params)``: raw rows as dicts, through a NEW connection."""
    engine = create_engine(db_url, poolclass=NullPool)

    def rows(sql: str, **params: Any) -> list[Mapping[str, Any]]:
        with engine.connect() as connection:
            return [dict(row) for row in connection.execute(text(sql), params).mappings()]

    yield rows
    engine.dispose()


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    """The clock stopped at T0; ``clock.shift(timedelta(...))`` moves it."""
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller
