"""Deleting the account through the test client, CSRF on."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from bs4 import BeautifulSoup
from flask import Flask
from sqlalchemy import select

from tests.security.checklist_support import field_error, session_data
from tests.support import STRONG_PASSWORD, HttpsClient, copy_cookies
from webapp.extensions import db
from webapp.models import AccountToken, User, UserSession
from webapp.services.tokens import RESET, issue_token
from webapp.services.users import get_user_by_email

WRONG = "definitely not the password"

Users = Callable[[], list[User]]
Sessions = Callable[[], list[UserSession]]


@pytest.fixture
def stored_tokens(app: Flask) -> Callable[[], list[AccountToken]]:
    def read() -> list[AccountToken]:
        with app.app_context():
            return list(db.session.scalars(select(AccountToken)))

    return read


@pytest.fixture
def ann(client: HttpsClient, app: Flask) -> HttpsClient:
    """Ann, freshly signed up in ``client``, with an outstanding reset link."""
    client.register()
    with app.app_context():
        user = get_user_by_email("ann@example.com")
        assert user is not None
        issue_token(user, RESET, timedelta(hours=1))
    return client


def test_delete_page_explains_and_asks_for_the_password(ann: HttpsClient) -> None:
    response = ann.get("/account/delete")

    assert response.status_code == 200
    soup = BeautifulSoup(response.text, "html.parser")
    assert soup.h1 is not None
    assert soup.h1.get_text(strip=True) == "Delete your account"
    assert "cannot be undone" in soup.get_text()
    control = soup.find("input", attrs={"name": "password"})
    assert control is not None
    assert control["type"] == "password"
    assert control["autocomplete"] == "current-password"
    assert soup.find("label", attrs={"for": control["id"]}) is not None
    button = soup.find("button", string="Delete my account")
    assert button is not None
    assert "button--danger" in button["class"]


def test_wrong_password_keeps_everything(
    ann: HttpsClient,
    stored_users: Users,
    stored_sessions: Sessions,
    stored_tokens: Callable[[], list[AccountToken]],
) -> None:
    assert (len(stored_users()), len(stored_sessions()), len(stored_tokens())) == (1, 1, 1)

    response = ann.submit("/account/delete", {"password": WRONG})

    assert response.status_code == 422
    assert field_error(response.text, "password") == "Error: That is not your password."
    assert WRONG not in response.text
    assert (len(stored_users()), len(stored_sessions()), len(stored_tokens())) == (1, 1, 1)
    assert ann.get("/account").status_code == 200


def test_missing_password_is_reported(ann: HttpsClient, stored_users: Users) -> None:
    response = ann.submit("/account/delete", {})

    assert response.status_code == 422
    assert "Enter your password to delete your account." in field_error(response.text, "password")
    assert len(stored_users()) == 1


def test_right_password_deletes_the_account_and_signs_out_everywhere(
    ann: HttpsClient,
    app_client_factory: Callable[[], HttpsClient],
    stored_users: Users,
    stored_sessions: Sessions,
    stored_tokens: Callable[[], list[AccountToken]],
) -> None:
    bob = app_client_factory()
    bob.register(email="bob@example.com", name="Bob")
    other = app_client_factory()
    other.login(remember="y")
    copied_session, copied_remember = app_client_factory(), app_client_factory()
    copy_cookies(ann, copied_session, "__Host-session")
    copy_cookies(other, copied_remember, "__Host-remember")
    assert copied_session.get("/account").status_code == 200
    assert copied_remember.get("/account").status_code == 200
    assert len(stored_users()) == 2
    assert len(stored_sessions()) == 3  # ann, bob, other (its remember cookie is its token)
    assert len(stored_tokens()) == 1

    response = ann.submit("/account/delete", {"password": STRONG_PASSWORD})

    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    home = ann.get("/")
    assert "Your account has been deleted." in home.text
    assert 'href="/login"' in home.text  # shown as signed out
    assert [user.email for user in stored_users()] == ["bob@example.com"]
    bobs = {user.id for user in stored_users()}
    assert {row.user_id for row in stored_sessions()} == bobs
    assert stored_tokens() == []
    for client in (ann, other, copied_session, copied_remember):
        assert client.get("/account").status_code == 302
    assert bob.get("/account").status_code == 200
    assert app_client_factory().login().status_code == 422


def test_deleting_removes_the_remember_cookie_and_the_session_data(
    client: HttpsClient, app: Flask, app_client_factory: Callable[[], HttpsClient]
) -> None:
    app_client_factory().register()
    client.login(remember="y")
    assert client.get_cookie("__Host-remember") is not None

    response = client.submit("/account/delete", {"password": STRONG_PASSWORD})

    assert response.status_code == 303
    assert client.get_cookie("__Host-remember") is None
    cookie = client.get_cookie("__Host-session")
    assert cookie is not None
    # Nothing of the signed-in session survives, not even its CSRF seed: only the message.
    assert set(session_data(app, cookie.value)) <= {"_flashes", "_remember"}


def test_the_address_can_sign_up_again(ann: HttpsClient, stored_users: Users) -> None:
    ann.submit("/account/delete", {"password": STRONG_PASSWORD})

    again = ann.register()

    assert again.status_code == 303
    assert len(stored_users()) == 1


def test_remembered_session_confirms_before_deleting(
    app_client_factory: Callable[[], HttpsClient], stored_users: Users
) -> None:
    first = app_client_factory()
    first.register()
    first.logout()
    first.login(remember="y")
    restored = app_client_factory()
    copy_cookies(first, restored, "__Host-remember")

    page = restored.get("/account/delete")

    assert page.status_code == 302
    location = urlsplit(page.headers["Location"])
    assert location.path == "/account/confirm"
    assert parse_qs(location.query) == {"next": ["/account/delete"]}
    assert len(stored_users()) == 1
    confirmed = restored.submit(page.headers["Location"], {"password": STRONG_PASSWORD})
    assert confirmed.headers["Location"] == "/account/delete"
    assert restored.submit("/account/delete", {"password": STRONG_PASSWORD}).status_code == 303
    assert stored_users() == []
