"""Settings: production refuses weak secrets and unsafe setups, and keeps full-strength hashing."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path

import pytest

from webapp import create_app
from webapp.config import ConfigError, check_secret_key, check_workers, load_settings

STRONG_KEY = secrets.token_urlsafe(48)
KEY_COMMAND = "python -c 'import secrets; print(secrets.token_hex(32))'"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "APP_ENV",
        "SECRET_KEY",
        "DATABASE_URL",
        "COOKIE_SECURE",
        "SITE_NAME",
        "PUBLIC_URL",
        "MAIL_SERVER",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def production_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """What production needs from the environment: a strong key, an https base, a mail server."""
    monkeypatch.setenv("SECRET_KEY", STRONG_KEY)
    monkeypatch.setenv("PUBLIC_URL", "https://signup.example")
    monkeypatch.setenv("MAIL_SERVER", "smtp.example")


@pytest.mark.parametrize(
    ("key", "says"),
    [
        (None, "not set"),
        ("", "not set"),
        ("too-short", "at least 32 bytes"),
        ("changeme", "sample"),
        ("change-me-to-a-long-random-string-of-at-least-32-bytes", "sample"),
        ("a" * 32, "too predictable"),
        ("0" * 32, "too predictable"),
        ("password" * 4, "too predictable"),
        ("0123456789abcdef" * 4, "too predictable"),
        ("Tr0ub4dor&3" * 3, "too predictable"),
        ("ab" * 40, "too predictable"),
    ],
)
def test_c34_production_refuses_a_missing_short_sample_or_weak_key(
    monkeypatch: pytest.MonkeyPatch, production_env: None, key: str | None, says: str
) -> None:
    monkeypatch.delenv("SECRET_KEY")
    if key is not None:
        monkeypatch.setenv("SECRET_KEY", key)

    with pytest.raises(ConfigError, match=says) as refused:
        create_app()

    assert KEY_COMMAND in str(refused.value)


@pytest.mark.parametrize(
    "generate",
    [
        lambda: secrets.token_hex(32),
        lambda: secrets.token_urlsafe(32),
        lambda: secrets.token_urlsafe(48),
    ],
    ids=["token_hex(32)", "token_urlsafe(32)", "token_urlsafe(48)"],
)
def test_c34_generated_keys_always_pass(generate: Callable[[], str]) -> None:
    for _ in range(2000):
        check_secret_key(generate())


def test_c49_production_refuses_to_start_without_a_mail_server(
    monkeypatch: pytest.MonkeyPatch, production_env: None
) -> None:
    monkeypatch.delenv("MAIL_SERVER")

    with pytest.raises(ConfigError) as refused:
        create_app()

    message = str(refused.value)
    assert message.startswith("MAIL_SERVER is not set")
    assert "Set MAIL_SERVER to your SMTP server" in message


@pytest.mark.parametrize("name", ["development", "testing"])
def test_other_environments_start_without_a_mail_server(tmp_path: Path, name: str) -> None:
    settings = load_settings(str(tmp_path), {"APP_ENV": name})

    assert settings["MAIL_SERVER"] == ""


@pytest.mark.parametrize("workers", [2, 9])
def test_production_refuses_several_workers_on_memory_storage(workers: int) -> None:
    with pytest.raises(ConfigError) as refused:
        check_workers(workers, "memory://", "production")

    message = str(refused.value)
    assert f"{workers} gunicorn workers on RATELIMIT_STORAGE_URI=memory://" in message
    assert "Set RATELIMIT_STORAGE_URI to a Redis server" in message
    assert "or run one worker" in message


@pytest.mark.parametrize(
    ("workers", "storage", "app_env"),
    [
        (1, "memory://", "production"),
        (4, "redis://redis.internal:6379/0", "production"),
        (4, "rediss://redis.internal:6380/0", "production"),
        (4, "memory://", "development"),
        (4, "memory://", "testing"),
    ],
)
def test_one_worker_shared_counters_or_no_production_may_start(
    workers: int, storage: str, app_env: str
) -> None:
    check_workers(workers, storage, app_env)  # raises nothing


def test_without_throttling_several_workers_count_nothing() -> None:
    check_workers(4, "memory://", "production", throttled=False)  # raises nothing


def test_unknown_environment_is_refused() -> None:
    with pytest.raises(ConfigError, match="APP_ENV"):
        create_app({"APP_ENV": "staging"})


def test_c01_production_is_the_default_and_keeps_the_real_parameters(
    production_env: None,
) -> None:
    app = create_app()

    assert app.config["APP_ENV"] == "production"
    assert app.debug is False
    assert app.testing is False
    assert app.config["SECRET_KEY"] == STRONG_KEY
    assert app.config["WTF_CSRF_ENABLED"] is not False
    with app.app_context():
        assert app.extensions["passwords"].hasher.parameters == (2, 19456, 1)
    assert app.config["SESSION_COOKIE_NAME"] == "__Host-session"
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_NAME"] == "__Host-remember"
    assert app.config["REMEMBER_COOKIE_DURATION"].days <= 30


def test_testing_differs_from_production_only_where_allowed(
    production_env: None, tmp_path: Path
) -> None:
    production = load_settings(str(tmp_path))
    testing = load_settings(str(tmp_path), {"APP_ENV": "testing"})

    differing = {k for k in production if production[k] != testing.get(k)}

    assert differing == {
        "APP_ENV",
        "SECRET_KEY",
        "SQLALCHEMY_DATABASE_URI",
        "ARGON2_TIME_COST",
        "ARGON2_MEMORY_COST",
        "PUBLIC_URL",
    }
    assert testing["TESTING"] is True


def test_development_keeps_a_generated_secret_under_instance(tmp_path: Path) -> None:
    first = load_settings(str(tmp_path), {"APP_ENV": "development"})
    second = load_settings(str(tmp_path), {"APP_ENV": "development"})

    assert len(first["SECRET_KEY"]) >= 32
    assert first["SECRET_KEY"] == second["SECRET_KEY"]
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    assert first["SESSION_COOKIE_SECURE"] is False  # plain http on 127.0.0.1
    assert first["SESSION_COOKIE_NAME"] == "session"
    assert first["DEVICE_COOKIE_SECURE"] is False
    assert first["DEVICE_COOKIE_NAME"] == "device"  # __Host- would need Secure


def test_database_url_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, production_env: None, tmp_path: Path
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://app@db/app")

    assert load_settings(str(tmp_path))["SQLALCHEMY_DATABASE_URI"] == (
        "postgresql+psycopg://app@db/app"
    )


def test_sqlite_under_instance_is_the_default(production_env: None, tmp_path: Path) -> None:
    url = load_settings(str(tmp_path))["SQLALCHEMY_DATABASE_URI"]

    assert url == f"sqlite:///{tmp_path}/webapp.sqlite3"


@pytest.mark.parametrize("value", ["0", "false", ""])
def test_c23_production_cookies_stay_secure_whatever_the_environment_says(
    monkeypatch: pytest.MonkeyPatch, production_env: None, tmp_path: Path, value: str
) -> None:
    monkeypatch.setenv("COOKIE_SECURE", value)

    settings = load_settings(str(tmp_path))

    assert settings["SESSION_COOKIE_SECURE"] is True
    assert settings["REMEMBER_COOKIE_SECURE"] is True
    assert settings["DEVICE_COOKIE_SECURE"] is True
    assert settings["DEVICE_COOKIE_NAME"] == "__Host-device"


@pytest.mark.parametrize("name", ["DATABASE_URL", "RATELIMIT_STORAGE_URI", "SITE_NAME", "APP_ENV"])
def test_an_empty_variable_means_the_default(
    monkeypatch: pytest.MonkeyPatch, production_env: None, tmp_path: Path, name: str
) -> None:
    monkeypatch.setenv(name, "")

    settings = load_settings(str(tmp_path))

    assert settings["APP_ENV"] == "production"
    assert settings["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert settings["RATELIMIT_STORAGE_URI"] == "memory://"
    assert settings["SITE_NAME"] == "Signup Demo"


@pytest.mark.parametrize(
    "url", ["", "http://signup.example", "signup.example", "https://", "https:///x"]
)
def test_production_refuses_to_build_email_links_without_an_https_public_url(
    monkeypatch: pytest.MonkeyPatch, production_env: None, tmp_path: Path, url: str
) -> None:
    monkeypatch.setenv("PUBLIC_URL", url)

    with pytest.raises(ConfigError, match="PUBLIC_URL"):
        load_settings(str(tmp_path))
