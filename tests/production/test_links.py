"""Emailed links as deployed: `gunicorn wsgi:app` with 2 workers on PostgreSQL and Redis, over
https with production settings, mail over SMTP.

Several workers are several processes, so only the database can make a link single-use:
these tests submit one link many times at once and count what changed and what was mailed.
"""

from __future__ import annotations

from functools import partial
from urllib.parse import urlsplit

import pytest

from tests.production.servers import Gunicorn, StartServer, simultaneously
from tests.smtp import Outbox, link_in
from tests.support import STRONG_PASSWORD

pytestmark = pytest.mark.gunicorn

WORKERS = 2
RACERS = 8
RESET_SUBJECT = "Reset your password"
CHANGED_SUBJECT = "Your password was changed"


@pytest.fixture
def mailing_server(
    start_server: StartServer, cluster_env: dict[str, str], outbox: Outbox
) -> Gunicorn:
    """The site with 2 workers, sending its mail to ``outbox``."""
    return start_server({**cluster_env, "MAIL_PORT": str(outbox.port)}, WORKERS)


def test_c48_one_reset_link_posted_at_once_to_two_workers_changes_the_password_once(
    mailing_server: Gunicorn, outbox: Outbox
) -> None:
    email = "racing-reset@example.com"
    signup = mailing_server.browser().post_form(
        "/register",
        {
            "email": email,
            "name": "Ann",
            "password": STRONG_PASSWORD,
            "confirm_password": STRONG_PASSWORD,
        },
    )
    assert signup.status == 303
    asked = mailing_server.browser().post_form("/password/forgot", {"email": email})
    assert asked.status == 303
    [message] = [m for m in outbox.wait_for(1) if m["Subject"] == RESET_SUBJECT]
    link = urlsplit(link_in(message)).path
    browsers = [mailing_server.browser() for _ in range(RACERS)]
    forms = []
    for i, browser in enumerate(browsers):
        assert browser.get(link).status == 303  # the token moves into this browser's session
        password = f"passphrase number {i} for ann"
        token = browser.csrf_token("/password/reset")
        forms.append({"csrf_token": token, "password": password, "confirm_password": password})

    replies = simultaneously(
        [
            partial(browser.post, "/password/reset", form)
            for browser, form in zip(browsers, forms, strict=True)
        ]
    )

    statuses = [reply.status for reply in replies]
    assert sorted(statuses) == [303] + [400] * (RACERS - 1)
    winner = forms[statuses.index(303)]["password"]
    signed_in = mailing_server.browser().post_form("/login", {"email": email, "password": winner})
    assert signed_in.status == 303
    outbox.wait_for(2)  # the reset link and the winner's notice
    mailing_server.stop()  # each worker finishes its queued mail before it exits
    assert [m["Subject"] for m in outbox.to(email)] == [RESET_SUBJECT, CHANGED_SUBJECT]
