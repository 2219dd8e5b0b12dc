"""Production never runs several gunicorn workers on memory:// counters (each would count alone).

gunicorn.conf.py defaults to one worker on memory:// and refuses, at start-up, an explicit request
for more (WEB_CONCURRENCY or --workers) in production; development (`make run`) may have more.
The servers run as deployed: production settings over https, mail to the run's SMTP catcher.
"""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from tests.production.servers import (
    Certificate,
    Gunicorn,
    ServerFailed,
    production_env,
    upgrade_database,
)
from tests.smtp import Outbox
from tests.support import load_gunicorn_conf

CORES = multiprocessing.cpu_count()


def _production_env(tmp_path: Path, mail_port: int, **settings: str) -> dict[str, str]:
    """Everything production requires, on a migrated SQLite file and memory:// counters."""
    env = production_env(
        database_url=f"sqlite:///{tmp_path / 'workers.db'}", mail_port=mail_port, **settings
    )
    upgrade_database(env)
    return env


@pytest.mark.gunicorn
def test_production_refuses_two_workers_on_memory_storage(
    tmp_path: Path, tls_certificate: Certificate, mail_catcher: Outbox
) -> None:
    server = Gunicorn(
        _production_env(tmp_path, mail_catcher.port),
        workers=2,
        log_path=tmp_path / "server.log",
        certificate=tls_certificate,
    )

    try:
        with pytest.raises(ServerFailed, match="gunicorn exited with 1"):
            server.start()
    finally:
        server.stop()  # had it started after all

    log = server.log()
    assert "2 gunicorn workers on RATELIMIT_STORAGE_URI=memory://" in log
    assert "Set RATELIMIT_STORAGE_URI to a Redis server" in log
    assert "or run one worker (WEB_CONCURRENCY=1, or --workers 1)" in log
    assert "Booting worker" not in log


@pytest.mark.gunicorn
@pytest.mark.parametrize(
    ("workers", "settings"),
    [(1, {}), (2, {"RATELIMIT_ENABLED": "0"})],
    ids=["one-worker", "throttling-off"],
)
def test_production_serves_one_worker_or_unthrottled_on_memory_storage(
    tmp_path: Path,
    workers: int,
    settings: dict[str, str],
    tls_certificate: Certificate,
    mail_catcher: Outbox,
) -> None:
    env = _production_env(tmp_path, mail_catcher.port, **settings)

    with Gunicorn(
        env, workers=workers, log_path=tmp_path / "server.log", certificate=tls_certificate
    ) as server:
        assert server.browser().get("/healthz").status == 200


@pytest.mark.parametrize(
    ("env", "workers"),
    [
        ({}, 1),
        ({"RATELIMIT_STORAGE_URI": ""}, 1),
        ({"RATELIMIT_STORAGE_URI": "redis://redis.internal:6379/0"}, CORES),
        ({"WEB_CONCURRENCY": "2"}, min(2, 2 * CORES + 1)),
        (
            {"WEB_CONCURRENCY": "2", "RATELIMIT_STORAGE_URI": "redis://r:6379"},
            min(2, 2 * CORES + 1),
        ),
    ],
    ids=["memory-default", "memory-empty", "redis", "memory-asked-2", "redis-asked-2"],
)
def test_gunicorn_defaults_to_one_worker_on_memory_storage(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], workers: int
) -> None:
    for name in ("WEB_CONCURRENCY", "RATELIMIT_STORAGE_URI"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    assert load_gunicorn_conf().workers == workers
