"""Test helpers: an HTTPS test client that fills in CSRF tokens the way a browser would."""

from __future__ import annotations

import importlib.util
import re
import sqlite3
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import cache
from http.cookies import Morsel, SimpleCookie
from pathlib import Path
from types import ModuleType
from typing import Any

import sqlalchemy
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.pool import StaticPool
from werkzeug.test import TestResponse

from webapp import create_app
from webapp.extensions import db

ROOT = Path(__file__).resolve().parents[1]
BASE_URL = "https://localhost"
CSRF_INPUT = re.compile(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"')
STRONG_PASSWORD = "correct horse battery staple"


def make_app(*, tables: bool = True, **overrides: Any) -> Flask:
    """A testing app (in-memory database unless overridden) with the HTTPS test client.

    With ``tables``, the schema is created from the models first.
    """
    app = create_app({"APP_ENV": "testing", **overrides})
    app.test_client_class = HttpsClient
    if tables:
        with app.app_context():
            create_tables()
    return app


def create_tables() -> None:
    """The models' tables in the current app's database, as ``db.create_all()`` makes them.

    A SQLite database gets a copy of a schema made once per process: the copy is one write,
    where a CREATE for each table and index took a third of building a testing app.
    """
    if db.engine.dialect.name != "sqlite":
        db.create_all()
        return
    with db.engine.connect() as connection:
        _sqlite_schema().backup(connection.connection.driver_connection)


@cache
def _sqlite_schema() -> sqlite3.Connection:
    """An in-memory SQLite database holding what ``db.create_all()`` creates, and no rows."""
    schema = sqlite3.connect(":memory:", check_same_thread=False)
    engine = sqlalchemy.create_engine("sqlite://", creator=lambda: schema, poolclass=StaticPool)
    db.metadata.create_all(engine)
    return schema


def new_client(app: Flask) -> HttpsClient:
    """Another browser on ``app``, with a cookie jar of its own."""
    client = app.test_client()
    assert isinstance(client, HttpsClient)
    return client


def copy_cookies(source: FlaskClient, target: FlaskClient, *names: str) -> None:
    """Give ``target`` the named cookies of ``source``, as someone who copied them would."""
    for name in names:
        cookie = source.get_cookie(name)
        assert cookie is not None, name
        target.set_cookie(name, cookie.value, domain="localhost")


def restart_browser(client: FlaskClient) -> HttpsClient:
    """The same browser after a restart: its persistent cookies kept, its session cookies gone."""
    restarted = new_client(client.application)
    # Werkzeug's client has no public way to list its cookies.
    for cookie in list(client._cookies.values()):  # type: ignore[union-attr]
        if cookie.expires is not None or cookie.max_age is not None:
            restarted.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path=cookie.path)
    return restarted


def set_cookies(response: TestResponse) -> dict[str, Morsel[str]]:
    """The cookies a response sets (or deletes), parsed with the standard library, by name."""
    cookies: dict[str, Morsel[str]] = {}
    for header in response.headers.getlist("Set-Cookie"):
        parsed: SimpleCookie = SimpleCookie()
        parsed.load(header)
        cookies.update(parsed)
    return cookies


def is_deleted(cookie: Morsel[str]) -> bool:
    """Whether a Set-Cookie tells the browser to drop the cookie (Max-Age=0 or a past Expires)."""
    if cookie["max-age"] == "0":
        return True
    return bool(cookie["expires"]) and parsedate_to_datetime(cookie["expires"]) < datetime.now(UTC)


def csrf_token_in(html: str) -> str:
    """The CSRF token of the first form in a page."""
    match = CSRF_INPUT.search(html)
    assert match, "page has no csrf_token input"
    return match.group(1)


class HttpsClient(FlaskClient):
    """Requests over https://localhost (so __Host- cookies work) with a same-origin Referer."""

    def open(self, *args: Any, **kwargs: Any) -> TestResponse:
        """Default to https and send the Referer that Flask-WTF's SSL-strict check wants."""
        kwargs.setdefault("base_url", BASE_URL)
        headers = dict(kwargs.pop("headers", None) or {})
        headers.setdefault("Referer", f"{BASE_URL}/")
        kwargs["headers"] = headers
        return super().open(*args, **kwargs)

    def submit(self, path: str, data: dict[str, Any], **kwargs: Any) -> TestResponse:
        """GET the form at ``path``, then POST ``data`` with its CSRF token."""
        token = csrf_token_in(self.get(path).get_data(as_text=True))
        return self.post(path, data={"csrf_token": token, **data}, **kwargs)

    def register(
        self, email: str = "ann@example.com", name: str = "Ann", password: str = STRONG_PASSWORD
    ) -> TestResponse:
        """Sign up through the real form."""
        return self.submit(
            "/register",
            {"email": email, "name": name, "password": password, "confirm_password": password},
        )

    def login(
        self, email: str = "ann@example.com", password: str = STRONG_PASSWORD, **extra: Any
    ) -> TestResponse:
        """Sign in through the real form."""
        return self.submit("/login", {"email": email, "password": password, **extra})

    def logout(self) -> TestResponse:
        """Sign out with the button on the account page."""
        token = csrf_token_in(self.get("/account").get_data(as_text=True))
        return self.post("/logout", data={"csrf_token": token})


def load_gunicorn_conf() -> ModuleType:
    """gunicorn.conf.py run afresh, as gunicorn runs it, with the environment as it is now."""
    spec = importlib.util.spec_from_file_location("gunicorn_conf", ROOT / "gunicorn.conf.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
