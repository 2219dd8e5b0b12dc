"""The Flask-Login glue (webapp.identity) on a real database: what a sign-in ends."""

from __future__ import annotations

import pytest
from flask import Flask, session
from flask_login.utils import encode_cookie
from sqlalchemy import select

from tests.integration.conftest import FreshRead
from tests.support import STRONG_PASSWORD
from webapp import identity
from webapp.models import UserSession
from webapp.services import sessions, users

pytestmark = pytest.mark.usefixtures("db_context")


def _revoked(fresh_read: FreshRead, token: str) -> bool:
    (row,) = fresh_read(
        select(UserSession).where(UserSession.token_hash == sessions.hash_token(token))
    )
    return row.revoked_at is not None


@pytest.mark.parametrize("carried_in", ["session cookie", "remember cookie"])
def test_sign_in_ends_the_previous_session_of_this_browser(
    db_app: Flask, fresh_read: FreshRead, carried_in: str
) -> None:
    """Proves Ann's row is revoked in the database when Bob signs in on her browser."""
    ann = users.register_user("ann@example.com", "Ann", STRONG_PASSWORD)
    bob = users.register_user("bob@example.com", "Bob", STRONG_PASSWORD)
    anns = sessions.open_session(ann, remember=True, user_agent="UA", ip="192.0.2.1")
    anns_elsewhere = sessions.open_session(ann, remember=False, user_agent="UA", ip="192.0.2.2")
    cookie = f"__Host-remember={encode_cookie(anns)}" if carried_in == "remember cookie" else ""

    with db_app.test_request_context("/login", method="POST", headers={"Cookie": cookie}):
        if carried_in == "session cookie":
            session["_user_id"] = anns
        identity.sign_in(bob, remember=False)
        bobs = bob.session_token
        removes_remember_cookie = session.get("_remember") == "clear"

    assert _revoked(fresh_read, anns)
    assert not _revoked(fresh_read, anns_elsewhere)  # only this browser's session ends
    assert bobs is not None
    assert not _revoked(fresh_read, bobs)
    assert removes_remember_cookie is (carried_in == "remember cookie")


def test_a_forged_remember_cookie_ends_nothing(db_app: Flask, fresh_read: FreshRead) -> None:
    """Proves only a cookie this app signed names a session to end."""
    ann = users.register_user("ann@example.com", "Ann", STRONG_PASSWORD)
    bob = users.register_user("bob@example.com", "Bob", STRONG_PASSWORD)
    anns = sessions.open_session(ann, remember=True, user_agent="UA", ip="192.0.2.1")
    forged = f"{anns}|{'0' * 128}"

    with db_app.test_request_context(
        "/login", method="POST", headers={"Cookie": f"__Host-remember={forged}"}
    ):
        identity.sign_in(bob, remember=False)

    assert not _revoked(fresh_read, anns)
