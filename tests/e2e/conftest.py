"""Browser-suite fixtures: Debian's Chromium, the app on a free port, a local SMTP catcher.

The app runs in this process, in a daemon thread (``werkzeug.serving.make_server``, threaded),
on a temporary SQLite file, with development settings: production behaviour and production
Argon2 cost, but cookies without Secure and no https redirect, since it speaks plain http.
Its mail goes over SMTP to an aiosmtpd server (``tests/smtp.py``) whose ``Outbox`` the tests
read. One Chromium (pytest-playwright's session ``browser``) serves the whole run; each test
opens contexts of its own, so no cookie leaks from one test to the next.

Without ``chromium`` on the PATH every browser test is skipped with the reason below, which
``tests/ci_guard.py`` turns into a failure when ``CI=true`` (CI installs Chromium).

Flask-Limiter's ``limiter`` is one shared object whose storage the last ``create_app`` sets:
the browser tests run before any other layer (``tests/e2e`` sorts first) and create no other
app, so the live server keeps its own counters while they run.
"""

from __future__ import annotations

import itertools
import secrets
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize
from werkzeug.serving import make_server

from tests.e2e.support import (
    DESKTOP,
    PASSWORD,
    Account,
    ConsoleWatch,
    LiveServer,
    Navigations,
    persistent_cookies,
    request_reset_link,
    sign_in,
    sign_up,
    wait_for_mail,
)
from tests.e2e.tour import Stop, storage_for
from tests.production.servers import app_settings
from tests.smtp import Outbox, link_in, smtp_server
from webapp import create_app
from webapp.extensions import db, jobs
from webapp.services import users

# Debian's Chromium runs as root only without its sandbox; the rest keep it off the network
# (no component updates, sync or field trials to fetch: there is no network here).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
NO_CHROMIUM = (
    "Debian's chromium is not installed (`apt-get install chromium`): the browser tests "
    "need it, and Playwright's own browser download does not work here"
)
# Per-address limits high enough that a whole run from 127.0.0.1 never meets them; the
# per-account sign-in throttle still applies (the throttle test relies on it).
GENEROUS_RATE_LIMIT = "1000 per minute"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """pytest-playwright's launch options, pointed at the system Chromium."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip(NO_CHROMIUM)
    return {
        **browser_type_launch_args,
        "executable_path": executable,
        "args": CHROMIUM_ARGS,
        "headless": browser_type_launch_args.get("headless", True),
    }


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The app on a free port of 127.0.0.1, served by Werkzeug in a daemon thread."""
    folder = tmp_path_factory.mktemp("e2e")
    with smtp_server() as (outbox, smtp_port), pytest.MonkeyPatch.context() as environment:
        # Settings are read once, in create_app: none may leak in from the outer environment.
        for name in app_settings():
            environment.delenv(name, raising=False)
        app = create_app(
            {
                "APP_ENV": "development",
                "SECRET_KEY": secrets.token_urlsafe(48),
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'app.db'}",
                "RATELIMIT_ENABLED": True,
                "RATELIMIT_STORAGE_URI": "memory://",
                "LOGIN_RATE_LIMIT": GENEROUS_RATE_LIMIT,
                "REGISTER_RATE_LIMIT": GENEROUS_RATE_LIMIT,
                "MAIL_REQUEST_RATE_LIMIT": GENEROUS_RATE_LIMIT,
                "MAIL_SERVER": "127.0.0.1",
                "MAIL_PORT": smtp_port,
                "MAIL_USE_TLS": False,
            }
        )
        environment.undo()
        with app.app_context():
            db.create_all()
        server = make_server("127.0.0.1", 0, app, threaded=True)
        url = f"http://127.0.0.1:{server.server_port}"
        # Links in emails: read at send time, so it can be set once the port is known.
        app.config["PUBLIC_URL"] = url
        thread = threading.Thread(target=server.serve_forever, name="e2e-server", daemon=True)
        thread.start()
        try:
            yield LiveServer(url=url, app=app, outbox=outbox)
        finally:
            server.shutdown()
            thread.join(timeout=10)
            server.server_close()
            jobs.wait()  # mail still being sent must not hit a stopped SMTP server
            with app.app_context():
                db.engine.dispose()


@pytest.fixture(scope="session")
def base_url(live_server: LiveServer) -> str:
    """pytest-playwright passes it to every context: ``page.goto("/login")`` works."""
    return live_server.url


@pytest.fixture(scope="session")
def outbox(live_server: LiveServer) -> Outbox:
    """What the live server has sent (overrides tests/conftest.py's per-test SMTP server)."""
    return live_server.outbox


_numbers = itertools.count(1)


@pytest.fixture
def new_email(request: pytest.FixtureRequest) -> Callable[[], str]:
    """Addresses nobody used before in this run, so tests never share an account."""
    stem = request.node.originalname.removeprefix("test_").replace("_", "-")[:24]

    def make() -> str:
        return f"{stem}-{next(_numbers)}-{secrets.token_hex(3)}@example.com"

    return make


@pytest.fixture
def account(live_server: LiveServer, new_email: Callable[[], str]) -> Account:
    """An account made directly by the service, for flows that are not about signing up."""
    account = Account(new_email())
    with live_server.app.app_context():
        users.register_user(account.email, account.name, account.password)
    return account


@pytest.fixture(params=[True, False], ids=["js", "no-js"])
def javascript(request: pytest.FixtureRequest) -> bool:
    """Every flow runs twice: with JavaScript, and with it switched off."""
    return bool(request.param)


@pytest.fixture
def open_browser(
    new_context: Callable[..., BrowserContext], javascript: bool
) -> Iterator[Callable[..., Page]]:
    """Open another browser (a context of its own, cookie jar and all) and return its page.

    Pages that log a Content-Security-Policy violation or throw fail the test at teardown.
    """
    watches: list[ConsoleWatch] = []

    def open_page(**options: Any) -> Page:
        options.setdefault("java_script_enabled", javascript)
        page = new_context(**options).new_page()
        watches.append(ConsoleWatch.attach(page))
        return page

    yield open_page
    for watch in watches:
        watch.assert_clean()


@dataclass(frozen=True)
class SharedAccount:
    """Cookie jars signed in to the one account of the page tours, and a link it was sent."""

    signed_in: dict[str, Any]  # storage state of a browser that signed up (a fresh session)
    remembered: dict[str, Any]  # only the persistent cookies of a "keep me signed in" browser
    reset_link: str  # a valid password-reset link for it (opening it does not use it up)


@pytest.fixture(scope="session")
def shared_account(browser: Browser, live_server: LiveServer) -> SharedAccount:
    """Signed up once per run: the accessibility, layout and screenshot tours only look.

    Two browsers are signed in to it (so the sessions page lists another device), the second
    with "keep me signed in"; a reset link is requested once and reused, since opening it
    does not use it up (a newer link would replace it, and mails per address are limited).
    """
    account = Account(email="ada@example.com", name="Ada Lovelace", password=PASSWORD)
    contexts = [browser.new_context(base_url=live_server.url) for _ in range(3)]
    try:
        first, second, third = (context.new_page() for context in contexts)
        sign_up(first, account)
        sign_in(second, account, remember=True)
        request_reset_link(third, account.email)
        return SharedAccount(
            signed_in=contexts[0].storage_state(),
            remembered=persistent_cookies(contexts[1].storage_state()),
            reset_link=link_in(wait_for_mail(live_server.outbox, account.email, "Reset")),
        )
    finally:
        for context in contexts:
            context.close()


@pytest.fixture
def open_stop(
    new_context: Callable[..., BrowserContext], shared_account: SharedAccount
) -> Iterator[Callable[..., Page]]:
    """Open a new browser at a stop of the tour (tests/e2e/tour.py) and return its page.

    The page must answer with the stop's status; CSP violations and script errors fail
    the test at teardown.
    """
    watches: list[ConsoleWatch] = []

    def open_page(
        stop: Stop,
        *,
        javascript: bool = True,
        viewport: ViewportSize | None = None,
        site_scripts: bool = True,
    ) -> Page:
        context = new_context(
            java_script_enabled=javascript,
            storage_state=storage_for(stop, shared_account.signed_in, shared_account.remembered),
            viewport=viewport or DESKTOP,
        )
        if not site_scripts:
            # The page as it is without JavaScript, while the test itself may still run
            # scripts in it (axe-core needs timers, which a script-less page never fires).
            context.route("**/*.js", lambda route: route.abort())
        page = context.new_page()
        watches.append(ConsoleWatch.attach(page))
        navigations = Navigations.attach(page)
        stop.visit(page, shared_account.reset_link)
        assert navigations.last == stop.status, f"{stop}: {page.url} answered {navigations.last}"
        return page

    yield open_page
    for watch in watches:
        watch.assert_clean()
