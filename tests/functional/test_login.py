"""Sign-in through the test client, CSRF on."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support import (
    STRONG_PASSWORD,
    HttpsClient,
    copy_cookies,
    csrf_token_in,
    restart_browser,
    set_cookies,
)
from webapp.models import UserSession

GENERIC = "Incorrect email address or password."


@pytest.fixture
def ann(client: HttpsClient, app_client_factory: Callable[[], HttpsClient]) -> HttpsClient:
    """A registered account (made by another browser) and a fresh browser to sign in with."""
    app_client_factory().register()
    return client


def _comparable(html: str) -> str:
    """The page without its CSRF token and the echoed address, which differ by design."""
    html = re.sub(r'name="csrf_token"[^>]*value="[^"]+"', "", html)
    return re.sub(r'(id="email"[^>]*value=")[^"]*"', r'\1"', html)


def test_valid_login_goes_to_the_account(ann: HttpsClient) -> None:
    response = ann.login(email="ANN@example.com")

    assert response.status_code == 303
    assert response.headers["Location"] == "/account"
    assert "Ann" in ann.get("/account").text


def test_c16_unknown_email_and_wrong_password_look_the_same(
    ann: HttpsClient, app_client_factory: Callable[[], HttpsClient]
) -> None:
    wrong = ann.login(password="not the right password")
    unknown = app_client_factory().login(email="nobody@example.com")

    assert wrong.status_code == unknown.status_code == 422
    assert GENERIC in wrong.text
    assert _comparable(wrong.text) == _comparable(unknown.text)
    assert ann.get("/account").status_code == 302


def test_signed_out_account_page_redirects_to_login_with_next(client: HttpsClient) -> None:
    response = client.get("/account")

    assert response.status_code in (302, 303)
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login"
    assert parse_qs(location.query) == {"next": ["/account"]}


def test_c37_login_follows_a_local_next(ann: HttpsClient) -> None:
    response = ann.submit(
        "/login?next=/account%3Ftab%3D1", {"email": "ann@example.com", "password": STRONG_PASSWORD}
    )

    assert response.headers["Location"] == "/account?tab=1"


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example",
        "//evil.example",
        "/\\evil.example",
        "https:evil.example",
        "javascript:alert(1)",
        "/%2F%2Fevil.example",
        "http://localhost/account",
    ],
)
def test_c37_login_ignores_a_foreign_next(
    client: HttpsClient, app_client_factory: Callable[[], HttpsClient], target: str
) -> None:
    app_client_factory().register()
    token = csrf_token_in(client.get("/login").text)

    response = client.post(
        "/login",
        query_string={"next": target},
        data={"csrf_token": token, "email": "ann@example.com", "password": STRONG_PASSWORD},
    )

    assert response.status_code == 303
    assert response.headers["Location"] == "/account"


def test_c23_session_cookie_flags(ann: HttpsClient) -> None:
    cookies = set_cookies(ann.login())

    session = cookies["__Host-session"]
    assert session["secure"]
    assert session["httponly"]
    assert session["samesite"] == "Lax"
    assert session["path"] == "/"
    assert not session["domain"]
    assert "__Host-remember" not in cookies


def test_c24_remember_me_cookie_is_hardened_and_bounded(ann: HttpsClient) -> None:
    cookies = set_cookies(ann.login(remember="y"))

    remember = cookies["__Host-remember"]
    assert remember["secure"]
    assert remember["httponly"]
    assert remember["samesite"] == "Lax"
    assert remember["path"] == "/"
    assert not remember["domain"]
    lifetime = parsedate_to_datetime(remember["expires"]) - datetime.now(UTC)
    assert timedelta(days=29) < lifetime <= timedelta(days=30)


def test_c25_sign_in_starts_a_new_session(
    ann: HttpsClient,
    app_client_factory: Callable[[], HttpsClient],
    stored_sessions: Callable[[], list[UserSession]],
) -> None:
    ann.get("/login")
    planted = ann.get_cookie("__Host-session").value

    ann.login()

    assert ann.get_cookie("__Host-session").value != planted
    attacker = app_client_factory()
    attacker.set_cookie("__Host-session", planted, domain="localhost")
    assert attacker.get("/account").status_code == 302
    assert len(stored_sessions()) == 2  # the registering browser's and Ann's


def test_each_sign_in_opens_a_session_row(
    ann: HttpsClient,
    app_client_factory: Callable[[], HttpsClient],
    stored_sessions: Callable[[], list[UserSession]],
) -> None:
    ann.login()
    app_client_factory().login()

    rows = stored_sessions()
    assert len(rows) == 3  # registration signed in too
    assert len({row.token_hash for row in rows}) == 3
    assert all(row.revoked_at is None for row in rows)


@pytest.fixture
def bob(ann: HttpsClient, app_client_factory: Callable[[], HttpsClient]) -> HttpsClient:
    """Bob's account too; ``ann`` is still the browser they will share."""
    app_client_factory().register(email="bob@example.com", name="Bob")
    return ann


def test_c25_signing_in_over_a_remembered_session_ends_it(
    bob: HttpsClient, stored_sessions: Callable[[], list[UserSession]]
) -> None:
    shared = bob
    assert shared.login(remember="y").status_code == 303  # Ann keeps herself signed in
    anns_row = stored_sessions()[-1]
    assert restart_browser(shared).get("/account").status_code == 200

    assert shared.login(email="bob@example.com").status_code == 303  # Bob does not

    assert "Bob" in shared.get("/account").text
    assert shared.get_cookie("__Host-remember") is None
    restarted = restart_browser(shared)
    assert restarted.get("/account").status_code == 302  # neither Bob nor, above all, Ann
    ended = {row.id: row.revoked_at is not None for row in stored_sessions()}
    assert ended[anns_row.id]


def test_signing_in_over_a_session_ends_it_and_a_remembered_sign_in_replaces_its_cookie(
    bob: HttpsClient,
    app_client_factory: Callable[[], HttpsClient],
    stored_sessions: Callable[[], list[UserSession]],
) -> None:
    shared = bob
    assert shared.login(remember="y").status_code == 303
    copied = app_client_factory()
    copy_cookies(shared, copied, "__Host-session", "__Host-remember")

    assert shared.login(email="bob@example.com", remember="y").status_code == 303

    assert copied.get("/account").status_code == 302  # Ann's session ended on the server
    restarted = restart_browser(shared)
    assert "Bob" in restarted.get("/account").text
    open_rows = [row for row in stored_sessions() if row.revoked_at is None]
    assert len(open_rows) == 3  # the two registrations' and Bob's new one


def test_signing_up_over_a_remembered_session_ends_it(
    client: HttpsClient, app_client_factory: Callable[[], HttpsClient]
) -> None:
    app_client_factory().register()
    assert client.login(remember="y").status_code == 303

    assert client.register(email="bob@example.com", name="Bob").status_code == 303

    assert "Bob" in client.get("/account").text
    assert restart_browser(client).get("/account").status_code == 302
