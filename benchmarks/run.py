"""`make bench`: the app under gunicorn, against bare Flask and the hashing limit.

Starts gunicorn with production settings (one worker per core, throttling switched off by
RATELIMIT_ENABLED=0, TLS terminated by a pretend proxy: TRUSTED_PROXIES=1 and
X-Forwarded-Proto: https on every request) on SQLite and on PostgreSQL, and a bare Flask
"hello" app under the same gunicorn settings; drives each with wrk; writes
benchmarks/results/latest.json and latest.md and prints the table.
"""

from __future__ import annotations

import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from pathlib import Path

from argon2 import PasswordHasher as Argon2

from benchmarks import hashing

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
WRK_SCRIPT = ROOT / "benchmarks" / "wrk" / "request.lua"
CORES = os.cpu_count() or 1
SECONDS = int(os.environ.get("BENCH_SECONDS", "8"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", str(4 * CORES)))
PASSWORD = "correct horse battery staple"
PG_SERVER = os.environ.get(
    "BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
TARGETS = {"login_page": 0.5, "account_page": 0.4, "login_success": 0.9, "rss_mb": 80}


@dataclass
class Load:
    """What wrk measured for one scenario."""

    requests_per_second: float
    p50_ms: float
    p99_ms: float
    unexpected: int
    socket_errors: int


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk(
    url: str,
    method: str,
    path: str,
    expected: int,
    body: str = "",
    cookie: str = "",
    unique: bool = False,
    headers: tuple[str, ...] = (),
) -> Load:
    """Run wrk for SECONDS on one request shape."""
    command = [
        "wrk",
        "-t1",
        f"-c{CONNECTIONS}",
        f"-d{SECONDS}s",
        "--latency",
        "-s",
        str(WRK_SCRIPT),
    ]
    for header in headers:
        command += ["-H", header]
    command += [url, "--", method, path, str(expected), body, cookie, "1" if unique else "0"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return Load(
        requests_per_second=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        p50_ms=_ms(re.search(r"\s50%\s+(\S+)", out).group(1)),  # type: ignore[union-attr]
        p99_ms=_ms(re.search(r"\s99%\s+(\S+)", out).group(1)),  # type: ignore[union-attr]
        unexpected=int(re.search(r"unexpected: (\d+)", out).group(1)),  # type: ignore[union-attr]
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
    )


class Gunicorn:
    """gunicorn with the repository's gunicorn.conf.py, one worker per core."""

    def __init__(self, app: str, env: dict[str, str]) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full_env = {
            **os.environ,
            **env,
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "WEB_CONCURRENCY": str(CORES),
        }
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - read on failure, closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", app, "--access-logfile", "/dev/null"],
            cwd=ROOT,
            env=full_env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self._wait(env.get("HEALTH", "/healthz"))

    def _wait(self, path: str) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with suppress(OSError), urllib.request.urlopen(self.url + path, timeout=2) as reply:
                if reply.status == 200:
                    return
            time.sleep(0.2)
        self.log.seek(0)
        output = self.log.read().decode(errors="replace")
        self.stop()
        raise RuntimeError("gunicorn did not start:\n" + output)

    def worker_rss_mb(self) -> list[float]:
        """Resident memory of each worker process, in MB."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        sizes = []
        for pid in children.read_text().split():
            status = Path(f"/proc/{pid}/status").read_text()
            kib = int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1))  # type: ignore[union-attr]
            sizes.append(round(kib / 1024, 1))
        return sizes

    def stop(self) -> None:
        """SIGTERM, and SIGKILL if it lingers."""
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


class Visitor:
    """Just enough of a browser to get a session cookie and a CSRF token over http."""

    def __init__(self, base: str, headers: dict[str, str]) -> None:
        self.base, self.headers, self.cookies = base, headers, {}

    def request(self, path: str, data: dict[str, str] | None = None) -> tuple[int, str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(
            self.base + path,
            data=body,
            headers={
                **self.headers,
                "Cookie": self.cookie_header(),
                "Referer": self.headers["X-Forwarded-Proto"]
                + "://"
                + self.base.split("://")[1]
                + path,
            },
        )
        opener = urllib.request.build_opener(_NoRedirect())
        try:
            reply = opener.open(request, timeout=10)
        except urllib.error.HTTPError as error:
            reply = error
        for header in reply.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0]
            if value:
                self.cookies[name] = value
            else:
                self.cookies.pop(name, None)
        return reply.status, reply.read().decode()

    def cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def token(self, path: str) -> str:
        _, page = self.request(path)
        return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


@contextmanager
def database(kind: str) -> Iterator[str]:
    """An empty database of the kind, removed afterwards."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{folder}/bench.db"
        return
    from tests.databases import temporary_postgres_database

    with temporary_postgres_database(PG_SERVER) as url:
        yield url


def app_env(database_url: str) -> dict[str, str]:
    """Production settings, behind a pretend TLS proxy, with throttling off for the run."""
    return {
        "APP_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "PUBLIC_URL": "https://bench.example",
        "MAIL_SERVER": "127.0.0.1",  # required in production; no scenario sends mail
        "DATABASE_URL": database_url,
        "TRUSTED_PROXIES": "1",
        "RATELIMIT_ENABLED": "0",
    }


def measure_app(kind: str) -> dict[str, object]:
    """Every scenario against the app on one database."""
    with database(kind) as url:
        env = app_env(url)
        subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
            cwd=ROOT,
            env={**os.environ, **env},
            check=True,
            capture_output=True,
        )
        server = Gunicorn("wsgi:app", env)
        try:
            proxy = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}
            headers = tuple(f"{k}: {v}" for k, v in proxy.items())
            owner = Visitor(server.url, proxy)
            token = owner.token("/register")
            owner.request(
                "/register",
                {
                    "csrf_token": token,
                    "email": "bench@example.com",
                    "name": "Bench",
                    "password": PASSWORD,
                    "confirm_password": PASSWORD,
                },
            )
            signed_in = owner.cookie_header()
            anonymous = Visitor(server.url, proxy)
            login_token = anonymous.token("/login")
            login = urllib.parse.urlencode(
                {"csrf_token": login_token, "email": "bench@example.com", "password": PASSWORD}
            )
            wrong = urllib.parse.urlencode(
                {
                    "csrf_token": login_token,
                    "email": "bench@example.com",
                    "password": "not the password at all",
                }
            )
            register = (
                "csrf_token="
                + urllib.parse.quote(login_token)
                + "&email=user-{n}%40example.com&name=Bench"
                + "&password="
                + urllib.parse.quote(PASSWORD)
                + "&confirm_password="
                + urllib.parse.quote(PASSWORD)
            )
            referer = (f"Referer: https://127.0.0.1:{server.port}/login",)
            referer_register = (f"Referer: https://127.0.0.1:{server.port}/register",)
            loads = {
                "login_page": wrk(server.url, "GET", "/login", 200, headers=headers),
                "account_page": wrk(
                    server.url, "GET", "/account", 200, cookie=signed_in, headers=headers
                ),
                "login_success": wrk(
                    server.url,
                    "POST",
                    "/login",
                    303,
                    login,
                    anonymous.cookie_header(),
                    headers=headers + referer,
                ),
                "login_failure": wrk(
                    server.url,
                    "POST",
                    "/login",
                    422,
                    wrong,
                    anonymous.cookie_header(),
                    headers=headers + referer,
                ),
                "register": wrk(
                    server.url,
                    "POST",
                    "/register",
                    303,
                    register,
                    anonymous.cookie_header(),
                    unique=True,
                    headers=headers + referer_register,
                ),
            }
            rss = server.worker_rss_mb()
        finally:
            server.stop()
    return {"loads": {k: asdict(v) for k, v in loads.items()}, "worker_rss_mb": rss}


def measure_hello() -> Load:
    """The bare Flask reference under the same gunicorn settings."""
    server = Gunicorn("benchmarks.hello:app", {"HEALTH": "/"})
    try:
        return wrk(server.url, "GET", "/", 200)
    finally:
        server.stop()


def one_hash_ms() -> float:
    """The production Argon2id hash, timed as the app runs it (one core)."""
    hasher = Argon2(time_cost=2, memory_cost=19456, parallelism=1)
    hasher.hash(PASSWORD)
    started = time.perf_counter()
    for _ in range(20):
        hasher.verify(hasher.hash(PASSWORD), PASSWORD)
    return (time.perf_counter() - started) / 40 * 1000


def main() -> int:
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk", file=sys.stderr)
        return 2
    started = time.monotonic()
    hello = measure_hello()
    apps = {kind: measure_app(kind) for kind in ("sqlite", "postgresql")}
    hash_ms = one_hash_ms()
    report = {
        "machine": {
            "cores": CORES,
            "cpu": platform.processor() or platform.machine(),
            "python": platform.python_version(),
            "system": platform.platform(),
        },
        "settings": {"seconds": SECONDS, "connections": CONNECTIONS, "workers": CORES},
        "hello": asdict(hello),
        "apps": apps,
        "argon2_ms": round(hash_ms, 1),
        "hash_bound_per_second": round(CORES / (hash_ms / 1000), 1),
        "hashing": hashing.as_dicts(hashing.measure()),
        "elapsed_seconds": round(time.monotonic() - started),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(report, indent=2) + "\n")
    table = markdown(report)
    (RESULTS / "latest.md").write_text(table)
    print(table)
    return 0


def markdown(report: dict) -> str:  # type: ignore[type-arg]
    """The report as Markdown tables, with each target and whether it was met."""
    hello_rps = report["hello"]["requests_per_second"]
    bound = report["hash_bound_per_second"]
    lines = [
        f"Machine: {report['machine']['cores']} cores, {report['machine']['cpu']}, "
        f"Python {report['machine']['python']}; gunicorn {report['settings']['workers']} sync "
        f"workers; wrk 1 thread, {report['settings']['connections']} connections, "
        f"{report['settings']['seconds']} s per scenario, on the same machine.",
        "",
        f"Bare Flask hello: **{hello_rps:.0f} req/s** (p50 {report['hello']['p50_ms']:.1f} ms, "
        f"p99 {report['hello']['p99_ms']:.1f} ms). One Argon2id hash (m=19456, t=2, p=1): "
        f"**{report['argon2_ms']} ms**, so the hash-bound limit is {report['settings']['workers']}"
        f" workers / {report['argon2_ms']} ms = **{bound:.0f} sign-ins/s**.",
        "",
        "| scenario | database | req/s | p50 ms | p99 ms | unexpected replies | target | met |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for kind, app in report["apps"].items():
        for name, load in app["loads"].items():
            rps = load["requests_per_second"]
            target, met = "", ""
            if name in ("login_page", "account_page"):
                ratio = rps / hello_rps
                target = f">= {TARGETS[name]:.0%} of hello"
                met = f"{ratio:.0%} {'yes' if ratio >= TARGETS[name] else 'no'}"
            elif name == "login_success":
                ratio = rps / bound
                target = ">= 90% of hash bound"
                met = f"{ratio:.0%} {'yes' if ratio >= TARGETS[name] else 'no'}"
            bad = load["unexpected"] + load["socket_errors"]
            lines.append(
                f"| {name.replace('_', ' ')} | {kind} | {rps:.0f} | {load['p50_ms']:.1f} "
                f"| {load['p99_ms']:.1f} | {bad} | {target} | {met} |"
            )
    lines += [
        "",
        "| database | resident memory per worker (MB) | target | met |",
        "|---|---|---|---|",
    ]
    for kind, app in report["apps"].items():
        worst = max(app["worker_rss_mb"])
        lines.append(
            f"| {kind} | {', '.join(map(str, app['worker_rss_mb']))} | <= 80 MB | "
            f"{'yes' if worst <= TARGETS['rss_mb'] else 'no'} |"
        )
    lines += [
        "",
        "| hashing scheme | ms per hash | sign-ins/s per core | OWASP |",
        "|---|---|---|---|",
    ]
    for row in report["hashing"]:
        lines.append(
            f"| {row['scheme']} | {row['ms_per_hash']} | "
            f"{row['sign_ins_per_core_per_second']} | {row['owasp']} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
