"""Email verification (REQUIRE_EMAIL_VERIFICATION on), with the mail going over real SMTP."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import time_machine
from bs4 import BeautifulSoup
from flask import Flask
from sqlalchemy import select
from werkzeug.test import TestResponse

from tests.smtp import Outbox, free_port, html_of, link_in, text_of
from tests.support import STRONG_PASSWORD, HttpsClient, csrf_token_in, make_app, new_client
from webapp.errors import MAIL_UNAVAILABLE
from webapp.extensions import db, jobs
from webapp.models import User

SENT = "Check your email: we've sent a link to confirm your address. It works for 24 hours."
NOT_VERIFIED = "Confirm your email address first: use the link we sent you."
CONFIRMED = "Your email address is confirmed."
WRONG_PASSWORD = "That is not the password of this account."
EXPIRED = "This link has expired or was already used"
VERIFY_SUBJECT = "Confirm your email address"
NOTICE_SUBJECT = "Someone tried to create an account with your address"


@pytest.fixture
def verify_app(outbox: Outbox, tmp_path: Path) -> Iterator[Flask]:
    """Verification required; mail over SMTP to ``outbox``; a database file for the jobs."""
    app = make_app(
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'verify.db'}",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=outbox.port,
        MAIL_USE_TLS=False,
        REQUIRE_EMAIL_VERIFICATION=True,
    )
    yield app
    jobs.wait()


@pytest.fixture
def new_browser(verify_app: Flask) -> Callable[[], HttpsClient]:
    return partial(new_client, verify_app)


@pytest.fixture
def visitor(new_browser: Callable[[], HttpsClient]) -> HttpsClient:
    return new_browser()


def _users(app: Flask) -> list[User]:
    with app.app_context():
        return list(db.session.scalars(select(User).order_by(User.id)))


def _mail(outbox: Outbox, address: str, subject: str) -> list[EmailMessage]:
    jobs.wait()
    return [m for m in outbox.to(address) if m["Subject"] == subject]


def _comparable(html: str) -> str:
    return re.sub(r'name="csrf_token"[^>]*value="[^"]+"', "", html)


def _path(link: str) -> str:
    return urlsplit(link).path


def _text(html: str) -> str:
    return " ".join(BeautifulSoup(html, "html.parser").get_text(" ").split())


def _verification_link(visitor: HttpsClient, outbox: Outbox) -> str:
    assert visitor.register().status_code == 303
    [message] = _mail(outbox, "ann@example.com", VERIFY_SUBJECT)
    return link_in(message)


def _confirm(client: HttpsClient, link: str, password: str = STRONG_PASSWORD) -> TestResponse:
    """Open the link and confirm with the password, as the person who signed up does."""
    return client.submit(_path(link), {"password": password})


def _field_error(html: str, field: str) -> str:
    error = BeautifulSoup(html, "html.parser").find(id=f"{field}-error")
    assert error is not None, f"no error beside {field}"
    return " ".join(error.get_text(" ").split())


def test_sign_up_sends_a_link_and_does_not_sign_in(
    verify_app: Flask, visitor: HttpsClient, outbox: Outbox
) -> None:
    response = visitor.register()

    assert response.status_code == 303
    assert response.headers["Location"] == "/register/sent"
    assert SENT in _text(visitor.get("/register/sent").text)
    assert visitor.get("/account").status_code == 302
    [user] = _users(verify_app)
    assert user.email_verified_at is None
    [message] = _mail(outbox, "ann@example.com", VERIFY_SUBJECT)
    link = link_in(message)
    assert link.startswith("https://localhost/register/verify/")
    assert [a["href"] for a in BeautifulSoup(html_of(message), "html.parser").find_all("a")] == [
        link
    ]
    assert "24 hours" in text_of(message)
    assert STRONG_PASSWORD not in message.as_string()


def test_signing_up_again_looks_the_same_and_notifies_the_owner(
    verify_app: Flask, new_browser: Callable[[], HttpsClient], outbox: Outbox
) -> None:
    first_browser, second_browser = new_browser(), new_browser()

    first = first_browser.register(email="ann@example.com")
    second = second_browser.register(email="ANN@Example.com", name="Someone else")

    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"] == "/register/sent"
    assert first.get_data() == second.get_data()
    first_page = first_browser.get("/register/sent")
    second_page = second_browser.get("/register/sent")
    assert first_page.status_code == second_page.status_code == 200
    assert first_page.get_data() == second_page.get_data()
    jobs.wait()
    # Two job workers: the two mails may arrive in either order.
    assert sorted(m["Subject"] for m in outbox.to("ann@example.com")) == [
        VERIFY_SUBJECT,
        NOTICE_SUBJECT,
    ]
    [notice] = _mail(outbox, "ann@example.com", NOTICE_SUBJECT)
    assert "https://localhost/login" in text_of(notice)
    assert "https://localhost/password/forgot" in text_of(notice)
    assert [u.email for u in _users(verify_app)] == ["ann@example.com"]
    assert _users(verify_app)[0].name == "Ann"


def test_policy_errors_are_still_shown_beside_the_field(
    verify_app: Flask, visitor: HttpsClient, outbox: Outbox
) -> None:
    response = visitor.register(password="short")

    assert response.status_code == 422
    assert (
        "15 characters"
        in BeautifulSoup(response.text, "html.parser").find(id="password-error").get_text()
    )
    assert _users(verify_app) == []
    jobs.wait()
    assert outbox.messages == []


def test_signing_in_before_confirming_says_so_and_offers_a_new_link(
    visitor: HttpsClient, new_browser: Callable[[], HttpsClient], outbox: Outbox
) -> None:
    visitor.register()
    other = new_browser()

    response = other.login()

    assert response.status_code == 422
    soup = BeautifulSoup(response.text, "html.parser")
    assert NOT_VERIFIED in soup.select_one(".error-summary").get_text()
    assert soup.find("a", href="/register/resend") is not None
    assert other.get("/account").status_code == 302
    wrong = new_browser().login(password="not the password at all")
    assert NOT_VERIFIED not in wrong.text  # only the right password learns about it


def test_opening_the_link_changes_nothing_and_asks_for_the_password(
    verify_app: Flask, visitor: HttpsClient, outbox: Outbox
) -> None:
    link = _verification_link(visitor, outbox)

    response = visitor.get(_path(link))

    assert response.status_code == 200
    assert response.headers["Referrer-Policy"] == "same-origin"
    soup = BeautifulSoup(response.text, "html.parser")
    form = soup.select_one("form.form")
    assert form.get("action") is None  # posts back to the link itself
    assert [i["name"] for i in form.find_all("input")] == ["csrf_token", "password"]
    assert form.find("input", attrs={"name": "password"})["autocomplete"] == "current-password"
    assert "ann@example.com" in _text(response.text)
    reset = soup.find("a", href="/password/forgot")
    assert reset is not None
    assert "Not your account? Reset the password" in _text(str(reset.parent))
    assert _users(verify_app)[0].email_verified_at is None
    assert visitor.get("/account").status_code == 302
    assert visitor.get(_path(link)).status_code == 200  # still usable


def test_the_password_confirms_the_address_once_and_signs_in(
    verify_app: Flask, visitor: HttpsClient, outbox: Outbox
) -> None:
    link = _verification_link(visitor, outbox)

    response = _confirm(visitor, link)

    assert response.status_code == 303
    assert response.headers["Location"] == "/account"
    assert response.headers["Referrer-Policy"] == "same-origin"
    page = visitor.get("/account")
    assert page.status_code == 200
    assert CONFIRMED in page.text
    [user] = _users(verify_app)
    assert user.email_verified_at is not None
    again = visitor.get(_path(link))
    assert again.status_code == 400
    assert EXPIRED in again.text
    assert BeautifulSoup(again.text, "html.parser").find("a", href="/register/resend")
    assert new_client(verify_app).login().status_code == 303


def test_a_wrong_password_is_shown_beside_the_field_and_keeps_the_link(
    verify_app: Flask, visitor: HttpsClient, outbox: Outbox
) -> None:
    link = _verification_link(visitor, outbox)

    response = _confirm(visitor, link, "not the password at all")

    assert response.status_code == 422
    assert WRONG_PASSWORD in _field_error(response.text, "password")
    assert _users(verify_app)[0].email_verified_at is None
    assert visitor.get("/account").status_code == 302
    assert _confirm(visitor, link).status_code == 303


def test_wrong_passwords_on_the_link_count_towards_the_accounts_throttle(
    verify_app: Flask, new_browser: Callable[[], HttpsClient], outbox: Outbox
) -> None:
    link = _verification_link(new_browser(), outbox)
    guesses = [_confirm(new_browser(), link, f"guess number {i}").status_code for i in range(5)]

    response = _confirm(new_browser(), link)

    assert guesses == [422] * 5
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert _users(verify_app)[0].email_verified_at is None


def _signed_in_unconfirmed(verify_app: Flask, browser: HttpsClient, email: str) -> None:
    """An account signed in while verification was not yet required, as before it was turned on."""
    verify_app.config["REQUIRE_EMAIL_VERIFICATION"] = False
    try:
        assert browser.register(email=email).status_code == 303
    finally:
        verify_app.config["REQUIRE_EMAIL_VERIFICATION"] = True
    assert browser.get("/account").status_code == 200


def _resent_link(browser: HttpsClient, outbox: Outbox, email: str) -> str:
    assert browser.submit("/register/resend", {"email": email}).status_code == 303
    [message] = _mail(outbox, email, VERIFY_SUBJECT)
    return link_in(message)


def test_signed_in_as_the_account_a_confirm_button_is_enough(
    verify_app: Flask, visitor: HttpsClient, outbox: Outbox
) -> None:
    _signed_in_unconfirmed(verify_app, visitor, "ann@example.com")
    link = _resent_link(visitor, outbox, "ann@example.com")

    page = visitor.get(_path(link))
    after_get = _users(verify_app)[0].email_verified_at
    confirmed = visitor.post(_path(link), data={"csrf_token": csrf_token_in(page.text)})

    assert page.status_code == 200
    form = BeautifulSoup(page.text, "html.parser").select_one("form.form")
    assert [i["name"] for i in form.find_all("input")] == ["csrf_token"]
    assert form.find("button").get_text(strip=True) == "Confirm"
    assert after_get is None  # opening the link changed nothing
    assert confirmed.status_code == 303
    assert confirmed.headers["Location"] == "/account"
    assert _users(verify_app)[0].email_verified_at is not None
    assert visitor.get("/account").status_code == 200


def test_signed_in_as_another_account_the_password_is_still_asked(
    verify_app: Flask, new_browser: Callable[[], HttpsClient], outbox: Outbox
) -> None:
    bobs_browser = new_browser()
    _signed_in_unconfirmed(verify_app, bobs_browser, "bob@example.com")
    link = _verification_link(new_browser(), outbox)

    button_only = bobs_browser.post(
        _path(link), data={"csrf_token": csrf_token_in(bobs_browser.get(_path(link)).text)}
    )
    confirmed = _confirm(bobs_browser, link)

    assert button_only.status_code == 422
    assert "Enter the password of this account." in _field_error(button_only.text, "password")
    assert confirmed.status_code == 303
    bob, ann = _users(verify_app)
    assert ann.email_verified_at is not None
    assert bob.email_verified_at is None
    assert "ann@example.com" in bobs_browser.get("/account").text  # now signed in as Ann


def test_an_unknown_link_is_refused(verify_app: Flask, visitor: HttpsClient) -> None:
    response = visitor.get("/register/verify/not-a-real-token")

    assert response.status_code == 400
    assert EXPIRED in response.text


def test_a_link_expires_after_24_hours(
    verify_app: Flask, visitor: HttpsClient, outbox: Outbox
) -> None:
    link = _verification_link(visitor, outbox)

    with time_machine.travel(datetime.now(UTC) + timedelta(hours=25), tick=False):
        response = visitor.get(_path(link))

    assert response.status_code == 400
    assert _users(verify_app)[0].email_verified_at is None


def test_resend_sends_a_new_link_and_the_old_one_dies(
    verify_app: Flask, visitor: HttpsClient, new_browser: Callable[[], HttpsClient], outbox: Outbox
) -> None:
    old = _verification_link(visitor, outbox)
    other = new_browser()

    response = other.submit("/register/resend", {"email": "ann@example.com"})
    unknown = new_browser().submit("/register/resend", {"email": "nobody@example.com"})

    assert response.status_code == unknown.status_code == 303
    assert response.headers["Location"] == unknown.headers["Location"] == "/register/sent"
    first, second = _mail(outbox, "ann@example.com", VERIFY_SUBJECT)
    assert link_in(first) == old
    new = link_in(second)
    assert new != old
    assert len(outbox.messages) == 2  # nothing for the unknown address
    assert other.get(_path(old)).status_code == 400
    assert _confirm(other, new).status_code == 303
    assert _users(verify_app)[0].email_verified_at is not None


def test_resend_to_a_confirmed_address_sends_nothing(visitor: HttpsClient, outbox: Outbox) -> None:
    assert _confirm(visitor, _verification_link(visitor, outbox)).status_code == 303

    response = visitor.submit("/register/resend", {"email": "ann@example.com"})

    assert response.status_code == 303
    jobs.wait()
    assert len(outbox.messages) == 1


def test_with_verification_off_sign_up_signs_in_and_sends_nothing(
    mail_app: Flask, outbox: Outbox
) -> None:
    client = mail_app.test_client()

    response = client.register()

    assert response.status_code == 303
    assert response.headers["Location"] == "/account"
    assert client.get("/account").status_code == 200
    jobs.wait()
    assert outbox.messages == []


def test_with_the_mail_server_down_sign_up_says_so_and_creates_nothing(tmp_path: Path) -> None:
    app = make_app(
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'down.db'}",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=free_port(),  # nothing listens there
        MAIL_USE_TLS=False,
        REQUIRE_EMAIL_VERIFICATION=True,
    )

    register = app.test_client().register()
    resend = app.test_client().submit("/register/resend", {"email": "ann@example.com"})

    assert register.status_code == resend.status_code == 503
    assert MAIL_UNAVAILABLE in _text(register.text)
    assert _users(app) == []
