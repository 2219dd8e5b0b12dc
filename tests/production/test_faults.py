"""Outages of the database and of the rate-limit storage, and how the app lives through them.

The shared PostgreSQL and Redis servers are never stopped: the app talks to them through a
TcpProxy that each test starts, and an outage is ``proxy.pause()`` (open connections cut,
new ones accepted and never answered), the recovery ``proxy.resume()``.

* The database down: every page that needs it answers the 503 page (``/healthz`` its JSON)
  within a bound derived from DATABASE_TIMEOUT, with nothing of the exception in the body;
  when it comes back the same app, without a restart, serves again and sessions survive.
* Redis (the rate-limit storage) down: the documented decision of SECURITY.md holds, fail
  closed. Sign-in and sign-up answer 503 without checking or hashing any password, the
  error is logged, pages that need no counter keep working.

The time bounds prove "does not hang"; they are no speed target.
"""

from __future__ import annotations

import logging
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest.mock import MagicMock

import pytest
import redis
from flask import Flask
from pytest_mock import MockerFixture
from sqlalchemy import make_url
from werkzeug.test import TestResponse

from tests.databases import empty_postgres_schema
from tests.smtp import free_port
from tests.support import HttpsClient, csrf_token_in, make_app, new_client
from tests.tcp_proxy import TcpProxy, tcp_proxy
from webapp.extensions import db, limiter
from webapp.passwords import PasswordHasher

DATABASE_TIMEOUT = 2
# Short, so that the outage tests spend little time waiting; the client takes fractions.
STORAGE_TIMEOUT = 0.25
# The Redis database the tests may write to: TEST_REDIS_URL's (CI), else the local one's 15.
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
UNAVAILABLE = "Temporarily unavailable"
# Words that would mean an exception, or the driver behind it, reached the visitor.
LEAKS = ("traceback", "psycopg", "sqlalchemy", "sqlite", "redis", "operationalerror")
RECOVERY_TRIES = 5


def within(timeout: float) -> float:
    """The longest any one answer may take while a dependency with this timeout is down."""
    return 3 * timeout + 5


def answered_within(bound: float, request: Callable[[], TestResponse]) -> TestResponse:
    """The response, which must come within ``bound`` seconds: past it the test fails.

    The request runs in a thread of its own so that a hang fails this test; the stuck thread
    ends when the test's proxy stops and closes the connection it waits on.
    """
    outcome: list[TestResponse | BaseException] = []

    def run() -> None:
        try:
            outcome.append(request())
        except BaseException as exc:  # re-raised below, in the test's thread
            outcome.append(exc)

    start = time.monotonic()
    worker = threading.Thread(target=run, name="request-under-outage", daemon=True)
    worker.start()
    worker.join(bound)
    elapsed = time.monotonic() - start
    if not outcome:
        pytest.fail(f"no answer within {bound:.0f} s: the request hangs")
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    assert elapsed < bound
    return outcome[0]


def assert_unavailable_page(response: TestResponse) -> None:
    """The 503 page, and nothing of the exception behind it."""
    assert response.status_code == 503, response.text[:500]
    assert UNAVAILABLE in response.text
    body = response.text.lower()
    assert [word for word in LEAKS if word in body] == []


def assert_health_unavailable(response: TestResponse) -> None:
    assert response.status_code == 503
    assert response.json == {"status": "database unavailable"}
    assert [word for word in LEAKS if word in response.text.lower()] == []


def eventually_healthy(client: HttpsClient) -> None:
    """Ask /healthz until it answers 200, a few tries at most."""
    for _ in range(RECOVERY_TRIES):
        if client.get("/healthz").status_code == 200:
            return
        time.sleep(0.2)
    pytest.fail(f"/healthz still not 200 after {RECOVERY_TRIES} tries")


def build_app(config: dict[str, Any]) -> Flask:
    """A testing app with these overrides, its tables created, errors answered not raised."""
    return make_app(PROPAGATE_EXCEPTIONS=False, **config)


def dispose(app: Flask) -> None:
    """Close the app's pooled database connections."""
    with app.app_context():
        for engine in db.engines.values():
            engine.dispose()


def client_at(app: Flask, address: str = "127.0.0.1") -> HttpsClient:
    """Another browser on ``app``, connecting from ``address``."""
    client = new_client(app)
    client.environ_base["REMOTE_ADDR"] = address
    return client


def anonymous_post(client: HttpsClient, path: str, data: dict[str, str]) -> TestResponse:
    """GET the form (it needs no database and no counter), then POST it with its CSRF token."""
    form = client.get(path)
    assert form.status_code == 200
    return client.post(path, data={"csrf_token": csrf_token_in(form.text), **data})


SIGN_IN = {"email": "ann@example.com", "password": "correct horse battery staple"}
NEW_ACCOUNT = {
    "email": "bob@example.com",
    "name": "Bob",
    "password": "another long enough passphrase",
    "confirm_password": "another long enough passphrase",
}


# --- PostgreSQL ---------------------------------------------------------------------------


@pytest.fixture
def pg_proxy(postgres_database: str) -> Iterator[TcpProxy]:
    """A proxy in front of this run's PostgreSQL server, its schema emptied first."""
    empty_postgres_schema(postgres_database)
    url = make_url(postgres_database)
    with tcp_proxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        yield proxy


@pytest.fixture
def pg_app(postgres_database: str, pg_proxy: TcpProxy) -> Iterator[Flask]:
    """The app on PostgreSQL through the proxy."""
    proxied = make_url(postgres_database).set(port=pg_proxy.port)
    app = build_app(
        {
            "SQLALCHEMY_DATABASE_URI": proxied.render_as_string(hide_password=False),
            "DATABASE_TIMEOUT": DATABASE_TIMEOUT,
        }
    )
    yield app
    dispose(app)


def test_database_outage_answers_503_in_bounded_time_and_recovers_without_restart(
    pg_app: Flask, pg_proxy: TcpProxy
) -> None:
    bound = within(DATABASE_TIMEOUT)
    ann = client_at(pg_app)
    assert ann.register().status_code == 303
    assert ann.get("/account").status_code == 200
    visitor = client_at(pg_app)

    pg_proxy.pause()

    # Signed in, so even the account page needs the database: the session is looked up there.
    account = answered_within(bound, lambda: ann.get("/account"))
    health = answered_within(bound, lambda: ann.get("/healthz"))
    login = answered_within(bound, lambda: anonymous_post(visitor, "/login", SIGN_IN))
    register = answered_within(bound, lambda: anonymous_post(visitor, "/register", NEW_ACCOUNT))

    assert_unavailable_page(account)
    assert_health_unavailable(health)
    assert_unavailable_page(login)
    assert_unavailable_page(register)

    pg_proxy.resume()

    eventually_healthy(ann)
    assert ann.get("/account").status_code == 200  # the same session, kept through the outage
    bob = client_at(pg_app)
    assert bob.register(NEW_ACCOUNT["email"], "Bob", NEW_ACCOUNT["password"]).status_code == 303
    assert bob.get("/account").status_code == 200


def test_database_refusing_connections_answers_503_promptly() -> None:
    """Nothing listens on the port: a refusal needs no timeout, so no page waits for one."""
    timeout = 5
    refused = make_url("postgresql+psycopg://postgres@127.0.0.1/test").set(port=free_port())
    app = make_app(
        tables=False,  # nothing to create them in
        PROPAGATE_EXCEPTIONS=False,
        SQLALCHEMY_DATABASE_URI=refused.render_as_string(hide_password=False),
        DATABASE_TIMEOUT=timeout,
    )
    visitor = client_at(app)
    try:
        home = visitor.get("/")
        health = answered_within(timeout, lambda: visitor.get("/healthz"))
        login = answered_within(timeout, lambda: anonymous_post(visitor, "/login", SIGN_IN))
        register = answered_within(
            timeout, lambda: anonymous_post(visitor, "/register", NEW_ACCOUNT)
        )
    finally:
        dispose(app)

    assert home.status_code == 200  # needs no database
    assert_health_unavailable(health)
    assert_unavailable_page(login)
    assert_unavailable_page(register)


# --- Redis, the rate-limit storage ----------------------------------------------------------


@pytest.fixture
def redis_server() -> Iterator[redis.Redis]:
    """A client of the test Redis database (skipped, a failure in CI, if it does not answer)."""
    url = os.environ.get("TEST_REDIS_URL", "").strip() or DEFAULT_REDIS_URL
    server = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    try:
        server.ping()
    except redis.RedisError as exc:
        server.close()
        pytest.skip(f"no Redis answers at {url}: {exc.__class__.__name__}")
    yield server
    server.close()


@pytest.fixture
def redis_proxy(redis_server: redis.Redis) -> Iterator[TcpProxy]:
    """A proxy in front of the test Redis server."""
    kwargs = redis_server.connection_pool.connection_kwargs
    with tcp_proxy(kwargs.get("host", "127.0.0.1"), kwargs.get("port", 6379)) as proxy:
        yield proxy


@pytest.fixture
def client_address(redis_server: redis.Redis) -> Iterator[str]:
    """A client address of this test alone, so its per-address counters are its own.

    They are deleted afterwards (they would expire within the minute anyway).
    """
    address = "10." + ".".join(str(secrets.randbelow(254) + 1) for _ in range(3))
    yield address
    keys = list(redis_server.scan_iter(match=f"*/{address}/*"))
    if keys:
        redis_server.delete(*keys)


@pytest.fixture
def redis_app(redis_server: redis.Redis, redis_proxy: TcpProxy, tmp_path: Path) -> Iterator[Flask]:
    """The app counting in Redis through the proxy; its database (SQLite) stays up."""
    database = redis_server.connection_pool.connection_kwargs.get("db", 0)
    app = build_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'app.db'}",
            "RATELIMIT_STORAGE_URI": f"redis://127.0.0.1:{redis_proxy.port}/{database}",
            "RATELIMIT_STORAGE_TIMEOUT": STORAGE_TIMEOUT,
        }
    )
    yield app
    dispose(app)


@pytest.fixture
def hasher_spies(mocker: MockerFixture) -> tuple[MagicMock, MagicMock]:
    """Spies on every password verification and hash, whichever app makes them."""
    return mocker.spy(PasswordHasher, "verify"), mocker.spy(PasswordHasher, "hash")


def dependency_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.levelno == logging.ERROR and "dependency unavailable" in record.getMessage()
    ]


def refused_while_redis_is_down(
    redis_proxy: TcpProxy, caplog: pytest.LogCaptureFixture, request: Callable[[], TestResponse]
) -> None:
    """While Redis is down ``request`` gets the 503 page in time and an error is logged."""
    redis_proxy.pause()
    caplog.set_level(logging.ERROR)
    refused = answered_within(within(STORAGE_TIMEOUT), request)

    assert_unavailable_page(refused)
    assert dependency_errors(caplog), caplog.text
    redis_proxy.resume()


def test_c18_sign_in_fails_closed_while_redis_is_down(
    redis_app: Flask,
    redis_proxy: TcpProxy,
    client_address: str,
    hasher_spies: tuple[MagicMock, MagicMock],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """No counter, no password check: an outage must not open the door to guessing."""
    verify, hash_ = hasher_spies
    ann = client_at(redis_app, client_address)
    assert ann.register().status_code == 303
    ann.logout()
    assert ann.login().status_code == 303  # counted in Redis, while it is up
    ann.logout()
    verify.reset_mock()
    hash_.reset_mock()

    refused_while_redis_is_down(redis_proxy, caplog, lambda: anonymous_post(ann, "/login", SIGN_IN))

    verify.assert_not_called()
    hash_.assert_not_called()

    assert ann.login().status_code == 303
    assert ann.get("/account").status_code == 200


def test_c18_sign_up_fails_closed_while_redis_is_down(
    redis_app: Flask,
    redis_proxy: TcpProxy,
    client_address: str,
    hasher_spies: tuple[MagicMock, MagicMock],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Sign-up is counted too: refused before the password is checked or hashed."""
    verify, hash_ = hasher_spies
    visitor = client_at(redis_app, client_address)

    refused_while_redis_is_down(
        redis_proxy, caplog, lambda: anonymous_post(visitor, "/register", NEW_ACCOUNT)
    )

    hash_.assert_not_called()
    verify.assert_not_called()

    signed_up = visitor.register(NEW_ACCOUNT["email"], "Bob", NEW_ACCOUNT["password"])
    assert signed_up.status_code == 303
    assert visitor.get("/account").status_code == 200


def test_pages_that_need_no_counter_keep_working_while_redis_is_down(
    redis_app: Flask, redis_proxy: TcpProxy, client_address: str
) -> None:
    bound = within(STORAGE_TIMEOUT)
    ann = client_at(redis_app, client_address)
    assert ann.register().status_code == 303
    visitor = client_at(redis_app, client_address)

    redis_proxy.pause()
    answers = {
        "home": answered_within(bound, lambda: visitor.get("/")),
        "login form": answered_within(bound, lambda: visitor.get("/login")),
        "sign-up form": answered_within(bound, lambda: visitor.get("/register")),
        "account": answered_within(bound, lambda: ann.get("/account")),
        "healthz": answered_within(bound, lambda: ann.get("/healthz")),
    }
    # Redis was down all along: what needs a counter was refused meanwhile.
    refused = answered_within(bound, lambda: anonymous_post(visitor, "/login", SIGN_IN))

    assert {page: r.status_code for page, r in answers.items() if r.status_code != 200} == {}
    assert refused.status_code == 503


def test_the_rate_limit_storage_client_gets_the_configured_timeout_and_no_retries(
    redis_app: Flask,
) -> None:
    """The bounds above are generous, and redis-py's own default timeout (5 s) fits them too:
    this pins that RATELIMIT_STORAGE_TIMEOUT reaches both clients really used: Flask-Limiter's
    (per address) and the app's own counters (per account, mail limits)."""
    # limits' RedisStorage wraps a redis.Redis
    for client in (limiter.storage.storage, redis_app.extensions["counters"].storage):
        options = client.connection_pool.connection_kwargs

        assert options["socket_timeout"] == options["socket_connect_timeout"] == STORAGE_TIMEOUT
        assert client.get_retry().get_retries() == 0


# --- SQLite ---------------------------------------------------------------------------------


def test_a_locked_sqlite_database_answers_503_within_the_timeout_then_recovers(
    tmp_path: Path,
) -> None:
    """Another connection holds the write lock: a sign-up waits DATABASE_TIMEOUT, then 503."""
    timeout = 1
    path = tmp_path / "app.db"
    app = build_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "DATABASE_TIMEOUT": timeout})
    visitor = client_at(app)
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        refused = answered_within(within(timeout), lambda: visitor.register())
        holder.execute("ROLLBACK")
    finally:
        holder.close()

    try:
        assert_unavailable_page(refused)
        assert visitor.register().status_code == 303  # the lock released, the same app works
        assert visitor.get("/account").status_code == 200
    finally:
        dispose(app)
