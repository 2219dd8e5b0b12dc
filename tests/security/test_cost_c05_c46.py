"""Hashing cannot be turned into a denial of service (item 5); sign-up is rate-limited (46)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest

from tests.support import STRONG_PASSWORD, HttpsClient, csrf_token_in, load_gunicorn_conf
from webapp.config import load_settings


def _gunicorn_settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> object:
    for name in ("WEB_CONCURRENCY", "GUNICORN_THREADS", "GUNICORN_BIND"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return load_gunicorn_conf()


@pytest.mark.parametrize("workers", [None, "4", "64"])
def test_c05_hashes_in_flight_fit_in_memory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, workers: str | None
) -> None:
    """Every worker thread hashing at once needs at most 19 MiB each, and their number is capped."""
    conf = _gunicorn_settings(monkeypatch, **({"WEB_CONCURRENCY": workers} if workers else {}))
    monkeypatch.setenv("SECRET_KEY", secrets.token_hex(32))
    monkeypatch.setenv("PUBLIC_URL", "https://signup.example")
    monkeypatch.setenv("MAIL_SERVER", "smtp.example")
    settings = load_settings(str(tmp_path))

    in_flight = conf.workers * conf.threads  # type: ignore[attr-defined]
    memory_mib = in_flight * settings["ARGON2_MEMORY_COST"] / 1024

    assert conf.workers <= 2 * (os.cpu_count() or 1) + 1  # type: ignore[attr-defined]
    assert settings["ARGON2_PARALLELISM"] == 1  # one core per hash, never all of them
    assert memory_mib <= 19 * (2 * (os.cpu_count() or 1) + 1)


def test_c05_a_worker_timeout_outlasts_any_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    """gunicorn kills a worker silent for 30 s; one Argon2id hash at m=19 MiB, t=2 is ~20 ms."""
    conf = _gunicorn_settings(monkeypatch)

    assert conf.timeout >= 30  # type: ignore[attr-defined]


def test_c46_sign_up_is_limited_per_client_address(client: HttpsClient) -> None:
    statuses = []
    for i in range(11):  # REGISTER_RATE_LIMIT: 10 per minute per address
        token = csrf_token_in(client.get("/register").text)
        statuses.append(
            client.post(
                "/register",
                data={
                    "csrf_token": token,
                    "email": f"user{i}@example.com",
                    "name": "Someone",
                    "password": STRONG_PASSWORD,
                    "confirm_password": STRONG_PASSWORD,
                },
            ).status_code
        )

    assert statuses[:10] == [303] * 10
    assert statuses[10] == 429
