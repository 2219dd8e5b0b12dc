"""Changing the password (and confirming it's you first) through the test client, CSRF on."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import pytest
from bs4 import BeautifulSoup
from flask import Flask
from werkzeug.test import TestResponse

from tests.security.checklist_support import field_error, fields_in_error
from tests.smtp import Outbox, html_of, text_of
from tests.support import (
    STRONG_PASSWORD,
    HttpsClient,
    copy_cookies,
    new_client,
    restart_browser,
)
from webapp.extensions import jobs
from webapp.models import User, UserSession

NEW_PASSWORD = "velvet otter climbs the lighthouse"
WRONG = "definitely not the password"
CHANGED = "Your password has been changed. Other devices have been signed out."

Users = Callable[[], list[User]]
Sessions = Callable[[], list[UserSession]]


def _change(
    client: HttpsClient,
    current: str = STRONG_PASSWORD,
    new: str = NEW_PASSWORD,
    confirm: str | None = None,
) -> TestResponse:
    response = client.submit(
        "/account/password",
        {
            "current_password": current,
            "new_password": new,
            "confirm_password": new if confirm is None else confirm,
        },
    )
    # The notice is sent by a background job; let it finish before the next request, as
    # it shares the in-memory database's single connection.
    jobs.wait()
    return response


def _hash(stored_users: Users) -> str:
    (user,) = stored_users()
    return user.password_hash


@pytest.fixture
def ann(client: HttpsClient) -> HttpsClient:
    """Ann, freshly signed up (so freshly signed in) in ``client``."""
    assert client.register().status_code == 303
    return client


def test_change_password_page_has_the_three_fields_and_guidance(ann: HttpsClient) -> None:
    response = ann.get("/account/password")

    assert response.status_code == 200
    soup = BeautifulSoup(response.text, "html.parser")
    assert soup.h1 is not None
    assert soup.h1.get_text(strip=True) == "Change your password"
    expected = {
        "current_password": "current-password",
        "new_password": "new-password",
        "confirm_password": "new-password",
    }
    for name, autocomplete in expected.items():
        control = soup.find("input", attrs={"name": name})
        assert control is not None, name
        assert control["type"] == "password"
        assert control["autocomplete"] == autocomplete
        assert soup.find("label", attrs={"for": control["id"]}) is not None
    hint = soup.find(id="new_password-hint")
    assert hint is not None
    assert "at least 15 characters" in hint.get_text()
    assert "new_password-hint" in soup.find(id="new_password")["aria-describedby"]
    assert soup.find("input", attrs={"name": "csrf_token"}) is not None
    assert "every other device signed in to your account is signed out" in response.text


def test_account_page_links_to_the_new_pages(ann: HttpsClient) -> None:
    soup = BeautifulSoup(ann.get("/account").text, "html.parser")

    links = {a.get_text(strip=True): a["href"] for a in soup.find_all("a")}
    assert links["Change password"] == "/account/password"
    assert links["Signed-in devices"] == "/account/sessions"
    assert links["Delete account"] == "/account/delete"


def test_change_password_happy_path(
    ann: HttpsClient,
    app_client_factory: Callable[[], HttpsClient],
    stored_users: Users,
    stored_sessions: Sessions,
) -> None:
    other = app_client_factory()
    assert other.login(remember="y").status_code == 303
    other_session, other_remember = app_client_factory(), app_client_factory()
    copy_cookies(other, other_session, "__Host-session")
    copy_cookies(other, other_remember, "__Host-remember")
    assert [c.get("/account").status_code for c in (other, other_session, other_remember)] == [
        200,
        200,
        200,
    ]
    old_hash = _hash(stored_users)
    assert [row.revoked_at for row in stored_sessions()] == [None, None]

    response = _change(ann)

    assert response.status_code == 303
    assert response.headers["Location"] == "/account"
    page = ann.get("/account")
    assert page.status_code == 200  # this browser stays signed in
    assert CHANGED in page.text
    assert _hash(stored_users) != old_hash
    mine, theirs = stored_sessions()
    assert mine.revoked_at is None
    assert theirs.revoked_at is not None
    for client in (other, other_session, other_remember):
        signed_out = client.get("/account")
        assert signed_out.status_code == 302
        assert urlsplit(signed_out.headers["Location"]).path == "/login"
    assert app_client_factory().login().status_code == 422  # the old password is dead
    assert app_client_factory().login(password=NEW_PASSWORD).status_code == 303


def test_c31_a_copy_of_the_cookies_from_before_the_change_stops_working(
    ann: HttpsClient, app_client_factory: Callable[[], HttpsClient], stored_sessions: Sessions
) -> None:
    copied = app_client_factory()
    copy_cookies(ann, copied, "__Host-session")
    assert copied.get("/account").status_code == 200
    (before,) = stored_sessions()

    assert _change(ann).status_code == 303

    assert copied.get("/account").status_code == 302
    assert ann.get("/account").status_code == 200  # this browser carries on, with a new token
    (after,) = stored_sessions()
    assert after.id == before.id
    assert after.revoked_at is None
    assert after.token_hash != before.token_hash
    assert restart_browser(ann).get("/account").status_code == 302  # it was not remembered


def test_a_remembered_browser_stays_remembered_under_a_new_token(
    app_client_factory: Callable[[], HttpsClient],
) -> None:
    app_client_factory().register()
    mine = app_client_factory()
    assert mine.login(remember="y").status_code == 303
    copied, copied_remember = app_client_factory(), app_client_factory()
    copy_cookies(mine, copied, "__Host-session", "__Host-remember")
    copy_cookies(mine, copied_remember, "__Host-remember")

    assert _change(mine).status_code == 303

    assert copied.get("/account").status_code == 302
    assert copied_remember.get("/account").status_code == 302
    assert mine.get("/account").status_code == 200
    assert restart_browser(mine).get("/account").status_code == 200  # a new remember cookie


def test_c15_the_current_password_again_is_refused_beside_the_new_password(
    ann: HttpsClient, stored_users: Users, stored_sessions: Sessions
) -> None:
    old_hash = _hash(stored_users)

    response = _change(ann, new=STRONG_PASSWORD)

    assert response.status_code == 422
    assert field_error(response.text, "new_password") == (
        "Error: Choose a password different from your current one."
    )
    assert _hash(stored_users) == old_hash
    assert [row.revoked_at for row in stored_sessions()] == [None]
    assert ann.get("/account").status_code == 200


def test_wrong_current_password_is_refused_beside_the_field(
    ann: HttpsClient,
    app_client_factory: Callable[[], HttpsClient],
    stored_users: Users,
    stored_sessions: Sessions,
) -> None:
    other = app_client_factory()
    other.login()
    old_hash = _hash(stored_users)

    response = _change(ann, current=WRONG)

    assert response.status_code == 422
    assert field_error(response.text, "current_password") == (
        "Error: That is not your current password."
    )
    assert NEW_PASSWORD not in response.text
    assert WRONG not in response.text
    assert _hash(stored_users) == old_hash
    assert all(row.revoked_at is None for row in stored_sessions())
    assert other.get("/account").status_code == 200


@pytest.mark.parametrize(
    ("new", "reason"),
    [
        ("fourteen chars", "Use at least 15 characters."),
        ("1qaz2wsx3edc4rfv", "commonly used passwords"),
        ("ann@example.com ann", "your email address"),
    ],
)
def test_policy_violation_shows_the_reason_beside_the_new_password(
    ann: HttpsClient, stored_users: Users, stored_sessions: Sessions, new: str, reason: str
) -> None:
    old_hash = _hash(stored_users)

    response = _change(ann, new=new)

    assert response.status_code == 422
    assert reason in field_error(response.text, "new_password")
    assert _hash(stored_users) == old_hash
    assert [row.revoked_at for row in stored_sessions()] == [None]


def test_mismatched_confirmation_is_refused(ann: HttpsClient, stored_users: Users) -> None:
    old_hash = _hash(stored_users)

    response = _change(ann, confirm=NEW_PASSWORD + " ")

    assert response.status_code == 422
    assert field_error(response.text, "confirm_password") == (
        "Error: The two new passwords do not match."
    )
    assert _hash(stored_users) == old_hash


def test_an_empty_new_password_is_reported_alone_not_also_as_a_mismatch(
    ann: HttpsClient, stored_users: Users
) -> None:
    old_hash = _hash(stored_users)

    response = _change(ann, new="", confirm=NEW_PASSWORD)

    assert response.status_code == 422
    assert field_error(response.text, "new_password") == "Error: Choose a new password."
    assert fields_in_error(response.text) == {"new_password"}
    assert "do not match" not in response.text
    assert _hash(stored_users) == old_hash


def test_missing_fields_are_each_reported(ann: HttpsClient, stored_users: Users) -> None:
    old_hash = _hash(stored_users)

    response = ann.submit("/account/password", {})

    assert response.status_code == 422
    assert field_error(response.text, "current_password") == "Error: Enter your current password."
    assert field_error(response.text, "new_password") == "Error: Choose a new password."
    assert field_error(response.text, "confirm_password") == (
        "Error: Enter the new password again."
    )
    assert _hash(stored_users) == old_hash


def test_remembered_session_confirms_before_the_password_page(
    app_client_factory: Callable[[], HttpsClient], stored_users: Users
) -> None:
    first = app_client_factory()
    first.register()
    first.logout()
    first.login(remember="y")
    restored = app_client_factory()  # a browser restart keeps only the remember cookie
    copy_cookies(first, restored, "__Host-remember")
    assert restored.get("/account").status_code == 200  # signed in, but not fresh

    response = restored.get("/account/password")

    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/account/confirm"
    assert parse_qs(location.query) == {"next": ["/account/password"]}
    page = BeautifulSoup(restored.get(response.headers["Location"]).text, "html.parser")
    assert page.h1 is not None
    assert page.h1.get_text(strip=True) == "Confirm it's you"
    assert "Please enter your password again to continue." in page.get_text()
    field = page.find("input", attrs={"name": "password"})
    assert field is not None
    assert field["autocomplete"] == "current-password"

    wrong = restored.submit(response.headers["Location"], {"password": WRONG})
    assert wrong.status_code == 422
    assert field_error(wrong.text, "password") == "Error: That is not your password."
    assert restored.get("/account/password").status_code == 302  # still not fresh

    confirmed = restored.submit(response.headers["Location"], {"password": STRONG_PASSWORD})

    assert confirmed.status_code == 303
    assert confirmed.headers["Location"] == "/account/password"
    assert restored.get("/account/password").status_code == 200
    old_hash = _hash(stored_users)
    assert _change(restored).status_code == 303
    assert _hash(stored_users) != old_hash


def test_confirm_counts_towards_the_account_throttle(
    ann: HttpsClient, app_client_factory: Callable[[], HttpsClient]
) -> None:
    statuses = [ann.submit("/account/confirm", {"password": WRONG}).status_code for _ in range(5)]
    assert statuses == [422] * 5

    throttled = ann.submit("/account/confirm", {"password": STRONG_PASSWORD})

    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) > 0
    # The counter of this browser (its device cookie) guards signing in here too; other
    # browsers are counted apart.
    assert ann.login().status_code == 429
    assert app_client_factory().login().status_code == 303


def test_confirm_without_next_goes_to_the_account_and_ignores_foreign_next(
    ann: HttpsClient,
) -> None:
    plain = ann.submit("/account/confirm", {"password": STRONG_PASSWORD})
    foreign = ann.submit(
        "/account/confirm?next=https://evil.example/", {"password": STRONG_PASSWORD}
    )

    assert plain.status_code == foreign.status_code == 303
    assert plain.headers["Location"] == foreign.headers["Location"] == "/account"


def test_password_changed_notice_arrives_by_email(mail_app: Flask, outbox: Outbox) -> None:
    client = new_client(mail_app)
    client.register()
    assert outbox.messages == []  # nothing is sent before the change

    response = client.submit(
        "/account/password",
        {
            "current_password": STRONG_PASSWORD,
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
        },
    )

    assert response.status_code == 303
    jobs.wait()
    (message,) = outbox.wait_for(1)
    assert message["To"] == "ann@example.com"
    assert "password" in message["Subject"].lower()
    assert "changed" in message["Subject"].lower()
    text = text_of(message)
    assert "password" in text.lower()
    assert "changed" in text.lower()
    for body in (text, html_of(message)):
        assert NEW_PASSWORD not in body
        assert STRONG_PASSWORD not in body


def test_no_email_when_the_change_is_refused(mail_app: Flask, outbox: Outbox) -> None:
    client = new_client(mail_app)
    client.register()

    response = client.submit(
        "/account/password",
        {"current_password": WRONG, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
    )

    assert response.status_code == 422
    jobs.wait()
    assert outbox.messages == []


@pytest.mark.parametrize(
    "path", ["/account/password", "/account/sessions", "/account/delete", "/account/confirm"]
)
def test_signed_out_visitors_are_sent_to_sign_in(client: HttpsClient, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login"
    assert parse_qs(location.query) == {"next": [path]}
