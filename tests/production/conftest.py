"""Fixtures for the production-shape tests: gunicorn on PostgreSQL with Redis-backed limits.

Every server runs as deployed: production settings (``production_env``), https with the run's
certificate (``tls_certificate``), mail to the run's SMTP catcher (``mail_catcher``).
Nothing here is autouse: a test asks for what it needs. Without TEST_DATABASE_URL or
TEST_REDIS_URL the tests that need them skip (which fails the run in CI, see tests/ci_guard.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pytest

from tests.databases import empty_postgres_schema
from tests.production.servers import (
    Certificate,
    Gunicorn,
    StartServer,
    new_secret_key,
    production_env,
    upgrade_database,
)
from tests.smtp import Outbox


@pytest.fixture(scope="module")
def migrated_postgres(postgres_database: str, mail_catcher: Outbox) -> str:
    """This run's PostgreSQL database, emptied and migrated with `flask db upgrade`."""
    empty_postgres_schema(postgres_database)
    upgrade_database(production_env(database_url=postgres_database, mail_port=mail_catcher.port))
    return postgres_database


@pytest.fixture(scope="module")
def cluster_env(migrated_postgres: str, redis_url: str, mail_catcher: Outbox) -> dict[str, str]:
    """One environment for every server of a module: same database, Redis and SECRET_KEY.

    PUBLIC_URL is each server's own address unless a test gives it the first instance's.
    """
    return production_env(
        database_url=migrated_postgres,
        mail_port=mail_catcher.port,
        redis_url=redis_url,
        secret_key=new_secret_key(),
    )


@pytest.fixture(scope="module")
def start_server(
    tmp_path_factory: pytest.TempPathFactory, tls_certificate: Certificate
) -> Iterator[StartServer]:
    """``start_server(env, workers)``: a running https Gunicorn, stopped when the module ends."""
    started: list[Gunicorn] = []

    def start(env: Mapping[str, str], workers: int) -> Gunicorn:
        log = tmp_path_factory.mktemp("gunicorn") / "server.log"
        server = Gunicorn(env, workers, log_path=log, certificate=tls_certificate)
        started.append(server)
        return server.start()

    try:
        yield start
    finally:
        for server in reversed(started):
            server.stop()
