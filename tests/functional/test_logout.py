"""Sign-out ends the session on the server: a copied cookie no longer works."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from flask import Flask

from tests.support import HttpsClient, copy_cookies
from webapp.models import UserSession
from webapp.services import users


def test_c28_get_logout_is_not_allowed_and_keeps_you_signed_in(client: HttpsClient) -> None:
    client.register()

    response = client.get("/logout")

    assert response.status_code == 405
    assert "Method not allowed" in response.text
    assert client.get("/account").status_code == 200


def test_c28_logout_without_a_token_is_refused(client: HttpsClient) -> None:
    client.register()

    response = client.post("/logout")

    assert response.status_code == 400
    assert "The form expired, reload and try again." in response.text
    assert client.get("/account").status_code == 200


def test_logout_redirects_to_login_and_the_account_needs_sign_in_again(
    client: HttpsClient, stored_sessions: Callable[[], list[UserSession]]
) -> None:
    client.register()

    response = client.logout()

    assert response.status_code == 303
    assert urlsplit(response.headers["Location"]).path == "/login"
    # Said by the page the redirect names, not by a flash in a new session cookie.
    assert "You have been signed out." in client.get(response.headers["Location"]).text
    assert "You have been signed out." not in client.get("/login").text
    again = client.get("/account")
    assert again.status_code == 302
    assert urlsplit(again.headers["Location"]).path == "/login"
    [row] = stored_sessions()
    assert row.revoked_at is not None


def test_c27_a_copied_session_cookie_stops_working_after_logout(
    client: HttpsClient, app_client_factory: Callable[[], HttpsClient]
) -> None:
    client.register()
    thief = app_client_factory()
    copy_cookies(client, thief, "__Host-session")
    assert thief.get("/account").status_code == 200

    client.logout()

    assert thief.get("/account").status_code == 302


def test_c24_c27_a_copied_remember_cookie_stops_working_after_logout(
    client: HttpsClient, app_client_factory: Callable[[], HttpsClient]
) -> None:
    app_client_factory().register()
    client.login(remember="y")
    restarted = app_client_factory()  # a browser restart keeps only the remember cookie
    copy_cookies(client, restarted, "__Host-remember")
    assert restarted.get("/account").status_code == 200
    replay = app_client_factory()
    copy_cookies(client, replay, "__Host-remember")

    client.logout()

    assert replay.get("/account").status_code == 302
    assert restarted.get("/account").status_code == 302


def test_logout_deletes_the_remember_cookie(client: HttpsClient) -> None:
    client.register()
    client.logout()
    client.login(remember="y")
    assert client.get_cookie("__Host-remember") is not None

    client.logout()

    assert client.get_cookie("__Host-remember") is None


def test_c31_deactivation_ends_open_sessions(client: HttpsClient, app: Flask) -> None:
    client.register()
    assert client.get("/account").status_code == 200

    with app.app_context():
        users.deactivate_user("ann@example.com")

    assert client.get("/account").status_code == 302


def test_home_page_shows_the_right_links(client: HttpsClient) -> None:
    signed_out = client.get("/").text
    assert 'href="/register"' in signed_out
    assert 'href="/login"' in signed_out

    client.register(name="Ann")
    signed_in = client.get("/").text

    assert 'href="/account"' in signed_in
    assert "Sign out" in signed_in
    assert 'href="/register"' not in signed_in
