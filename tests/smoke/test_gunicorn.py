"""The deployed shape end to end: `flask db upgrade`, then `gunicorn wsgi:app`, over real HTTPS.

Production settings (``APP_ENV=production``: Secure ``__Host-`` cookies, https insisted on,
production Argon2 cost, gunicorn.conf.py from the repository root), the run's certificate for
localhost and its SMTP catcher. The server and the browser come from tests/production/servers.py.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.production.servers import (
    Certificate,
    Gunicorn,
    Reply,
    production_env,
    upgrade_database,
)
from tests.smtp import Outbox
from tests.support import STRONG_PASSWORD

pytestmark = pytest.mark.gunicorn


@pytest.fixture
def server(
    tmp_path: Path, redis_url: str, tls_certificate: Certificate, mail_catcher: Outbox
) -> Iterator[Gunicorn]:
    """gunicorn with 2 workers on a temporary SQLite file, migrated as a deployment would.

    Several production workers need shared counters: Redis (production refuses memory://).
    """
    env = production_env(
        database_url=f"sqlite:///{tmp_path / 'smoke.db'}",
        mail_port=mail_catcher.port,
        redis_url=redis_url,
    )
    upgrade_database(env)
    with Gunicorn(
        env, workers=2, log_path=tmp_path / "server.log", certificate=tls_certificate
    ) as running:
        yield running


def assert_redirect(reply: Reply, base_url: str, status: int, path: str) -> dict[str, list[str]]:
    """``reply`` redirects with ``status`` to ``path`` on this server; returns its query."""
    assert reply.status == status, reply
    target = urllib.parse.urlsplit(reply.location)
    assert target.netloc in ("", urllib.parse.urlsplit(base_url).netloc), reply.location
    assert target.path == path, reply.location
    return urllib.parse.parse_qs(target.query)


def test_sign_up_out_and_in_through_gunicorn(server: Gunicorn) -> None:
    base_url = server.url
    browser = server.browser()
    email, name = "smoke@example.com", "Smoke Tester"

    registered = browser.post_form(
        "/register",
        {
            "email": email,
            "name": name,
            "password": STRONG_PASSWORD,
            "confirm_password": STRONG_PASSWORD,
        },
    )
    assert_redirect(registered, base_url, 303, "/account")
    assert browser.cookie_names() == {"__Host-session", "__Host-device"}

    account = browser.get("/account")
    assert account.status == 200
    assert name in account.body
    assert email in account.body

    signed_out = browser.post_form("/logout", {}, form_page="/account")
    assert assert_redirect(signed_out, base_url, 303, "/login") == {"signed_out": ["1"]}

    query = assert_redirect(browser.get("/account"), base_url, 302, "/login")
    assert query["next"] == ["/account"]

    signed_in = browser.post_form("/login", {"email": email, "password": STRONG_PASSWORD})
    assert_redirect(signed_in, base_url, 303, "/account")

    account = browser.get("/account")
    assert account.status == 200
    assert name in account.body

    # The access log exists only through gunicorn.conf.py (accesslog = "-"): it was picked up.
    assert '"POST /login HTTP/1.1" 303' in server.log()
