"""Settings: production refuses weak secrets and keeps full-strength hashing."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from webapp import create_app
from webapp.config import ConfigError, load_settings

STRONG_KEY = secrets.token_urlsafe(48)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "APP_ENV",
        "SECRET_KEY",
        "DATABASE_URL",
        "COOKIE_SECURE",
        "SITE_NAME",
        "PUBLIC_URL",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("key", "says"),
    [
        (None, "not set"),
        ("", "not set"),
        ("too-short", "at least 32 bytes"),
        ("changeme", "sample"),
        ("change-me-to-a-long-random-string-of-at-least-32-bytes", "sample"),
    ],
)
def test_c34_production_refuses_a_missing_short_or_sample_key(
    monkeypatch: pytest.MonkeyPatch, key: str | None, says: str
) -> None:
    if key is not None:
        monkeypatch.setenv("SECRET_KEY", key)
        monkeypatch.setenv("PUBLIC_URL", "https://signup.example")

    with pytest.raises(ConfigError, match=says):
        create_app()


def test_unknown_environment_is_refused() -> None:
    with pytest.raises(ConfigError, match="APP_ENV"):
        create_app({"APP_ENV": "staging"})


def test_c01_production_is_the_default_and_keeps_the_real_parameters(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SECRET_KEY", STRONG_KEY)
    monkeypatch.setenv("PUBLIC_URL", "https://signup.example")

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
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SECRET_KEY", STRONG_KEY)
    monkeypatch.setenv("PUBLIC_URL", "https://signup.example")
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
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SECRET_KEY", STRONG_KEY)
    monkeypatch.setenv("PUBLIC_URL", "https://signup.example")
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://app@db/app")

    assert load_settings(str(tmp_path))["SQLALCHEMY_DATABASE_URI"] == (
        "postgresql+psycopg://app@db/app"
    )


def test_sqlite_under_instance_is_the_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SECRET_KEY", STRONG_KEY)
    monkeypatch.setenv("PUBLIC_URL", "https://signup.example")

    url = load_settings(str(tmp_path))["SQLALCHEMY_DATABASE_URI"]

    assert url == f"sqlite:///{tmp_path}/webapp.sqlite3"


@pytest.mark.parametrize("value", ["0", "false", ""])
def test_c23_production_cookies_stay_secure_whatever_the_environment_says(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str
) -> None:
    monkeypatch.setenv("SECRET_KEY", STRONG_KEY)
    monkeypatch.setenv("PUBLIC_URL", "https://signup.example")
    monkeypatch.setenv("COOKIE_SECURE", value)

    settings = load_settings(str(tmp_path))

    assert settings["SESSION_COOKIE_SECURE"] is True
    assert settings["REMEMBER_COOKIE_SECURE"] is True
    assert settings["DEVICE_COOKIE_SECURE"] is True
    assert settings["DEVICE_COOKIE_NAME"] == "__Host-device"


@pytest.mark.parametrize("name", ["DATABASE_URL", "RATELIMIT_STORAGE_URI", "SITE_NAME", "APP_ENV"])
def test_an_empty_variable_means_the_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str
) -> None:
    monkeypatch.setenv("SECRET_KEY", STRONG_KEY)
    monkeypatch.setenv("PUBLIC_URL", "https://signup.example")
    monkeypatch.setenv(name, "")

    settings = load_settings(str(tmp_path))

    assert settings["APP_ENV"] == "production"
    assert settings["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert settings["RATELIMIT_STORAGE_URI"] == "memory://"
    assert settings["SITE_NAME"] == "Signup Demo"


@pytest.mark.parametrize("url", ["", "http://signup.example", "signup.example"])
def test_production_refuses_to_build_email_links_without_an_https_public_url(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, url: str
) -> None:
    monkeypatch.setenv("SECRET_KEY", STRONG_KEY)
    monkeypatch.setenv("PUBLIC_URL", url)

    with pytest.raises(ConfigError, match="PUBLIC_URL"):
        load_settings(str(tmp_path))
