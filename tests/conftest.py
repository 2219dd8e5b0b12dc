"""Fixtures shared by every layer: the app, its test client and a patched db.session."""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from unittest.mock import NonCallableMagicMock

import pytest
import redis
from flask import Flask
from jinja2 import BytecodeCache
from jinja2.bccache import Bucket
from pytest_mock import MockerFixture
from sqlalchemy.orm import scoped_session

from tests.databases import empty_postgres_schema, postgres_server_url, temporary_postgres_database
from tests.production.servers import Certificate, make_certificate
from tests.smtp import Outbox, smtp_server
from tests.support import HttpsClient, make_app, new_client
from webapp.extensions import db, jobs, mailer

pytest_plugins = ["tests.ci_guard"]

E2E = Path(__file__).parent / "e2e"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests that need Chromium, PostgreSQL or Redis, so ``-m`` can leave them out."""
    for item in items:
        if E2E in item.path.parents:
            item.add_marker("browser")
        params = getattr(item, "callspec", None)
        on_postgres = params is not None and params.params.get("database_url") == "postgresql"
        if on_postgres or "postgres_database" in getattr(item, "fixturenames", ()):
            item.add_marker("postgresql")
        on_redis = params is not None and "redis" in params.params.values()
        if on_redis or "redis_url" in getattr(item, "fixturenames", ()):
            item.add_marker("redis")


def pytest_collection_finish() -> None:
    """Move what collection built out of the garbage collector's sight for the rest of the run.

    Each test builds an app full of reference cycles, so the collector runs often, and every
    full pass walked the few hundred thousand objects that pytest, the libraries and the test
    modules hold for the whole run: about a seventh of the time a worker spent on tests.
    """
    gc.collect()
    gc.freeze()


class SharedTemplateCode(BytecodeCache):
    """Compiled templates kept in memory and shared by every app a test run creates.

    Each test builds a new app, and each app's Jinja environment would compile every template
    it renders again: without this, that compiling is a third of the functional tests' time.
    Jinja compares the stored code's source checksum on load, so an edited template recompiles.
    """

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        if code := self._code.get(bucket.key):
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


@pytest.fixture(autouse=True, scope="session")
def _share_compiled_templates() -> Iterator[None]:
    """Every Flask app made in this run, however made, reuses the templates compiled so far."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            Flask, "jinja_options", {**Flask.jinja_options, "bytecode_cache": SharedTemplateCode()}
        )
        yield


@pytest.fixture
def app() -> Flask:
    """A testing app on a fresh in-memory database (pytest-flask's client uses it)."""
    return make_app()


@pytest.fixture(autouse=True)
def _push_request_context() -> None:
    """Replace pytest-flask's fixture that keeps one request context open for a whole test.

    With it, every request in a test shares one app context and one db.session, so a view
    that forgot to commit could pass. Without it each request tears down like in production.
    """


@pytest.fixture
def client(app: Flask) -> HttpsClient:
    """pytest-flask's client, minus its ``with`` block.

    Inside ``with client`` Flask keeps each request's context alive until the next request,
    which leaks one client's session into a second client's requests in the same test.
    """
    return new_client(app)


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """This run's own PostgreSQL database; skipped (a failure in CI) without TEST_DATABASE_URL."""
    server = postgres_server_url()
    if server is None:
        pytest.skip("TEST_DATABASE_URL is not set: the PostgreSQL tests need a server")
    with temporary_postgres_database(server) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of this test's own: a SQLite file, or PostgreSQL when configured."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'app.db'}"
    url: str = request.getfixturevalue("postgres_database")
    empty_postgres_schema(url)
    return url


@pytest.fixture(autouse=True)
def _forget_mail_server_checks() -> None:
    """The mailer caches "is the SMTP server up?" across apps; each test starts afresh."""
    mailer.forget_availability()


@pytest.fixture
def app_context(app: Flask) -> Iterator[None]:
    """An app context for code that reads the app's config or extensions."""
    with app.app_context():
        yield


@pytest.fixture
def session_mock(mocker: MockerFixture, app_context: None) -> NonCallableMagicMock:
    """db.session replaced by an autospec of scoped_session: typos fail, nothing real runs."""
    mock = mocker.create_autospec(scoped_session, instance=True)
    mocker.patch.object(db, "session", new=mock)
    return mock


@pytest.fixture
def app_client_factory(app: Flask) -> Callable[[], HttpsClient]:
    """Make more clients of the same app: other browsers, with cookie jars of their own."""

    return partial(new_client, app)


@pytest.fixture
def outbox() -> Iterator[Outbox]:
    """A real SMTP server on localhost; the ``mail_app`` fixture sends to it."""
    with smtp_server() as (box, _port):
        yield box


def pytest_sessionstart(session: pytest.Session) -> None:
    """Empty the test Redis database once, before any xdist worker starts.

    The one place it is emptied: a test that emptied it would pull the counters from under a
    test the other worker is running. Tests keep apart by what they count instead (a SECRET_KEY
    per server cluster, an address per test, a counter name per test).
    """
    url = os.environ.get("TEST_REDIS_URL", "").strip()
    if url and not hasattr(session.config, "workerinput"):
        client = redis.Redis.from_url(url)
        try:
            client.flushdb()  # only this database, never FLUSHALL
        finally:
            client.close()


@pytest.fixture(scope="session")
def redis_url() -> str:
    """TEST_REDIS_URL (CI: redis://127.0.0.1:6379/15), a Redis database only these tests use."""
    url = os.environ.get("TEST_REDIS_URL", "").strip()
    if not url:
        pytest.skip(
            "TEST_REDIS_URL is not set: the multi-process tests need a Redis database they "
            "may flush, e.g. TEST_REDIS_URL=redis://127.0.0.1:6379/15"
        )
    return url


@pytest.fixture(scope="session")
def mail_catcher() -> Iterator[Outbox]:
    """An SMTP server on localhost for the whole run: production gunicorns send their mail here."""
    with smtp_server() as (box, _port):
        yield box


@pytest.fixture(scope="session")
def tls_certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A throwaway CA and its certificate for localhost, for the production and smoke servers."""
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def mail_app(outbox: Outbox, tmp_path: Path) -> Iterator[Flask]:
    """A testing app whose mail goes over SMTP to ``outbox``; background jobs are awaited.

    On a database file, not in memory: mail jobs run in another thread, and an in-memory
    database is one connection that the two threads would share.
    """
    yield make_app(
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'mail.db'}",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=outbox.port,
        MAIL_USE_TLS=False,
    )
    jobs.wait()
