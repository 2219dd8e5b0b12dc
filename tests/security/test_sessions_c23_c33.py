"""Session cookies, tokens and timeouts through the test client (checklist items c23-c33)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from flask import Flask
from pytest_mock import MockerFixture
from werkzeug.test import TestResponse

from tests.security.checklist_support import (
    DEVICE_COOKIE,
    SESSION_COOKIE,
    T0,
    location_path,
    session_data,
    stored_sessions,
)
from tests.support import (
    STRONG_PASSWORD,
    HttpsClient,
    is_deleted,
    make_app,
    new_client,
    set_cookies,
)
from webapp.services import sessions, users
from webapp.services.tokens import RESET, issue_token

TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32): 256 bits


class RecordingClient(HttpsClient):
    """An HTTPS client that keeps every response it receives."""

    responses: list[TestResponse]

    def open(self, *args: Any, **kwargs: Any) -> TestResponse:
        response = super().open(*args, **kwargs)
        self.responses.append(response)
        return response


# --- c23: session cookie flags -----------------------------------------------------------------


SESSION_COOKIE_MOMENTS: dict[str, Callable[[HttpsClient], TestResponse]] = {
    "anonymous GET /login": lambda c: c.get("/login"),
    "anonymous GET /register": lambda c: c.get("/register"),
    "signed in by POST /register": lambda c: c.register(),
}


@pytest.mark.parametrize("moment", list(SESSION_COOKIE_MOMENTS))
def test_c23_the_session_cookie_is_host_only_secure_httponly_and_lax(
    client: HttpsClient, app: Flask, moment: str
) -> None:
    response = SESSION_COOKIE_MOMENTS[moment](client)

    cookies = set_cookies(response)
    # Signing in also gives the browser its device cookie (item 19, flags checked there).
    device = {DEVICE_COOKIE} if moment.startswith("signed in") else set()
    assert set(cookies) == {SESSION_COOKIE} | device
    cookie = cookies[SESSION_COOKIE]
    assert cookie["secure"] is True
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["path"] == "/"
    assert cookie["domain"] == ""
    if moment.startswith("anonymous"):
        assert "csrf_token" in session_data(app, cookie.value)  # it carries the CSRF seed


REMEMBER_COOKIE = "__Host-remember"
COOKIE_ATTRIBUTES = ("secure", "httponly", "samesite", "path", "domain")
NEW_PASSWORD = "a brand new passphrase for ann"


def _reset_in_this_browser(client: HttpsClient) -> TestResponse:
    app = client.application
    with app.app_context():
        user = users.get_user_by_email("ann@example.com")
        assert user is not None
        token = issue_token(user, RESET, timedelta(hours=1))
    assert client.get(f"/password/reset/{token}").status_code == 303
    data = {"password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
    return client.submit("/password/reset", data)


COOKIE_DELETING_MOMENTS: dict[str, Callable[[HttpsClient], TestResponse]] = {
    "sign-out": lambda c: c.logout(),
    "account deletion": lambda c: c.submit("/account/delete", {"password": STRONG_PASSWORD}),
    "reset in a signed-in browser": _reset_in_this_browser,
}


@pytest.mark.parametrize("moment", list(COOKIE_DELETING_MOMENTS))
def test_c23_every_cookie_deletion_repeats_the_attributes_the_cookie_was_set_with(
    client: HttpsClient, app_client_factory: Callable[[], HttpsClient], moment: str
) -> None:
    """A browser ignores the deletion of a __Host- cookie without Secure and Path=/."""
    app_client_factory().register()
    set_with = set_cookies(client.login(remember="y"))
    assert {SESSION_COOKIE, REMEMBER_COOKIE} <= set(set_with)

    response = COOKIE_DELETING_MOMENTS[moment](client)

    assert response.status_code == 303
    deleted = {name: c for name, c in set_cookies(response).items() if is_deleted(c)}
    assert REMEMBER_COOKIE in deleted
    for name, deletion in deleted.items():
        assert {key: deletion[key] for key in COOKIE_ATTRIBUTES} == {
            key: set_with[name][key] for key in COOKIE_ATTRIBUTES
        }, name


# --- c26: strong tokens, never in URLs -----------------------------------------------------------


def test_c26_session_tokens_are_strong_and_never_in_a_location_or_page(
    app: Flask, mocker: MockerFixture
) -> None:
    opened = mocker.spy(sessions, "open_session")
    app.test_client_class = RecordingClient
    client = app.test_client()
    assert isinstance(client, RecordingClient)
    client.responses = []

    assert client.register().status_code == 303
    client.get("/account")
    client.get("/")
    assert client.logout().status_code == 303
    assert client.login().status_code == 303
    client.get("/account")
    client.get("/login?next=/account")
    assert client.logout().status_code == 303
    client.get("/login")

    tokens = opened.spy_return_list
    assert len(tokens) == 2
    assert all(TOKEN.fullmatch(token) for token in tokens)
    assert len(set(tokens)) == 2
    redirects = [r.headers["Location"] for r in client.responses if "Location" in r.headers]
    assert len(redirects) >= 4
    for location in redirects:
        assert "token" not in location.lower(), location
        assert not any(token in location for token in tokens), location
    for response in client.responses:
        body = response.get_data(as_text=True)
        assert not any(token in body for token in tokens)


@pytest.mark.parametrize("parameter", ["session", SESSION_COOKIE, "remember_token", "_user_id"])
@pytest.mark.parametrize("value", ["token", "cookie"])
def test_c26_a_session_token_in_the_query_string_is_ignored(
    client: HttpsClient,
    app_client_factory: Callable[[], HttpsClient],
    mocker: MockerFixture,
    parameter: str,
    value: str,
) -> None:
    opened = mocker.spy(sessions, "open_session")
    owner = app_client_factory()
    assert owner.register().status_code == 303
    assert owner.get("/account").status_code == 200  # the token is live
    cookie = owner.get_cookie(SESSION_COOKIE)
    assert cookie is not None
    secret = opened.spy_return if value == "token" else cookie.value

    response = client.get("/account", query_string={parameter: secret})

    assert response.status_code == 302
    assert location_path(response) == "/login"
    assert client.get("/account").status_code == 302


# --- c29: idle timeout ---------------------------------------------------------------------------


def test_c29_thirty_idle_minutes_sign_the_session_out_on_the_server() -> None:
    app = make_app()
    with time_machine.travel(T0, tick=False) as traveller:
        client = new_client(app)
        assert client.register().status_code == 303
        traveller.shift(timedelta(minutes=29))
        assert client.get("/account").status_code == 200
        [row] = stored_sessions(app)
        assert row.revoked_at is None

        traveller.shift(timedelta(minutes=31))
        response = client.get("/account")

    assert response.status_code == 302
    assert location_path(response) == "/login"
    [row] = stored_sessions(app)
    assert row.revoked_at == T0 + timedelta(minutes=60)


# --- c30: absolute timeout -----------------------------------------------------------------------


def test_c30_a_busy_session_ends_at_12_hours() -> None:
    app = make_app()
    step = timedelta(minutes=10)
    with time_machine.travel(T0, tick=False) as traveller:
        client = new_client(app)
        assert client.register().status_code == 303
        elapsed = timedelta(0)
        while elapsed < timedelta(hours=11, minutes=50):
            traveller.shift(step)
            elapsed += step
            assert client.get("/account").status_code == 200, f"signed out after {elapsed}"

        traveller.shift(step)
        response = client.get("/account")

    assert response.status_code == 302
    assert location_path(response) == "/login"
    [row] = stored_sessions(app)
    assert row.revoked_at == T0 + timedelta(hours=12)


# --- c33: no personal data in the cookie ---------------------------------------------------------

ALLOWED_SESSION_KEYS = {"_user_id", "_fresh", "_id", "csrf_token", "_remember", "_flashes"}


def test_c33_the_session_cookie_holds_no_personal_data(
    client: HttpsClient, app: Flask, app_client_factory: Callable[[], HttpsClient]
) -> None:
    email, name = "zelda.quartermaine@example.com", "Zelda Quartermaine"
    seen: dict[str, dict[str, Any]] = {}

    def remember(moment: str, browser: HttpsClient) -> None:
        cookie = browser.get_cookie(SESSION_COOKIE)
        assert cookie is not None, moment
        seen[moment] = session_data(app, cookie.value)

    assert client.register(email=email, name=name).status_code == 303
    remember("after sign-up", client)
    client.get("/account")
    remember("on /account", client)
    other = app_client_factory()
    assert other.login(email=email, remember="y").status_code == 303
    remember("after sign-in with remember-me", other)

    for moment, data in seen.items():
        assert set(data) <= ALLOWED_SESSION_KEYS, (moment, sorted(data))
        dumped = json.dumps(data, default=str).lower()
        for personal in ("zelda", "quartermaine", "example.com"):
            assert personal not in dumped, moment
        assert TOKEN.fullmatch(data["_user_id"]), moment  # an opaque session token, not the id
