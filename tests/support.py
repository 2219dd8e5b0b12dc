"""Test helpers: an HTTPS test client that sends tokens and headers the way a browser would."""

from __future__ import annotations

import importlib.util
import re
import sqlite3
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import cache
from http.cookies import Morsel, SimpleCookie
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import sqlalchemy
from flask import Flask
from flask.testing import EnvironBuilder, FlaskClient
from sqlalchemy.pool import StaticPool
from werkzeug import test as werkzeug_test
from werkzeug.test import TestResponse
from werkzeug.wrappers import Request

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


# Referrer-Policy tokens (W3C Referrer Policy); a browser applies the last one it knows.
REFERRER_POLICIES = frozenset(
    {
        "no-referrer",
        "no-referrer-when-downgrade",
        "same-origin",
        "origin",
        "strict-origin",
        "origin-when-cross-origin",
        "strict-origin-when-cross-origin",
        "unsafe-url",
    }
)
DEFAULT_REFERRER_POLICY = "strict-origin-when-cross-origin"
DEFAULT_PORTS = {"http": 80, "https": 443}
REDIRECTS = frozenset({301, 302, 303, 305, 307, 308})


@dataclass(frozen=True)
class Page:
    """The page a browser shows: its address and the referrer policy it arrived with."""

    url: str
    referrer_policy: str = DEFAULT_REFERRER_POLICY


def referrer_policy_of(header: str | None) -> str:
    """The policy a browser applies for a ``Referrer-Policy`` header (the last known token)."""
    tokens = [token.strip().lower() for token in (header or "").split(",")]
    known = [token for token in tokens if token in REFERRER_POLICIES]
    return known[-1] if known else DEFAULT_REFERRER_POLICY


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname or "", parts.port or DEFAULT_PORTS.get(parts.scheme)


def _trustworthy(url: str) -> bool:
    # "Potentially trustworthy" in Secure Contexts: https, or http to the machine itself.
    parts = urlsplit(url)
    host = parts.hostname or ""
    local = host in {"localhost", "127.0.0.1", "::1"} or host.endswith(".localhost")
    return parts.scheme == "https" or (parts.scheme == "http" and local)


def _is_downgrade(page: Page, target: str) -> bool:
    return _trustworthy(page.url) and not _trustworthy(target)


def referer_for(page: Page, target: str) -> str | None:
    """The Referer a browser sends from ``page`` to ``target``, or None (Fetch, Referrer Policy)."""
    parts = urlsplit(page.url)
    host = parts.netloc.rpartition("@")[2]  # never the user name or password
    full = urlunsplit((parts.scheme, host, parts.path or "/", parts.query, ""))
    origin = f"{parts.scheme}://{host}/"
    if len(full) > 4096:  # browsers cut a longer Referer down to the origin
        full = origin
    same = _origin(page.url) == _origin(target)
    downgrade = _is_downgrade(page, target)
    match page.referrer_policy:
        case "no-referrer":
            return None
        case "origin":
            return origin
        case "unsafe-url":
            return full
        case "strict-origin":
            return None if downgrade else origin
        case "same-origin":
            return full if same else None
        case "origin-when-cross-origin":
            return full if same else origin
        case "no-referrer-when-downgrade":
            return None if downgrade else full
        case _:  # strict-origin-when-cross-origin
            return full if same else None if downgrade else origin


def origin_for(page: Page, target: str) -> str:
    """The Origin a browser sends from ``page`` with a request that is not GET or HEAD."""
    policy = page.referrer_policy
    hidden = (
        policy == "no-referrer"
        or (policy == "same-origin" and _origin(page.url) != _origin(target))
        or (
            policy in {"no-referrer-when-downgrade", "strict-origin", DEFAULT_REFERRER_POLICY}
            and _is_downgrade(page, target)
        )
    )
    if hidden:
        return "null"
    scheme, _, _ = _origin(page.url)
    return f"{scheme}://{urlsplit(page.url).netloc.rpartition('@')[2]}"


class HttpsClient(FlaskClient):
    """A browser on https://localhost (so __Host- cookies and the SSL-strict CSRF check apply).

    It sends the Referer and Origin headers Chromium would, and no others: it remembers the
    last page it loaded (``page``: the address of an HTML response that was not a redirect,
    and that response's ``Referrer-Policy``, by default strict-origin-when-cross-origin), and
    every request is a navigation from that page:

    - Referer follows the page's policy: the full address for a same-origin request under
      ``same-origin``, ``strict-origin-when-cross-origin``, ``origin-when-cross-origin``,
      ``no-referrer-when-downgrade`` and ``unsafe-url``; the origin only under ``origin`` and
      ``strict-origin``; none under ``no-referrer`` (other origins: as the policy says);
    - Origin goes with every request but GET and HEAD: ``https://localhost``, or ``null``
      where the policy hides the page (``no-referrer``, and across origins ``same-origin``);
    - a followed redirect keeps the Referer (recomputed when the redirect sets a policy) and,
      turned into a GET, drops the Origin.

    A client that has loaded no page yet sends neither header, like a typed address or a
    link in an email. A header a test passes itself always wins, so a test about the header
    sends the exact value it is about.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.page: Page | None = None
        # The request being sent: the page it came from and the headers added for it, so a
        # redirect is followed with the same rules.
        self._source: Page | None = None
        self._added: set[str] = set()
        self._redirect: TestResponse | None = None

    def open(
        self, *args: Any, buffered: bool = False, follow_redirects: bool = False, **kwargs: Any
    ) -> TestResponse:
        """Send the request from the current page, then remember the page it loaded."""
        if args and isinstance(args[0], werkzeug_test.EnvironBuilder | dict | Request):
            # Werkzeug following a redirect (or a test's own prepared request): sent as built.
            redirect, self._redirect = self._redirect, None
            if redirect is not None and isinstance(args[0], werkzeug_test.EnvironBuilder):
                self._follow(args[0], redirect)
            response = super().open(
                *args, buffered=buffered, follow_redirects=follow_redirects, **kwargs
            )
        else:
            kwargs.setdefault("base_url", BASE_URL)
            kwargs["environ_base"] = {**self.environ_base, **kwargs.get("environ_base", {})}
            builder = EnvironBuilder(self.application, *args, **kwargs)
            try:
                request = builder.get_request()
            finally:
                builder.close()
            self._send_from_page(request)
            response = super().open(request, buffered=buffered, follow_redirects=follow_redirects)
        self._remember_page(response)
        return response

    def resolve_redirect(self, response: TestResponse, buffered: bool = False) -> TestResponse:
        """Follow ``response`` as a browser would (see the class docstring)."""
        self._redirect = response
        return super().resolve_redirect(response, buffered=buffered)

    def _send_from_page(self, request: Request) -> None:
        self._source, self._added = self.page, set()
        if self.page is None:
            return
        environ = request.environ
        if "HTTP_REFERER" not in environ:
            referer = referer_for(self.page, request.url)
            if referer is not None:
                environ["HTTP_REFERER"] = referer
                self._added.add("Referer")
        if request.method not in {"GET", "HEAD"} and "HTTP_ORIGIN" not in environ:
            environ["HTTP_ORIGIN"] = origin_for(self.page, request.url)
            self._added.add("Origin")

    def _follow(self, builder: werkzeug_test.EnvironBuilder, redirect: TestResponse) -> None:
        if builder.method in {"GET", "HEAD"} and "Origin" in self._added:
            del builder.headers["Origin"]
            self._added.discard("Origin")
        if self._source is None or "Referrer-Policy" not in redirect.headers:
            return
        self._source = replace(
            self._source, referrer_policy=referrer_policy_of(redirect.headers["Referrer-Policy"])
        )
        if "Referer" in self._added or "Referer" not in builder.headers:
            target = f"{builder.url_scheme}://{builder.host}{builder.script_root}{builder.path}"
            referer = referer_for(self._source, target)
            builder.headers.pop("Referer", None)
            self._added.discard("Referer")
            if referer is not None:
                builder.headers["Referer"] = referer
                self._added.add("Referer")

    def _remember_page(self, response: TestResponse) -> None:
        if response.status_code in REDIRECTS or response.mimetype != "text/html":
            return
        if response.request.method not in {"GET", "POST"}:
            return
        policy = referrer_policy_of(response.headers.get("Referrer-Policy"))
        self.page = Page(response.request.url, policy)

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
