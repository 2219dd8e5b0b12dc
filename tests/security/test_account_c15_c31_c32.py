"""Password change and re-authentication (checklist items 15, 31 and 32)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from flask import Flask
from werkzeug.test import TestResponse

from tests.security.checklist_support import (
    T0,
    field_error,
    location_path,
    stored_sessions,
    stored_users,
)
from tests.support import (
    STRONG_PASSWORD,
    HttpsClient,
    copy_cookies,
    csrf_token_in,
    restart_browser,
)
from webapp.extensions import jobs

NEW_PASSWORD = "velvet otter climbs the lighthouse"
WRONG = "definitely not the password"


@pytest.fixture
def clock() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def _hash(app: Flask) -> str:
    (user,) = stored_users(app)
    return user.password_hash


def _change(client: HttpsClient, current: str, new: str = NEW_PASSWORD) -> TestResponse:
    data = {"current_password": current, "new_password": new, "confirm_password": new}
    response = client.submit("/account/password", data)
    jobs.wait()  # the notice job shares the in-memory database's connection
    return response


def _restored(
    app_client_factory: Callable[[], HttpsClient],
) -> tuple[HttpsClient, HttpsClient]:
    """Ann signed in with "keep me signed in", and a browser restarted with only that cookie."""
    first = app_client_factory()
    first.register()
    first.logout()
    assert first.login(remember="y").status_code == 303
    restored = app_client_factory()
    copy_cookies(first, restored, "__Host-remember")
    assert restored.get("/account").status_code == 200
    return first, restored


# --- 15: the current password, the same policy, the throttle ---------------------------------


def test_c15_password_change_requires_the_current_password(client: HttpsClient, app: Flask) -> None:
    client.register()
    before = _hash(app)

    missing = client.submit(
        "/account/password", {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
    )
    wrong = _change(client, WRONG)

    assert missing.status_code == wrong.status_code == 422
    assert field_error(missing.text, "current_password") == "Error: Enter your current password."
    assert field_error(wrong.text, "current_password") == (
        "Error: That is not your current password."
    )
    assert _hash(app) == before
    assert client.login(password=NEW_PASSWORD).status_code == 422


@pytest.mark.parametrize(
    ("new", "reason"),
    [
        ("fourteen chars", "Use at least 15 characters."),
        ("1qaz2wsx3edc4rfv", "commonly used passwords"),
        ("ann@example.comann@example.com", "your email address"),
        ("abcdefghijklmnopq", "simple sequence"),
    ],
)
def test_c15_password_change_applies_the_same_policy(
    client: HttpsClient, app: Flask, new: str, reason: str
) -> None:
    client.register()
    before = _hash(app)

    response = _change(client, STRONG_PASSWORD, new)

    assert response.status_code == 422
    assert reason in field_error(response.text, "new_password")
    assert _hash(app) == before


def test_c15_wrong_current_passwords_hit_the_account_throttle(
    client: HttpsClient,
    app: Flask,
    app_client_factory: Callable[[], HttpsClient],
    clock: time_machine.Coordinates,
) -> None:
    client.register()
    before = _hash(app)
    # Well under the per-address limit (20 a minute): only the per-account counter acts.
    statuses = [_change(client, WRONG).status_code for _ in range(5)]
    assert statuses == [422] * 5

    throttled = _change(client, STRONG_PASSWORD)

    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "30"
    assert "30 seconds" in throttled.text
    assert _hash(app) == before
    # The same counter, this browser's own (its device cookie), guards signing in here
    # (item 18); other browsers are counted apart from it.
    assert client.login().status_code == 429
    assert app_client_factory().login().status_code == 303
    clock.shift(31)
    assert _change(client, STRONG_PASSWORD).status_code == 303
    assert _hash(app) != before


# --- 31: a password change ends the other sessions --------------------------------------------


def test_c31_password_change_ends_other_sessions(
    client: HttpsClient, app: Flask, app_client_factory: Callable[[], HttpsClient]
) -> None:
    client.register()
    browser_b = app_client_factory()
    assert browser_b.login(remember="y").status_code == 303
    b_session, b_remember = app_client_factory(), app_client_factory()
    copy_cookies(browser_b, b_session, "__Host-session")
    copy_cookies(browser_b, b_remember, "__Host-remember")
    assert b_session.get("/account").status_code == 200
    assert b_remember.get("/account").status_code == 200

    assert _change(client, STRONG_PASSWORD).status_code == 303

    assert client.get("/account").status_code == 200
    for replay in (browser_b, b_session, b_remember):
        response = replay.get("/account")
        assert response.status_code == 302
        assert location_path(response) == "/login"
    a_row, b_row = stored_sessions(app)
    assert a_row.revoked_at is None
    assert b_row.revoked_at is not None


def test_c31_password_change_from_a_remembered_session_renews_its_remember_cookie(
    app: Flask, app_client_factory: Callable[[], HttpsClient]
) -> None:
    first, restored = _restored(app_client_factory)
    restored.submit("/account/confirm", {"password": STRONG_PASSWORD})

    assert _change(restored, STRONG_PASSWORD).status_code == 303

    assert restored.get("/account").status_code == 200
    assert restart_browser(restored).get("/account").status_code == 200  # still remembered
    # The same session under a new token: the cookies from before the change are dead.
    assert first.get("/account").status_code == 302


# --- 32: sensitive pages need a fresh sign-in -------------------------------------------------


@pytest.mark.parametrize("path", ["/account/password", "/account/delete"])
def test_c32_remembered_session_must_confirm_before_sensitive_pages(
    app_client_factory: Callable[[], HttpsClient], path: str
) -> None:
    _first, restored = _restored(app_client_factory)

    response = restored.get(path)

    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/account/confirm"
    assert parse_qs(location.query) == {"next": [path]}
    confirmed = restored.submit(response.headers["Location"], {"password": STRONG_PASSWORD})
    assert confirmed.status_code == 303
    assert confirmed.headers["Location"] == path
    assert restored.get(path).status_code == 200


def test_c32_remembered_session_cannot_post_a_change_without_confirming(
    app: Flask, app_client_factory: Callable[[], HttpsClient]
) -> None:
    _first, restored = _restored(app_client_factory)
    before = _hash(app)
    # The forms are not shown to a stale session; a token from any page of it will do.
    token = csrf_token_in(restored.get("/account").text)

    changed = restored.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current_password": STRONG_PASSWORD,
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
        },
    )
    deleted = restored.post(
        "/account/delete", data={"csrf_token": token, "password": STRONG_PASSWORD}
    )

    assert changed.status_code == deleted.status_code == 302
    assert location_path(changed) == location_path(deleted) == "/account/confirm"
    assert _hash(app) == before
    assert len(stored_users(app)) == 1


def test_c32_confirm_refuses_a_wrong_password(
    app: Flask, app_client_factory: Callable[[], HttpsClient]
) -> None:
    _first, restored = _restored(app_client_factory)

    response = restored.submit("/account/confirm?next=/account/password", {"password": WRONG})

    assert response.status_code == 422
    assert field_error(response.text, "password") == "Error: That is not your password."
    assert restored.get("/account/password").status_code == 302


def test_c32_a_fresh_sign_in_goes_straight_in(
    client: HttpsClient, app_client_factory: Callable[[], HttpsClient]
) -> None:
    app_client_factory().register()
    assert client.login(remember="y").status_code == 303

    for path in ("/account/password", "/account/delete"):
        assert client.get(path).status_code == 200, path
