"""Deployment defaults for ``gunicorn wsgi:app`` (gunicorn reads this file from the working folder).

Every value can be tuned through the environment; command-line flags still override this file.
"""

from __future__ import annotations

import importlib.util
import multiprocessing
import os
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

from gunicorn.arbiter import Arbiter
from gunicorn.glogging import Logger

CORES = multiprocessing.cpu_count()


def _env(name: str, default: str) -> str:
    """A variable's value; empty counts as unset, as in webapp/config.py."""
    return os.environ.get(name, "").strip() or default


def _env_int(name: str, default: int) -> int:
    return int(_env(name, str(default)))


def _webapp_module(name: str) -> ModuleType:
    """``webapp/<name>.py`` loaded from its file, without importing the ``webapp`` package.

    This file runs in gunicorn's master process, which workers are forked from: had it imported
    the app, every worker would inherit that copy and a HUP reload would keep the old code.
    """
    path = Path(__file__).resolve().parent / "webapp" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"gunicorn_conf_webapp_{name}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


webapp_config = _webapp_module("config")
webapp_redaction = _webapp_module("redaction")


# Loopback by default, so a bare `gunicorn wsgi:app` (and `make run`) is not reachable from the
# network; a deployment sets e.g. GUNICORN_BIND=0.0.0.0:8000 behind its proxy.
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")

# Sync workers are processes: one request each at a time. A login is CPU-bound (Argon2id, about
# 20 ms and 19 MiB per hash), so about one worker per core; never fewer than 1, and never more
# than gunicorn's 2 * cores + 1 ceiling (more only adds memory and context switches).
# Rate-limit counters in memory:// are each process's own, so several workers would multiply
# every limit: on memory:// the default is one worker, and production refuses more (on_starting).
STORAGE_URI = _env("RATELIMIT_STORAGE_URI", "memory://")
DEFAULT_WORKERS = CORES if webapp_config.shares_counters(STORAGE_URI) else 1
workers = min(max(_env_int("WEB_CONCURRENCY", DEFAULT_WORKERS), 1), 2 * CORES + 1)


def on_starting(server: Arbiter) -> None:
    """Refuse, before any worker starts, a worker count the rate-limit storage cannot serve.

    Checked here rather than above: a command-line ``--workers`` overrides this file.
    """
    webapp_config.check_workers(
        server.cfg.workers,
        STORAGE_URI,
        _env("APP_ENV", "production"),
        throttled=webapp_config.throttling_enabled(),
    )


# More than 1 switches gunicorn to the gthread worker (threads sharing one process).
threads = max(_env_int("GUNICORN_THREADS", 1), 1)

# A worker silent this long is killed and replaced; no page here takes more than a fraction of it.
timeout = 30
# On SIGTERM (deploys, `docker stop`) workers get this long to finish requests in flight.
graceful_timeout = 30
# Seconds an idle keep-alive connection stays open (gthread only; sync workers close each one).
keepalive = 5

# Access log to stdout and errors to stderr: the process supervisor collects both.
accesslog = "-"
errorlog = "-"


# The emailed links carry one-time tokens in their path; an access log is read by more people
# than should be able to reset a password, so the token is masked there.
class RedactingLogger(Logger):
    """gunicorn's logger, with the tokens of emailed links masked in access log lines."""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: timedelta) -> dict:
        """The usual log atoms (request line, path, query, referrer...) with tokens masked."""
        atoms = super().atoms(resp, req, environ, request_time)
        return {
            key: webapp_redaction.mask_tokens(value) if isinstance(value, str) else value
            for key, value in atoms.items()
        }


logger_class = RedactingLogger

# Proxy headers: the application alone interprets X-Forwarded-*. create_app wraps the app in
# Werkzeug's ProxyFix with TRUSTED_PROXIES hops (none by default), which counts hops from the
# right of X-Forwarded-For/-Proto/-Host. Gunicorn would otherwise act on the same headers by
# itself: from any peer in forwarded_allow_ips (default "127.0.0.1,::1", or the
# FORWARDED_ALLOW_IPS variable) it sets wsgi.url_scheme to "https" when X-Forwarded-Proto says
# so (secure_scheme_headers), and it lets SCRIPT_NAME/PATH_INFO request headers rewrite the
# WSGI environ (forwarder_headers). With TRUSTED_PROXIES=0 that would let a local client
# claim https, and with a proxy it would be a second, differently configured opinion about the
# same headers. So gunicorn trusts no peer (an empty list, not "*") and has no scheme or
# forwarder headers at all (the last two also cover Unix-socket peers, which gunicorn always
# trusts). The X-Forwarded-* headers still reach the app untouched as HTTP_X_FORWARDED_*.
# Gunicorn never rewrites REMOTE_ADDR from X-Forwarded-For; ProxyFix does that when configured.
forwarded_allow_ips = ""
secure_scheme_headers: dict[str, str] = {}
forwarder_headers = ""

# Request-size limits, refused by gunicorn before the app sees them: the longest URL here is
# short, so the default 4094-byte request line is ample; the forms need few headers, so 50
# fields (gunicorn allows 100) is plenty for any browser and proxy; 8190 bytes per header field
# fits large cookies. The body is capped by the app (MAX_CONTENT_LENGTH, 64 KiB).
limit_request_line = 4094
limit_request_fields = 50
limit_request_field_size = 8190

# Each worker builds its own app after the fork: no database connection or rate-limit storage
# client is inherited by several processes, and a HUP reload picks up new code.
preload_app = False

# gunicorn 27's control socket sits at one path per user ($HOME/.gunicorn/gunicorn.ctl), shared
# by every instance on the machine; nothing here uses it, so it is off.
control_socket_disable = True
