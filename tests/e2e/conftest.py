"""Browser-suite fixtures: Debian's Chromium, the app as deployed, a local SMTP catcher.

The app runs as a deployment runs it: ``flask --app wsgi db upgrade``, then ``gunicorn
wsgi:app`` from the repository root (``tests/production/servers.py``), over https with a
certificate for ``localhost`` from a throwaway CA (trustme), with production settings
(``APP_ENV=production``: Secure ``__Host-`` cookies, https insisted on, production Argon2
cost) on a temporary SQLite file. One worker, since the rate-limit counters are in memory.
Chromium does not know the CA, so every context is opened with ``ignore_https_errors``;
nothing else about what the browser sends is changed. Mail goes over SMTP to an aiosmtpd
server (``tests/smtp.py``) whose ``Outbox`` the tests read.

One server serves the session (one per xdist worker); a second one, on the same database
with REQUIRE_EMAIL_VERIFICATION on, is started only if a test asks for ``verifying_server``.
One Chromium (pytest-playwright's session ``browser``) serves the whole run; each test opens
contexts of its own, so no cookie leaks from one test to the next.

Without ``chromium`` on the PATH every browser test is skipped with the reason below, which
``tests/ci_guard.py`` turns into a failure when ``CI=true`` (CI installs Chromium).
"""

from __future__ import annotations

import itertools
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize

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
from tests.production.servers import (
    Certificate,
    Gunicorn,
    app_settings,
    make_certificate,
    production_env,
    upgrade_database,
)
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
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    """Every context pytest-playwright opens: the servers' CA is not one Chromium trusts."""
    return {**browser_context_args, "ignore_https_errors": True}


@dataclass(frozen=True)
class Deployment:
    """What the servers of a run share: the database, the SMTP catcher, the certificate."""

    env: dict[str, str]
    outbox: Outbox
    certificate: Certificate
    folder: Path


@pytest.fixture(scope="session")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """A migrated SQLite database, an SMTP catcher and a certificate for localhost."""
    folder = tmp_path_factory.mktemp("e2e")
    with smtp_server() as (outbox, smtp_port):
        # Per-address limits are generous (GENEROUS_RATE_LIMIT): a whole run from 127.0.0.1
        # never meets them. The per-account sign-in throttle still applies (a test needs it).
        env = production_env(
            database_url=f"sqlite:///{folder / 'app.db'}",
            mail_port=smtp_port,
            REQUIRE_EMAIL_VERIFICATION="false",
        )
        # Production refuses to start without an https PUBLIC_URL, and no server has its
        # port yet; the migration builds no link, so the bare origin does for it.
        upgrade_database({**env, "PUBLIC_URL": "https://localhost"})
        yield Deployment(env, outbox, make_certificate(folder / "tls"), folder)


@contextmanager
def _serve(deployment: Deployment, name: str, **settings: str) -> Iterator[Gunicorn]:
    """``gunicorn wsgi:app`` over https with one worker, stopped when the block ends."""
    server = Gunicorn(
        {**deployment.env, **settings},
        workers=1,
        certificate=deployment.certificate,
        log_path=deployment.folder / f"{name}.log",
    )
    with server:
        yield server


@pytest.fixture(scope="session")
def live_server(deployment: Deployment) -> Iterator[LiveServer]:
    """The app at https://localhost:PORT, as deployed, for the whole run."""
    with _serve(deployment, "server") as server:
        yield LiveServer(url=server.url, outbox=deployment.outbox, env=server.environment())


@pytest.fixture(scope="session")
def verifying_server(deployment: Deployment) -> Iterator[LiveServer]:
    """Another server on the same database, with REQUIRE_EMAIL_VERIFICATION on."""
    with _serve(deployment, "verifying", REQUIRE_EMAIL_VERIFICATION="true") as server:
        yield LiveServer(url=server.url, outbox=deployment.outbox, env=server.environment())


@pytest.fixture(scope="session")
def base_url(live_server: LiveServer) -> str:
    """pytest-playwright passes it to every context: ``page.goto("/login")`` works."""
    return live_server.url


@pytest.fixture(scope="session")
def outbox(live_server: LiveServer) -> Outbox:
    """What the live server has sent (overrides tests/conftest.py's per-test SMTP server)."""
    return live_server.outbox


@pytest.fixture(scope="session")
def server_app(live_server: LiveServer) -> Iterator[Flask]:
    """The app built here, from the live server's own environment, on its database.

    For fixtures that prepare data the way the server's code would (it serves nothing).
    """
    with pytest.MonkeyPatch.context() as environment:
        # Settings are read once, in create_app: none may leak in from the outer environment.
        names = app_settings()
        for name in names:
            environment.delenv(name, raising=False)
        for name, value in live_server.env.items():
            if name in names:
                environment.setenv(name, value)
        app = create_app()
    try:
        yield app
    finally:
        jobs.wait()
        with app.app_context():
            db.engine.dispose()


_numbers = itertools.count(1)


@pytest.fixture
def new_email(request: pytest.FixtureRequest) -> Callable[[], str]:
    """Addresses nobody used before in this run, so tests never share an account."""
    stem = request.node.originalname.removeprefix("test_").replace("_", "-")[:24]

    def make() -> str:
        return f"{stem}-{next(_numbers)}-{secrets.token_hex(3)}@example.com"

    return make


@pytest.fixture
def make_account(server_app: Flask, new_email: Callable[[], str]) -> Callable[[], Account]:
    """Make accounts directly through the service, for flows that are not about signing up."""

    def make() -> Account:
        account = Account(new_email())
        with server_app.app_context():
            users.register_user(account.email, account.name, account.password)
        return account

    return make


@pytest.fixture
def account(make_account: Callable[[], Account]) -> Account:
    """One account made directly through the service."""
    return make_account()


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
def shared_account(
    browser: Browser, browser_context_args: dict[str, Any], live_server: LiveServer
) -> SharedAccount:
    """Signed up once per run: the accessibility, layout and screenshot tours only look.

    Two browsers are signed in to it (so the sessions page lists another device), the second
    with "keep me signed in"; a reset link is requested once and reused, since opening it
    does not use it up (a newer link would replace it, and mails per address are limited).
    """
    account = Account(email="ada@example.com", name="Ada Lovelace", password=PASSWORD)
    contexts = [browser.new_context(**browser_context_args) for _ in range(3)]
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
