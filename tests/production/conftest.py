"""Fixtures for the production-shape tests: gunicorn on PostgreSQL with Redis-backed limits.

Nothing here is autouse: a test asks for what it needs. Without TEST_DATABASE_URL or
TEST_REDIS_URL the tests that need them skip (which fails the run in CI, see tests/ci_guard.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping

import pytest
import redis

from tests.databases import empty_postgres_schema
from tests.production.servers import (
    Gunicorn,
    StartServer,
    new_secret_key,
    server_env,
    upgrade_database,
)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """TEST_REDIS_URL (CI: redis://127.0.0.1:6379/15), a Redis database these tests may flush."""
    url = os.environ.get("TEST_REDIS_URL", "").strip()
    if not url:
        pytest.skip(
            "TEST_REDIS_URL is not set: the multi-process tests need a Redis database they "
            "may flush, e.g. TEST_REDIS_URL=redis://127.0.0.1:6379/15"
        )
    return url


@pytest.fixture
def fresh_redis(redis_url: str) -> str:
    """The test Redis database, emptied (only that database: FLUSHDB, never FLUSHALL)."""
    client = redis.Redis.from_url(redis_url)
    try:
        client.flushdb()
    finally:
        client.close()
    return redis_url


@pytest.fixture(scope="module")
def migrated_postgres(postgres_database: str) -> str:
    """This run's PostgreSQL database, emptied and migrated with `flask db upgrade`."""
    empty_postgres_schema(postgres_database)
    upgrade_database(
        server_env(
            database_url=postgres_database, redis_url="memory://", secret_key=new_secret_key()
        )
    )
    return postgres_database


@pytest.fixture(scope="module")
def cluster_env(migrated_postgres: str, redis_url: str) -> dict[str, str]:
    """One environment for every server of a module: same database, Redis and SECRET_KEY."""
    return server_env(
        database_url=migrated_postgres, redis_url=redis_url, secret_key=new_secret_key()
    )


@pytest.fixture(scope="module")
def start_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartServer]:
    """``start_server(env, workers)``: a running Gunicorn, stopped when the module ends."""
    started: list[Gunicorn] = []

    def start(env: Mapping[str, str], workers: int) -> Gunicorn:
        log = tmp_path_factory.mktemp("gunicorn") / "server.log"
        server = Gunicorn(env, workers, log_path=log)
        started.append(server)
        return server.start()

    try:
        yield start
    finally:
        for server in reversed(started):
            server.stop()
