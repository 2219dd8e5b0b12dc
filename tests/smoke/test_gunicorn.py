"""The deployed shape end to end: `flask db upgrade`, then `gunicorn wsgi:app`, over real HTTP.

Development settings, which are production's (real Argon2 cost, gunicorn.conf.py from the
repository root) except that cookies go without Secure, because this server speaks plain http.
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

import pytest

from tests.support import STRONG_PASSWORD

pytestmark = pytest.mark.gunicorn

ROOT = Path(__file__).resolve().parents[2]
CSRF_INPUT = re.compile(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"')
START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0
# Settings the app or gunicorn.conf.py read: the outer environment must not leak into the server.
APP_SETTINGS = (
    "APP_ENV",
    "SECRET_KEY",
    "DATABASE_URL",
    "SITE_NAME",
    "COOKIE_SECURE",
    "TRUSTED_PROXIES",
    "RATELIMIT_STORAGE_URI",
    "LOGIN_RATE_LIMIT",
    "REGISTER_RATE_LIMIT",
    "PASSWORD_MIN_LENGTH",
    "ARGON2_TIME_COST",
    "ARGON2_MEMORY_COST",
    "ARGON2_PARALLELISM",
    "SESSION_IDLE_MINUTES",
    "SESSION_ABSOLUTE_HOURS",
    "REMEMBER_DAYS",
    "GUNICORN_BIND",
    "GUNICORN_THREADS",
    "GUNICORN_CMD_ARGS",
    "WEB_CONCURRENCY",
    "FORWARDED_ALLOW_IPS",
)


@dataclass
class Reply:
    status: int
    headers: Message
    body: str

    @property
    def location(self) -> str:
        return self.headers.get("Location", "")


class NoRedirects(urllib.request.HTTPRedirectHandler):
    """Hand every 3xx back to the test instead of following it."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class Browser:
    """A cookie jar and an opener that follows no redirect, against one base URL."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}),  # loopback only, whatever http_proxy says
            urllib.request.HTTPCookieProcessor(self.cookies),
            NoRedirects(),
        )

    def request(self, path: str, data: dict[str, str] | None = None) -> Reply:
        url = self.base_url + path
        body = None if data is None else urllib.parse.urlencode(data).encode()
        request = urllib.request.Request(url, data=body)  # noqa: S310 (always http://127.0.0.1)
        if body is not None:
            # What a browser sends from the form's page; Flask-WTF checks it only over https.
            request.add_header("Referer", url)
        try:
            with self.opener.open(request, timeout=10) as response:
                return Reply(response.status, response.headers, response.read().decode())
        except urllib.error.HTTPError as error:  # 3xx (not followed), 4xx and 5xx
            with error:
                return Reply(error.code, error.headers, error.read().decode())

    def get(self, path: str) -> Reply:
        return self.request(path)

    def submit(self, path: str, data: dict[str, str], form_page: str | None = None) -> Reply:
        """POST ``data`` to ``path`` with the CSRF token of the form on ``form_page``."""
        page = self.get(form_page or path)
        assert page.status == 200, page
        match = CSRF_INPUT.search(page.body)
        assert match, f"no csrf_token on {form_page or path}"
        return self.request(path, {"csrf_token": match.group(1), **data})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in APP_SETTINGS}
    env.update(
        APP_ENV="development",
        SECRET_KEY=secrets.token_urlsafe(36),  # 48 characters
        DATABASE_URL=f"sqlite:///{tmp_path / 'smoke.db'}",
    )
    return env


def wait_until_healthy(base_url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"gunicorn exited with {server.returncode}:\n{log.read_text()}")
        try:
            if Browser(base_url).get("/healthz").status == 200:
                return
        except OSError:  # not listening yet
            pass
        time.sleep(0.1)
    pytest.fail(f"/healthz not 200 within {START_TIMEOUT} s:\n{log.read_text()}")


def stop(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM (graceful shutdown), then SIGKILL if it is still there after STOP_TIMEOUT."""
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@dataclass
class Server:
    url: str
    log: Path


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    env = server_env(tmp_path)
    upgrade = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert upgrade.returncode == 0, upgrade.stderr

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2"]
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [*command, "wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_healthy(url, process, log)
        yield Server(url, log)
    finally:
        stop(process)


def assert_redirect(reply: Reply, base_url: str, status: int, path: str) -> dict[str, list[str]]:
    """``reply`` redirects with ``status`` to ``path`` on this server; returns its query."""
    assert reply.status == status, reply
    target = urllib.parse.urlsplit(reply.location)
    assert target.netloc in ("", urllib.parse.urlsplit(base_url).netloc), reply.location
    assert target.path == path, reply.location
    return urllib.parse.parse_qs(target.query)


def test_sign_up_out_and_in_through_gunicorn(server: Server) -> None:
    base_url = server.url
    browser = Browser(base_url)
    email, name = "smoke@example.com", "Smoke Tester"

    registered = browser.submit(
        "/register",
        {
            "email": email,
            "name": name,
            "password": STRONG_PASSWORD,
            "confirm_password": STRONG_PASSWORD,
        },
    )
    assert_redirect(registered, base_url, 303, "/account")
    assert {cookie.name for cookie in browser.cookies} == {"session"}

    account = browser.get("/account")
    assert account.status == 200
    assert name in account.body
    assert email in account.body

    signed_out = browser.submit("/logout", {}, form_page="/account")
    assert_redirect(signed_out, base_url, 303, "/login")

    query = assert_redirect(browser.get("/account"), base_url, 302, "/login")
    assert query["next"] == ["/account"]

    signed_in = browser.submit("/login", {"email": email, "password": STRONG_PASSWORD})
    assert_redirect(signed_in, base_url, 303, "/account")

    account = browser.get("/account")
    assert account.status == 200
    assert name in account.body

    # The access log comes from gunicorn.conf.py (accesslog = "-"): the file was picked up.
    assert '"POST /login HTTP/1.1" 303' in server.log.read_text()
