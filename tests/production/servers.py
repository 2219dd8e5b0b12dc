"""Real servers for the production-shape tests: `gunicorn wsgi:app` subprocesses and a browser.

``Gunicorn(env, workers, certificate=...)`` starts ``python -m gunicorn --workers N --bind
127.0.0.1:PORT --certfile ... --keyfile ... wsgi:app`` from the repository root (so
gunicorn.conf.py is read, as in a deployment) on a free port, waits until /healthz answers
200 and always stops it again (SIGTERM, then SIGKILL). Each
access-log line starts with the answering worker's pid, so a test can tell which processes
answered. It speaks https only, with a ``Certificate`` (``make_certificate``: a throwaway CA
and a certificate it signed for localhost), on ``https://localhost:PORT``; ``production_env``
is its environment, production settings and all: every suite (browser, production, smoke)
runs the app as deployed.

``Browser`` is a cookie jar and an HTTP client that follows no redirect; it can be pointed at
another server while keeping its cookies, as a browser does for one host on another port.
"""

from __future__ import annotations

import copy
import http.cookiejar
import os
import re
import secrets
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from types import TracebackType
from typing import Self, TypeVar, cast

import trustme

ROOT = Path(__file__).resolve().parents[2]
CSRF_INPUT = re.compile(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"')
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
REQUEST_TIMEOUT = 20.0
# gunicorn's default access-log format, prefixed with the answering worker's pid ("<1234>").
ACCESS_LOG_FORMAT = '%(p)s %(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"'
ACCESS_LINE = re.compile(
    r'^<(?P<pid>\d+)> .*?"(?P<method>[A-Z]+) (?P<path>\S+) [^"]*" (?P<status>\d{3}) '
)
# Per-address limits high enough that only the test's subject (or nothing) ever says 429.
GENEROUS_RATE_LIMIT = "1000 per minute"

# Every variable the app (webapp/config.py) or gunicorn.conf.py reads, found in their source,
# plus the ones gunicorn and Flask read themselves: none may leak from the outer environment.
_SETTING_READ = re.compile(r'(?:_env\w*|os\.environ\.get|os\.getenv)\(\s*"([A-Z][A-Z0-9_]*)"')
_EXTRA_SETTINGS = {"GUNICORN_CMD_ARGS", "FORWARDED_ALLOW_IPS", "FLASK_APP", "FLASK_DEBUG"}


def app_settings() -> frozenset[str]:
    """Names of the environment variables that configure the app or gunicorn."""
    names = set(_EXTRA_SETTINGS)
    for source in (ROOT / "webapp" / "config.py", ROOT / "gunicorn.conf.py"):
        names.update(_SETTING_READ.findall(source.read_text()))
    return frozenset(names)


def free_port() -> int:
    """A TCP port nothing listens on right now (gunicorn may still lose it in a race)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def new_secret_key() -> str:
    """256 random bits in hex: give the same one to every instance that must share sessions."""
    return secrets.token_hex(32)


def production_env(
    *,
    database_url: str,
    mail_port: int,
    redis_url: str = "memory://",
    secret_key: str | None = None,
    **settings: str,
) -> dict[str, str]:
    """The outer environment minus any app setting, plus production's (for https servers).

    Meant for a ``Gunicorn`` given a ``Certificate``. ``APP_ENV=production``: Secure
    ``__Host-`` cookies, https insisted on, HSTS, production Argon2 cost. Counters in
    ``redis_url``; on the default ``memory://`` one worker (WEB_CONCURRENCY=1, which ``flask
    db upgrade`` with this environment sees too; ``Gunicorn`` sets its own count). Mail goes
    over plain SMTP to the catcher on ``mail_port`` of 127.0.0.1 (tests/smtp.py).
    ``secret_key`` is a new random one unless given: give the same one to every instance that
    must share sessions. Per-address limits are generous and PUBLIC_URL is the server's own
    https address, unless ``settings`` say otherwise.
    """
    names = app_settings()
    env = {key: value for key, value in os.environ.items() if key not in names}
    env.update(
        APP_ENV="production",
        SECRET_KEY=secret_key or new_secret_key(),
        DATABASE_URL=database_url,
        RATELIMIT_STORAGE_URI=redis_url,
        WEB_CONCURRENCY="1",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=str(mail_port),
        MAIL_USE_TLS="false",
        LOGIN_RATE_LIMIT=GENEROUS_RATE_LIMIT,
        REGISTER_RATE_LIMIT=GENEROUS_RATE_LIMIT,
        MAIL_REQUEST_RATE_LIMIT=GENEROUS_RATE_LIMIT,
    )
    env.update(settings)
    return env


def upgrade_database(env: Mapping[str, str]) -> None:
    """``flask --app wsgi db upgrade`` with this environment, as a deployment runs it.

    Production refuses to start without an https PUBLIC_URL, and before the first server
    starts nobody knows its port; the migration builds no link, so unless ``env`` sets one
    the bare origin does.
    """
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
        cwd=ROOT,
        env={"PUBLIC_URL": "https://localhost", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"flask db upgrade failed:\n{result.stdout}\n{result.stderr}")


@dataclass(frozen=True)
class Certificate:
    """PEM files: a throwaway CA, and the key and certificate chain it issued for localhost."""

    ca: Path
    key: Path
    chain: Path

    def client_context(self) -> ssl.SSLContext:
        """An SSL context that trusts this CA alone (and checks the host name against it)."""
        return ssl.create_default_context(cafile=str(self.ca))


def make_certificate(folder: Path) -> Certificate:
    """A new CA (trustme) and a server certificate for ``localhost`` and ``127.0.0.1``."""
    authority = trustme.CA()
    issued = authority.issue_cert("localhost", "127.0.0.1")
    folder.mkdir(parents=True, exist_ok=True)
    certificate = Certificate(
        ca=folder / "ca.pem", key=folder / "server.key", chain=folder / "server.pem"
    )
    authority.cert_pem.write_to_path(certificate.ca)
    issued.private_key_pem.write_to_path(certificate.key)
    certificate.chain.write_bytes(b"".join(blob.bytes() for blob in issued.cert_chain_pems))
    return certificate


class ServerFailed(RuntimeError):
    """Gunicorn did not come up healthy; the message carries its log."""


@dataclass(frozen=True)
class Access:
    """One access-log line: which worker answered what."""

    pid: int
    method: str
    path: str
    status: int


class Gunicorn:
    """``gunicorn wsgi:app`` with ``workers`` sync workers on a free port of 127.0.0.1.

    Use as a context manager (or ``start()`` / ``stop()``). ``env`` is the whole environment
    of the server (see ``production_env``). It speaks https only, with ``certificate``, and
    is addressed as ``localhost`` (the name its certificate carries).
    """

    PORT_ATTEMPTS = 3

    def __init__(
        self,
        env: Mapping[str, str],
        workers: int,
        *,
        certificate: Certificate,
        log_path: Path | None = None,
    ) -> None:
        self.env = dict(env)
        self.workers = workers
        self.log_path = log_path or Path(tempfile.mkdtemp(prefix="gunicorn-")) / "server.log"
        self.certificate = certificate
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}"

    def environment(self) -> dict[str, str]:
        """The server's whole environment: ``env``, plus PUBLIC_URL unless ``env`` sets it.

        WEB_CONCURRENCY is the number of workers, so what gunicorn.conf.py and the app read
        agrees with --workers.
        """
        return {"PUBLIC_URL": self.url, **self.env, "WEB_CONCURRENCY": str(self.workers)}

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            str(self.workers),
            "--bind",
            f"127.0.0.1:{self.port}",
            "--certfile",
            str(self.certificate.chain),
            "--keyfile",
            str(self.certificate.key),
            "--access-logformat",
            ACCESS_LOG_FORMAT,
            "wsgi:app",
        ]

    def browser(self) -> Browser:
        """A new ``Browser`` aimed at this server, trusting its certificate's CA."""
        return Browser(self.url, ssl_context=self.certificate.client_context())

    def start(self) -> Self:
        """Start and wait for /healthz; on a lost port race, try another port."""
        for attempt in range(1, self.PORT_ATTEMPTS + 1):
            self.port = free_port()
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            with self.log_path.open("ab") as log:
                log.write(f"--- {' '.join(self.command())}\n".encode())
                log.flush()
                self.process = subprocess.Popen(
                    self.command(),
                    cwd=ROOT,
                    env=self.environment(),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            try:
                self._wait_until_healthy()
            except ServerFailed:
                self.stop()
                if attempt < self.PORT_ATTEMPTS and "Address already in use" in self.log():
                    continue
                raise
            return self
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait_until_healthy(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerFailed(f"gunicorn exited with {self.process.returncode}:\n{self.log()}")
            try:
                if self.browser().get("/healthz", timeout=2).status == 200:
                    return
            except OSError:  # not listening yet
                pass
            time.sleep(0.1)
        raise ServerFailed(f"{self.url}/healthz not 200 within {START_TIMEOUT} s:\n{self.log()}")

    def stop(self) -> None:
        """SIGTERM (graceful shutdown), then SIGKILL if it is still there after STOP_TIMEOUT."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def log(self) -> str:
        """Everything gunicorn and the app wrote so far (access log included)."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def accesses(self) -> list[Access]:
        """The access log, parsed: one entry per answered request, oldest first."""
        return [
            Access(int(m["pid"]), m["method"], m["path"], int(m["status"]))
            for m in map(ACCESS_LINE.match, self.log().splitlines())
            if m
        ]


@dataclass
class Reply:
    status: int
    headers: Message
    body: str

    @property
    def location(self) -> str:
        return self.headers.get("Location", "")

    @property
    def path(self) -> str:
        """The path (without query) a redirect points to."""
        return urllib.parse.urlsplit(self.location).path

    @property
    def query(self) -> dict[str, list[str]]:
        return urllib.parse.parse_qs(urllib.parse.urlsplit(self.location).query)

    def __repr__(self) -> str:  # short enough for an assertion message
        return f"Reply({self.status}, location={self.location!r}, body={self.body[:200]!r})"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Hand every 3xx back to the caller instead of following it."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class Browser:
    """A cookie jar and an opener that follows no redirect, aimed at ``base_url``.

    ``base_url`` may be changed at any time: the cookies stay, and as in a browser, cookies
    of localhost go to every port of localhost. Each request opens a new connection, so
    consecutive requests may be answered by different gunicorn workers. For https,
    ``ssl_context`` says which certificates to trust (``Certificate.client_context``).
    """

    def __init__(
        self,
        base_url: str,
        cookies: http.cookiejar.CookieJar | None = None,
        *,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.base_url = base_url
        self.cookies = cookies if cookies is not None else http.cookiejar.CookieJar()
        self.ssl_context = ssl_context
        self.opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}),  # loopback only, whatever http_proxy says
            urllib.request.HTTPSHandler(context=ssl_context),
            urllib.request.HTTPCookieProcessor(self.cookies),
            _NoRedirects(),
        )

    def copy(self, base_url: str | None = None) -> Browser:
        """Another browser holding a copy of this one's cookies (as they are now)."""
        jar = http.cookiejar.CookieJar()
        for cookie in self.cookies:
            jar.set_cookie(copy.copy(cookie))
        return Browser(base_url or self.base_url, jar, ssl_context=self.ssl_context)

    def cookie_names(self) -> set[str]:
        return {cookie.name for cookie in self.cookies}

    def request(
        self,
        path: str,
        data: Mapping[str, str] | None = None,
        *,
        referer: str | None = None,
        timeout: float = REQUEST_TIMEOUT,
    ) -> Reply:
        url = self.base_url + path
        body = None if data is None else urllib.parse.urlencode(data).encode()
        request = urllib.request.Request(url, data=body)  # noqa: S310 (always our own loopback server)
        if referer is not None:
            request.add_header("Referer", referer)
        try:
            with self.opener.open(request, timeout=timeout) as response:
                return Reply(response.status, response.headers, response.read().decode())
        except urllib.error.HTTPError as error:  # 3xx (not followed), 4xx and 5xx
            with error:
                return Reply(error.code, error.headers, error.read().decode())

    def get(self, path: str, *, timeout: float = REQUEST_TIMEOUT) -> Reply:
        return self.request(path, timeout=timeout)

    def csrf_token(self, form_page: str) -> str:
        """GET ``form_page`` and return the CSRF token of its first form."""
        page = self.get(form_page)
        assert page.status == 200, f"GET {self.base_url}{form_page}: {page!r}"
        match = CSRF_INPUT.search(page.body)
        assert match, f"no csrf_token on {self.base_url}{form_page}"
        return match.group(1)

    def post(self, path: str, data: Mapping[str, str], *, form_page: str | None = None) -> Reply:
        """POST ``data`` as-is, with the same-origin Referer a browser sends from the form."""
        return self.request(path, data, referer=self.base_url + (form_page or path))

    def post_form(
        self, path: str, data: Mapping[str, str], *, form_page: str | None = None
    ) -> Reply:
        """GET the form (on ``form_page``, default ``path``), then POST ``data`` with its token."""
        token = self.csrf_token(form_page or path)
        return self.post(path, {"csrf_token": token, **data}, form_page=form_page)


# The type of conftest's ``start_server`` fixture: ``start_server(env, workers)``.
StartServer = Callable[[Mapping[str, str], int], Gunicorn]
T = TypeVar("T")


def simultaneously(calls: Sequence[Callable[[], T]], timeout: float = 60.0) -> list[T]:
    """Run each call in a thread of its own, all released at once; their results in order.

    An exception in any call is raised here, after every thread has finished.
    """
    barrier = threading.Barrier(len(calls))
    results: list[T | None] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(index: int, call: Callable[[], T]) -> None:
        try:
            barrier.wait(timeout=timeout)
            results[index] = call()
        except BaseException as exc:  # re-raised in the calling thread
            barrier.abort()
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=(i, call), daemon=True) for i, call in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    if errors:
        raise errors[0]
    if any(thread.is_alive() for thread in threads):
        raise TimeoutError(f"calls still running after {timeout} s")
    return cast(list[T], results)
