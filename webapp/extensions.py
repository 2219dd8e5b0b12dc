"""Extensions created unbound; ``create_app`` binds them to an application."""

from __future__ import annotations

import ipaddress
import sqlite3
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, request
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_login import config as login_defaults
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from limits.storage import Storage
from sqlalchemy import Engine, event
from werkzeug.wrappers import Response

from webapp.jobs import Jobs
from webapp.mail import Mailer
from webapp.passwords import PasswordHasher, PasswordPolicy, load_blocklist


def counters() -> Storage:
    """This app's counter storage (per-account throttle, mail limits): memory or Redis.

    Its own, not Flask-Limiter's: that one instance serves every app in the process and
    takes the storage of whichever app was set up last.
    """
    return current_app.extensions["counters"]


def client_address() -> str:
    """The client address, already corrected by ProxyFix for trusted proxies only."""
    return request.remote_addr or "unknown"


def rate_limit_key() -> str:
    """The client as per-address limits count it: an IPv6 client by its /64 network.

    One subscriber (one host, even) is routinely given a whole /64, so counting each IPv6
    address apart would hand out a fresh budget per address. An IPv4-mapped IPv6 address
    is its IPv4 address. Sessions and the audit log keep the full address.
    """
    address = client_address()
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        network = ipaddress.IPv6Address(int(ip) >> 64 << 64)  # no zone: the host's own name
        return f"{network}/64"
    return str(ip)


@dataclass(frozen=True)
class PasswordTools:
    """The app's configured hasher and policy."""

    hasher: PasswordHasher
    policy: PasswordPolicy


class Passwords:
    """Binds the framework-free password module to an app's settings."""

    def init_app(self, app: Flask) -> None:
        """Build the hasher and policy from the app's config."""
        app.extensions["passwords"] = PasswordTools(
            hasher=PasswordHasher(
                time_cost=app.config["ARGON2_TIME_COST"],
                memory_cost=app.config["ARGON2_MEMORY_COST"],
                parallelism=app.config["ARGON2_PARALLELISM"],
            ),
            policy=PasswordPolicy(
                min_length=app.config["PASSWORD_MIN_LENGTH"],
                max_length=app.config["PASSWORD_MAX_LENGTH"],
                blocklist=load_blocklist(),
                site_name=app.config["SITE_NAME"],
            ),
        )

    @property
    def hasher(self) -> PasswordHasher:
        """The current app's hasher."""
        return current_app.extensions["passwords"].hasher

    @property
    def policy(self) -> PasswordPolicy:
        """The current app's password policy."""
        return current_app.extensions["passwords"].policy


class CookieLoginManager(LoginManager):
    """Flask-Login's manager, deleting the remember-me cookie the way it was set."""

    def _clear_cookie(self, response: Response) -> None:
        # Flask-Login 0.6.3 deletes the cookie without Secure, HttpOnly or SameSite, and
        # browsers ignore a Set-Cookie for a __Host- name that lacks Secure: the remember
        # cookie outlived sign-out and account deletion. A deletion must repeat the
        # attributes the cookie was set with. (Flask's own session cookie deletion does.)
        # The settings and defaults are those of LoginManager._set_cookie.
        config = current_app.config
        response.delete_cookie(
            config.get("REMEMBER_COOKIE_NAME", login_defaults.COOKIE_NAME),
            domain=config.get("REMEMBER_COOKIE_DOMAIN"),
            path=config.get("REMEMBER_COOKIE_PATH", "/"),
            secure=config.get("REMEMBER_COOKIE_SECURE", login_defaults.COOKIE_SECURE),
            httponly=config.get("REMEMBER_COOKIE_HTTPONLY", login_defaults.COOKIE_HTTPONLY),
            samesite=config.get("REMEMBER_COOKIE_SAMESITE", login_defaults.COOKIE_SAMESITE),
        )


@event.listens_for(Engine, "connect")
def _enforce_sqlite_foreign_keys(dbapi_connection: Any, connection_record: Any) -> None:
    # SQLite ignores foreign keys (and so ON DELETE CASCADE) unless each connection asks.
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.execute("PRAGMA foreign_keys=ON")


# A savepoint per service transaction lets the test suite wrap each test in an outer
# transaction; in production there is no outer transaction and it behaves as usual.
db = SQLAlchemy(session_options={"join_transaction_mode": "create_savepoint"})
migrate = Migrate()
login_manager = CookieLoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Please sign in to see that page."
login_manager.login_message_category = "info"
# A session restored from the remember-me cookie is not "fresh": sensitive pages first ask
# for the password again on this page.
login_manager.refresh_view = "account.confirm"
login_manager.needs_refresh_message = "Please enter your password again to continue."
login_manager.needs_refresh_message_category = "info"
csrf = CSRFProtect()
limiter = Limiter(key_func=rate_limit_key)
passwords = Passwords()
mailer = Mailer()
jobs = Jobs()
