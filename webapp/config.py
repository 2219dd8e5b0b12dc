"""Settings read from environment variables, one class per environment."""

from __future__ import annotations

import math
import os
import secrets
import tempfile
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# Keys that have appeared in documentation or samples: never acceptable in production.
SAMPLE_SECRET_KEYS = frozenset(
    {
        "dev",
        "changeme",
        "secret",
        "change-me-to-a-long-random-string-of-at-least-32-bytes",
    }
)
MIN_SECRET_KEY_BYTES = 32
# What a key must be worth by the estimate in check_secret_key: as much as 16 random bytes.
MIN_SECRET_KEY_BITS = 128
# The one way every message and document says to make a key (64 hex digits, 256 random bits).
KEY_COMMAND = "python -c 'import secrets; print(secrets.token_hex(32))'"


class ConfigError(RuntimeError):
    """The configuration cannot run safely."""


def _env(name: str, default: str) -> str:
    """A variable's value; empty counts as unset, so ``X=`` never means "nothing"."""
    return os.environ.get(name, "").strip() or default


def _env_bool(name: str, default: bool) -> bool:
    return _env(name, str(default)).lower() in {"1", "true", "yes", "on"}


def _env_int(name: str, default: int) -> int:
    return int(_env(name, str(default)))


def _cookie_settings(secure: bool) -> dict[str, Any]:
    """Cookie flags; the ``__Host-`` prefix demands Secure, so it is used only then."""
    prefix = "__Host-" if secure else ""
    return {
        "SESSION_COOKIE_NAME": f"{prefix}session",
        "SESSION_COOKIE_SECURE": secure,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_NAME": f"{prefix}remember",
        "REMEMBER_COOKIE_SECURE": secure,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "DEVICE_COOKIE_NAME": f"{prefix}device",
        "DEVICE_COOKIE_SECURE": secure,
    }


def base_settings(instance_path: str) -> dict[str, Any]:
    """Settings shared by every environment, with environment overrides applied."""
    default_db = "sqlite:///" + str(Path(instance_path) / "webapp.sqlite3")
    settings: dict[str, Any] = {
        # Never from FLASK_DEBUG: the debugger runs code for whoever reaches it.
        "DEBUG": False,
        "SECRET_KEY": os.environ.get("SECRET_KEY", "").strip() or None,
        "SQLALCHEMY_DATABASE_URI": _env("DATABASE_URL", default_db),
        # How long a page waits for the database (or the rate-limit storage) before it
        # answers 503 instead of hanging; engine options follow from the URL (load_settings).
        "DATABASE_TIMEOUT": _env_int("DATABASE_TIMEOUT", 5),
        "RATELIMIT_STORAGE_TIMEOUT": _env_int("RATELIMIT_STORAGE_TIMEOUT", 2),
        "SITE_NAME": _env("SITE_NAME", "Signup Demo"),
        # Small bodies only: every form here fits easily, and a flood is refused unread.
        "MAX_CONTENT_LENGTH": 64 * 1024,
        "MAX_FORM_MEMORY_SIZE": 64 * 1024,
        "PASSWORD_MIN_LENGTH": _env_int("PASSWORD_MIN_LENGTH", 15),
        "PASSWORD_MAX_LENGTH": 1024,
        # OWASP's Argon2id minimum (m=19 MiB, t=2, p=1): about 20 ms a hash on one core.
        "ARGON2_TIME_COST": _env_int("ARGON2_TIME_COST", 2),
        "ARGON2_MEMORY_COST": _env_int("ARGON2_MEMORY_COST", 19456),
        "ARGON2_PARALLELISM": _env_int("ARGON2_PARALLELISM", 1),
        # NIST SP 800-63B-4 AAL1 allows up to 30 days; OWASP suggests 15-30 min idle.
        "SESSION_IDLE_TIMEOUT": timedelta(minutes=_env_int("SESSION_IDLE_MINUTES", 30)),
        "SESSION_ABSOLUTE_TIMEOUT": timedelta(hours=_env_int("SESSION_ABSOLUTE_HOURS", 12)),
        "REMEMBER_COOKIE_DURATION": timedelta(days=_env_int("REMEMBER_DAYS", 30)),
        # Flask rejects a session cookie signed longer ago than this, permanent or not, and
        # re-signs it only when the session changes; the server-side row enforces the idle
        # timeout, so the cookie may live as long as a session can.
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=_env_int("SESSION_ABSOLUTE_HOURS", 12)),
        # Named here, or Flask-Limiter's shared instance carries one app's value to the next.
        # Off only for benchmarks (make bench): it disables every throttle.
        "RATELIMIT_ENABLED": _env_bool("RATELIMIT_ENABLED", True),
        "RATELIMIT_STORAGE_URI": _env("RATELIMIT_STORAGE_URI", "memory://"),
        # Our 429 pages set Retry-After themselves; Flask-Limiter's headers would overwrite the
        # per-account wait with the per-address window and advertise limits to attackers.
        "RATELIMIT_HEADERS_ENABLED": False,
        "LOGIN_RATE_LIMIT": _env("LOGIN_RATE_LIMIT", "20 per minute"),
        "REGISTER_RATE_LIMIT": _env("REGISTER_RATE_LIMIT", "10 per minute"),
        "TRUSTED_PROXIES": _env_int("TRUSTED_PROXIES", 0),
        # Per-account sign-in throttle (NIST SP 800-63B-4 3.2.2): a few free failures, then
        # waits that double up to an hour, and never more than 100 consecutive failures.
        "LOGIN_FREE_FAILURES": 5,
        "LOGIN_FIRST_WAIT": timedelta(seconds=30),
        "LOGIN_MAX_WAIT": timedelta(hours=1),
        "LOGIN_MAX_FAILURES": 100,
        # Forgotten only after a success (or a password reset): NIST's ceiling is per account,
        # not per window; a year bounds what the storage keeps for addresses never used.
        "LOGIN_FAILURE_MEMORY": timedelta(days=365),
        # A browser where the owner signed in keeps its own failure count (OWASP's device
        # cookies), so guesses from elsewhere cannot lock the owner out there; the cookie
        # lasts this long, and a new password ends it sooner.
        "DEVICE_COOKIE_LIFETIME": timedelta(days=_env_int("DEVICE_COOKIE_DAYS", 180)),
        # Links in emails are built from this, never from the request's Host header.
        "PUBLIC_URL": _env("PUBLIC_URL", ""),
        "MAIL_SERVER": _env("MAIL_SERVER", ""),
        "MAIL_PORT": _env_int("MAIL_PORT", 587),
        "MAIL_USE_TLS": _env_bool("MAIL_USE_TLS", True),
        "MAIL_USE_SSL": _env_bool("MAIL_USE_SSL", False),
        "MAIL_USERNAME": _env("MAIL_USERNAME", ""),
        "MAIL_PASSWORD": _env("MAIL_PASSWORD", ""),
        "MAIL_DEFAULT_SENDER": _env("MAIL_DEFAULT_SENDER", "no-reply@localhost"),
        "MAIL_TIMEOUT": _env_int("MAIL_TIMEOUT", 10),
        "REQUIRE_EMAIL_VERIFICATION": _env_bool("REQUIRE_EMAIL_VERIFICATION", False),
        # The Forgot Password cheat sheet asks for short-lived links; NIST allows 24 h at most.
        "RESET_TOKEN_LIFETIME": timedelta(hours=1),
        "VERIFY_TOKEN_LIFETIME": timedelta(hours=24),
        # Reset and verification mails per address (silently not sent beyond) and per client.
        "MAIL_PER_ADDRESS_LIMIT": _env("MAIL_PER_ADDRESS_LIMIT", "5 per hour"),
        "MAIL_REQUEST_RATE_LIMIT": _env("MAIL_REQUEST_RATE_LIMIT", "10 per hour"),
        # Plain http is answered with a redirect to https, and browsers are told to stay there.
        "FORCE_HTTPS": True,
        "HSTS_SECONDS": 365 * 24 * 3600,
    }
    settings.update(_cookie_settings(secure=True))
    return settings


def development_settings(instance_path: str) -> dict[str, Any]:
    """Local use over plain http on SQLite, with a secret kept under instance/."""
    settings = base_settings(instance_path)
    # Only here may cookies go without Secure, and https not be insisted on:
    # http://127.0.0.1 has no TLS.
    settings.update(_cookie_settings(secure=_env_bool("COOKIE_SECURE", False)))
    settings.update(FORCE_HTTPS=False, HSTS_SECONDS=0)
    settings["PUBLIC_URL"] = settings["PUBLIC_URL"] or "http://127.0.0.1:8000"
    settings["SECRET_KEY"] = settings["SECRET_KEY"] or _local_secret(Path(instance_path))
    return settings


def testing_settings(instance_path: str) -> dict[str, Any]:
    """Production behaviour, an in-memory database and a cheap Argon2 cost, nothing else."""
    settings = base_settings(instance_path)
    settings.update(
        TESTING=True,
        PUBLIC_URL="https://localhost",
        SECRET_KEY="testing-" + secrets.token_hex(32),
        SQLALCHEMY_DATABASE_URI="sqlite:///:memory:",
        RATELIMIT_STORAGE_URI="memory://",
        ARGON2_TIME_COST=1,
        ARGON2_MEMORY_COST=8,
        ARGON2_PARALLELISM=1,
    )
    return settings


def production_settings(instance_path: str) -> dict[str, Any]:
    """Production: the environment must supply a strong SECRET_KEY (checked in load_settings)."""
    return base_settings(instance_path)


ENVIRONMENTS = {
    "development": development_settings,
    "testing": testing_settings,
    "production": production_settings,
}


def load_settings(instance_path: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Settings for ``APP_ENV`` (from overrides, else the environment, else production)."""
    overrides = dict(overrides or {})
    name = overrides.get("APP_ENV") or _env("APP_ENV", "production")
    try:
        factory = ENVIRONMENTS[name]
    except KeyError:
        choices = ", ".join(ENVIRONMENTS)
        raise ConfigError(f"APP_ENV={name!r} is not one of: {choices}.") from None
    settings = factory(instance_path)
    settings.update(overrides)
    settings["APP_ENV"] = name
    settings.setdefault(
        "SQLALCHEMY_ENGINE_OPTIONS",
        engine_options(settings["SQLALCHEMY_DATABASE_URI"], settings["DATABASE_TIMEOUT"]),
    )
    settings.setdefault(
        "RATELIMIT_STORAGE_OPTIONS",
        storage_options(settings["RATELIMIT_STORAGE_URI"], settings["RATELIMIT_STORAGE_TIMEOUT"]),
    )
    if name == "production":
        check_secret_key(settings["SECRET_KEY"])
        check_public_url(settings["PUBLIC_URL"])
        check_mail_server(settings["MAIL_SERVER"])
    return settings


def engine_options(url: str, timeout: int) -> dict[str, Any]:
    """SQLAlchemy engine options that bound every wait on the database by ``timeout`` seconds."""
    options: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("postgresql"):
        options["pool_timeout"] = timeout  # waiting for a free pooled connection
        options["connect_args"] = {
            "connect_timeout": timeout,
            # A query the server works on too long, and a server that stops answering
            # mid-conversation (unacknowledged data, silent keepalives), both end in an error.
            "options": f"-c statement_timeout={timeout * 1000}",
            "tcp_user_timeout": timeout * 1000,
            "keepalives": 1,
            "keepalives_idle": timeout,
            "keepalives_interval": 1,
            "keepalives_count": 3,
        }
    elif url.startswith("sqlite"):
        options["connect_args"] = {"timeout": timeout}  # how long to wait for a write lock
    return options


def is_redis(uri: str) -> bool:
    """Whether a rate-limit storage URI names a Redis server."""
    return uri.startswith(("redis://", "rediss://"))


def storage_options(uri: str, timeout: float) -> dict[str, Any]:
    """Redis client options for the rate-limit storage: a bounded wait and no retry loop."""
    if not is_redis(uri):
        return {}
    # Imported here: a process that never talks to Redis need not carry its client.
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "retry": Retry(NoBackoff(), 0),
    }


def check_secret_key(key: str | None) -> None:
    """Refuse a missing, short, published or predictable SECRET_KEY."""
    how = f"Generate one with `{KEY_COMMAND}` and set SECRET_KEY to it in the environment."
    if not key:
        raise ConfigError(f"SECRET_KEY is not set. {how}")
    if key.strip().lower() in SAMPLE_SECRET_KEYS:
        raise ConfigError(f"SECRET_KEY is a published sample value. {how}")
    if len(key.encode()) < MIN_SECRET_KEY_BYTES:
        raise ConfigError(f"SECRET_KEY must be at least {MIN_SECRET_KEY_BYTES} bytes long. {how}")
    bits = secret_key_bits(key)
    if bits < MIN_SECRET_KEY_BITS:
        raise ConfigError(
            "SECRET_KEY is too predictable: it repeats itself or uses too few different "
            f"characters (worth about {bits:.0f} bits; at least {MIN_SECRET_KEY_BITS} needed). "
            + how
        )


def secret_key_bits(key: str) -> float:
    """A generous estimate of a key's strength: its shortest repeating unit, as if random.

    Each character of the unit counts log2(distinct characters) bits, which is what a random
    string over that alphabet would hold; "a" * 32 is worth 0 and "password" * 4 about 22.
    """
    period = next(p for p in range(1, len(key) + 1) if key[p:] == key[:-p])
    return period * math.log2(len(set(key)))


def check_mail_server(server: str) -> None:
    """Refuse to run without an SMTP server: without one, emailed links would go to the log."""
    if not server:
        raise ConfigError(
            "MAIL_SERVER is not set: production sends password-reset and verification links "
            "by email and never writes them to the log. Set MAIL_SERVER to your SMTP server "
            "(with MAIL_PORT, MAIL_USERNAME and MAIL_PASSWORD as it needs); on your own "
            "machine, APP_ENV=development writes the messages to the log instead."
        )


def shares_counters(storage_uri: str) -> bool:
    """Whether every process using this rate-limit storage sees the same counters."""
    return not storage_uri.startswith("memory://")


def check_workers(workers: int, storage_uri: str, app_env: str, *, throttled: bool = True) -> None:
    """Refuse several production workers on memory://, where each would count on its own.

    Not when throttling is off (RATELIMIT_ENABLED=0, benchmarks only): no limit to multiply.
    """
    if app_env == "production" and throttled and workers > 1 and not shares_counters(storage_uri):
        raise ConfigError(
            f"{workers} gunicorn workers on RATELIMIT_STORAGE_URI={storage_uri} would each keep "
            f"their own rate-limit counters, so every limit would be {workers} times higher. "
            "Set RATELIMIT_STORAGE_URI to a Redis server shared by all workers (e.g. "
            "RATELIMIT_STORAGE_URI=redis://HOST:6379/0), or run one worker (WEB_CONCURRENCY=1, "
            "or --workers 1)."
        )


def throttling_enabled() -> bool:
    """RATELIMIT_ENABLED from the environment, as the app reads it (for gunicorn.conf.py)."""
    return _env_bool("RATELIMIT_ENABLED", True)


def check_public_url(url: str) -> None:
    """Refuse to run without an https base for the links in emails."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise ConfigError(
            "PUBLIC_URL must be set to the site's https address (e.g. https://example.com): "
            "links in emails are built from it, never from the request's Host header."
        )


def _local_secret(instance: Path) -> str:
    """A development key generated once and kept in instance/, so sessions survive restarts."""
    path = instance / "secret_key"
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        # Written whole under a private name (mode 0o600 from the start), then linked into
        # place: of several workers starting at once, one key wins and none reads half a file.
        fd, draft = tempfile.mkstemp(dir=instance, prefix=".secret_key.")
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_urlsafe(48))
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(draft)
    return path.read_text().strip()
