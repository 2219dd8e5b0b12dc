"""Password reset through the test client, with the mail going over a real SMTP server."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from functools import partial
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import time_machine
from bs4 import BeautifulSoup
from flask import Flask
from sqlalchemy import func, select

from tests.security.checklist_support import field_error, fields_in_error
from tests.smtp import LINK, Outbox, free_port, html_of, link_in, text_of
from tests.support import STRONG_PASSWORD, HttpsClient, csrf_token_in, make_app, new_client
from webapp.errors import MAIL_UNAVAILABLE
from webapp.extensions import db, jobs
from webapp.models import AccountToken, User
from webapp.services import accounts, users

NEW_PASSWORD = "a brand new passphrase for ann"
SENT = (
    "If an account uses that address, we've sent a link to reset the password. "
    "It works for 60 minutes. If nothing arrives within a few minutes, check the address "
    "and try again."
)
EXPIRED = "This link has expired or was already used"
DONE = "Your password has been changed. Sign in with your new password."


def _add_user(app: Flask, email: str = "ann@example.com", name: str = "Ann") -> None:
    with app.app_context():
        users.register_user(email, name, STRONG_PASSWORD)


def _password_hash(app: Flask, email: str) -> str:
    with app.app_context():
        user = users.get_user_by_email(email)
        assert user is not None
        return user.password_hash


def _token_rows(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(AccountToken)) or 0


def _forgot(client: HttpsClient, address: str, **kwargs: object) -> object:
    return client.submit("/password/forgot", {"email": address}, **kwargs)


def _mail_to(outbox: Outbox, address: str, subject: str) -> list[EmailMessage]:
    jobs.wait()
    return [m for m in outbox.to(address) if m["Subject"] == subject]


def _reset_link(client: HttpsClient, outbox: Outbox, address: str = "ann@example.com") -> str:
    """Ask for a link for ``address`` and return the newest one that arrived."""
    before = len(_mail_to(outbox, address, "Reset your password"))
    assert _forgot(client, address).status_code == 303
    messages = _mail_to(outbox, address, "Reset your password")
    assert len(messages) == before + 1
    return link_in(messages[-1])


def _path(link: str) -> str:
    return urlsplit(link).path


def _choose(client: HttpsClient, password: str, confirm: str | None = None) -> object:
    return client.submit(
        "/password/reset",
        {"password": password, "confirm_password": password if confirm is None else confirm},
    )


@pytest.fixture
def ann(mail_app: Flask) -> Flask:
    _add_user(mail_app)
    return mail_app


@pytest.fixture
def visitor(ann: Flask) -> HttpsClient:
    return new_client(ann)


@pytest.fixture
def new_browser(ann: Flask) -> Callable[[], HttpsClient]:
    return partial(new_client, ann)


def _email_value(client: HttpsClient) -> str:
    page = BeautifulSoup(client.get("/password/forgot").text, "html.parser")
    field = page.find("input", attrs={"name": "email"})
    assert field is not None
    return str(field.get("value", ""))


def test_a_signed_in_person_finds_their_address_filled_in(
    new_browser: Callable[[], HttpsClient],
) -> None:
    signed_in = new_browser()
    assert signed_in.login().status_code == 303

    assert _email_value(signed_in) == "ann@example.com"
    assert _email_value(new_browser()) == ""


# --- the whole flow ----------------------------------------------------------------------------


def test_the_emailed_link_resets_the_password_once(
    ann: Flask, visitor: HttpsClient, outbox: Outbox
) -> None:
    response = _forgot(visitor, "ann@example.com")

    assert response.status_code == 303
    assert response.headers["Location"] == "/password/forgot/sent"
    assert SENT in BeautifulSoup(visitor.get("/password/forgot/sent").text, "html.parser").text
    [message] = _mail_to(outbox, "ann@example.com", "Reset your password")
    link = link_in(message)
    assert link.startswith("https://localhost/password/reset/")

    opened = visitor.get(_path(link))
    assert opened.status_code == 303
    assert opened.headers["Location"] == "/password/reset"
    form = BeautifulSoup(visitor.get("/password/reset").text, "html.parser").find("form")
    assert form.find("input", attrs={"name": "password"})["autocomplete"] == "new-password"
    assert form.find("input", attrs={"name": "confirm_password"})["autocomplete"] == "new-password"

    done = _choose(visitor, NEW_PASSWORD)

    assert done.status_code == 303
    assert done.headers["Location"] == "/login"
    assert DONE in visitor.get("/login").text
    assert visitor.get("/account").status_code == 302  # not signed in by the reset
    assert visitor.login(password=STRONG_PASSWORD).status_code == 422
    assert visitor.login(password=NEW_PASSWORD).status_code == 303
    again = visitor.get(_path(link))
    assert again.status_code == 400
    assert EXPIRED in again.text


def test_the_login_page_links_to_the_forgotten_password_page(client: HttpsClient) -> None:
    soup = BeautifulSoup(client.get("/login").text, "html.parser")

    link = soup.find("a", string="Forgot your password?")
    assert link is not None
    assert link["href"] == "/password/forgot"
    assert client.get(link["href"]).status_code == 200


def test_an_unknown_address_gets_the_same_reply_and_no_mail(
    ann: Flask, new_browser: Callable[[], HttpsClient], outbox: Outbox
) -> None:
    known_browser, unknown_browser = new_browser(), new_browser()

    known = _forgot(known_browser, "ann@example.com")
    unknown = _forgot(unknown_browser, "nobody@example.com")

    assert known.status_code == unknown.status_code == 303
    assert known.headers["Location"] == unknown.headers["Location"]
    assert known.get_data() == unknown.get_data()
    known_page = known_browser.get(known.headers["Location"])
    unknown_page = unknown_browser.get(unknown.headers["Location"])
    assert known_page.status_code == unknown_page.status_code == 200
    assert known_page.get_data() == unknown_page.get_data()
    jobs.wait()
    assert [m["To"] for m in outbox.messages] == ["ann@example.com"]
    assert _token_rows(ann) == 1


def test_a_malformed_address_is_pointed_out_beside_the_field(
    visitor: HttpsClient, outbox: Outbox
) -> None:
    response = _forgot(visitor, "not an address")

    assert response.status_code == 422
    soup = BeautifulSoup(response.text, "html.parser")
    assert soup.find(id="email")["aria-invalid"] == "true"
    assert "name@example.com" in soup.find(id="email-error").text
    jobs.wait()
    assert outbox.messages == []


def test_the_host_header_does_not_change_the_link(visitor: HttpsClient, outbox: Outbox) -> None:
    evil = {"Host": "evil.example", "Referer": "https://evil.example/"}
    token = csrf_token_in(visitor.get("/password/forgot", headers=evil).text)

    response = visitor.post(
        "/password/forgot", data={"csrf_token": token, "email": "ann@example.com"}, headers=evil
    )

    assert response.status_code == 303
    [message] = _mail_to(outbox, "ann@example.com", "Reset your password")
    assert link_in(message).startswith("https://localhost/password/reset/")
    assert "evil.example" not in text_of(message)
    assert "evil.example" not in html_of(message)


def test_the_mail_has_a_text_and_an_html_version_with_the_link(
    visitor: HttpsClient, outbox: Outbox
) -> None:
    link = _reset_link(visitor, outbox)

    [message] = outbox.to("ann@example.com")
    html = BeautifulSoup(html_of(message), "html.parser")
    assert [a["href"] for a in html.find_all("a")] == [link]
    assert link in html.get_text()
    assert "60 minutes" in text_of(message)
    assert message["From"] == "no-reply@localhost"


# --- which links work ---------------------------------------------------------------------------


def test_a_link_expires_after_an_hour(visitor: HttpsClient, outbox: Outbox) -> None:
    link = _reset_link(visitor, outbox)
    now = datetime.now(UTC)

    with time_machine.travel(now + timedelta(minutes=59), tick=False):
        assert visitor.get(_path(link)).status_code == 303
    with time_machine.travel(now + timedelta(minutes=61), tick=False):
        expired = visitor.get(_path(link))
        form = visitor.get("/password/reset")

    assert expired.status_code == 400
    assert EXPIRED in expired.text
    assert form.status_code == 400  # the token kept in the session has expired too


def test_a_newer_link_kills_the_older_one(visitor: HttpsClient, outbox: Outbox) -> None:
    older = _reset_link(visitor, outbox)
    newer = _reset_link(visitor, outbox)

    assert older != newer
    assert visitor.get(_path(older)).status_code == 400
    assert visitor.get(_path(newer)).status_code == 303


def test_changing_the_password_kills_an_outstanding_link(
    ann: Flask, visitor: HttpsClient, outbox: Outbox
) -> None:
    link = _reset_link(visitor, outbox)

    with ann.app_context():
        user = users.get_user_by_email("ann@example.com")
        assert user is not None
        accounts.change_password(
            user, STRONG_PASSWORD, NEW_PASSWORD, session_token="not signed in", throttle=None
        )

    assert visitor.get(_path(link)).status_code == 400


def test_a_link_that_expires_while_the_form_is_open_is_refused(
    ann: Flask, visitor: HttpsClient, outbox: Outbox
) -> None:
    link = _reset_link(visitor, outbox)
    assert visitor.get(_path(link)).status_code == 303
    token = csrf_token_in(visitor.get("/password/reset").text)

    _reset_link(visitor, outbox)  # a newer link kills the one held in the session
    response = visitor.post(
        "/password/reset",
        data={"csrf_token": token, "password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
    )

    assert response.status_code == 400
    assert EXPIRED in response.text
    assert visitor.login(password=STRONG_PASSWORD).status_code == 303  # unchanged


def test_a_link_resets_only_its_own_account(
    ann: Flask, new_browser: Callable[[], HttpsClient], outbox: Outbox
) -> None:
    _add_user(ann, "bob@example.com", "Bob")
    bob_hash = _password_hash(ann, "bob@example.com")
    ann_hash = _password_hash(ann, "ann@example.com")
    bobs_browser = new_browser()
    assert bobs_browser.login(email="bob@example.com").status_code == 303
    link = _reset_link(new_browser(), outbox, "ann@example.com")

    assert bobs_browser.get(_path(link)).status_code == 303
    assert _choose(bobs_browser, NEW_PASSWORD).status_code == 303

    assert _password_hash(ann, "bob@example.com") == bob_hash
    assert _password_hash(ann, "ann@example.com") != ann_hash
    assert new_browser().login(email="bob@example.com").status_code == 303
    assert new_browser().login(email="ann@example.com", password=NEW_PASSWORD).status_code == 303


def test_the_new_password_may_also_be_posted_to_the_link_itself(
    ann: Flask, visitor: HttpsClient, outbox: Outbox
) -> None:
    """DESIGN.md's public contract: POST /password/reset/<token> with the two fields."""
    path = _path(_reset_link(visitor, outbox))
    token = csrf_token_in(visitor.get("/password/forgot").text)
    fields = {"csrf_token": token, "confirm_password": NEW_PASSWORD}

    rejected = visitor.post(path, data={**fields, "password": "short", "confirm_password": "short"})
    done = visitor.post(path, data={**fields, "password": NEW_PASSWORD})
    again = visitor.post(path, data={**fields, "password": NEW_PASSWORD})

    assert rejected.status_code == 422
    assert rejected.headers["Referrer-Policy"] == "same-origin"
    assert (
        "15 characters"
        in BeautifulSoup(rejected.text, "html.parser").find(id="password-error").text
    )
    assert (done.status_code, done.headers["Location"]) == (303, "/login")
    assert again.status_code == 400
    assert visitor.get("/account").status_code == 302
    assert visitor.login(password=NEW_PASSWORD).status_code == 303


def test_the_reset_page_without_a_link_offers_to_send_one(client: HttpsClient) -> None:
    response = client.get("/password/reset")

    assert response.status_code == 200
    form = BeautifulSoup(response.text, "html.parser").find("form", class_="form")
    assert form["action"] == "/password/forgot"
    assert form.find("input", attrs={"name": "email"}) is not None


def test_posting_a_new_password_without_a_link_is_refused(client: HttpsClient) -> None:
    token = csrf_token_in(client.get("/password/reset").text)

    response = client.post(
        "/password/reset",
        data={"csrf_token": token, "password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
    )

    assert response.status_code == 400
    assert EXPIRED in response.text


# --- the reset itself ---------------------------------------------------------------------------


def test_a_browser_completes_the_reset_from_the_emailed_link(
    visitor: HttpsClient, new_browser: Callable[[], HttpsClient], outbox: Outbox
) -> None:
    """The form is accepted from its own page over HTTPS, with what a browser sends from it."""
    link = _reset_link(visitor, outbox)
    browser = new_browser()  # the mail program opens the link in a new window: no Referer

    form_page = browser.get(_path(link), follow_redirects=True)
    done = browser.post(
        "/password/reset",
        data={
            "csrf_token": csrf_token_in(form_page.text),
            "password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
        },
    )

    assert (done.status_code, done.headers.get("Location")) == (303, "/login")
    assert new_browser().login(password=STRONG_PASSWORD).status_code == 422
    assert new_browser().login(password=NEW_PASSWORD).status_code == 303
    # The page's own address (no token in it) and this site's origin, as Chromium sends them.
    assert done.request.headers["Referer"] == "https://localhost/password/reset"
    assert done.request.headers["Origin"] == "https://localhost"


def test_nothing_on_the_reset_pages_leads_off_site(
    visitor: HttpsClient, new_browser: Callable[[], HttpsClient], outbox: Outbox
) -> None:
    """Referrer-Policy: same-origin keeps the token here only while nothing leads elsewhere."""
    link = _reset_link(visitor, outbox)
    signed_in = new_browser()
    assert signed_in.login().status_code == 303

    pages = {
        "the form": visitor.get(_path(link), follow_redirects=True),
        "a rejected password": _choose(visitor, "short"),
        "the form, signed in": signed_in.get(_path(link), follow_redirects=True),
        "an unknown link": visitor.get("/password/reset/unknown-token"),
    }

    assert {name: page.status_code for name, page in pages.items()} == {
        "the form": 200,
        "a rejected password": 422,
        "the form, signed in": 200,
        "an unknown link": 400,
    }
    for name, page in pages.items():
        soup = BeautifulSoup(page.text, "html.parser")
        targets = [
            urljoin(page.request.url, element[attribute])
            for element in soup.find_all(True)
            for attribute in ("href", "src", "action", "formaction")
            if element.has_attr(attribute)
        ]
        assert "https://localhost/" in targets, name  # the home link: the scan saw links
        off_site = [t for t in targets if urlsplit(t)[:2] != ("https", "localhost")]
        assert off_site == [], name


def test_the_reset_pages_keep_the_referer_on_this_site_and_are_not_cached(
    visitor: HttpsClient, outbox: Outbox
) -> None:
    link = _reset_link(visitor, outbox)

    responses = {
        "the link": visitor.get(_path(link)),
        "the form": visitor.get("/password/reset"),
        "a rejected password": _choose(visitor, "short"),
        "the change": _choose(visitor, NEW_PASSWORD),
        "a used link": visitor.get(_path(link)),
        "an unknown link": visitor.get("/password/reset/unknown-token"),
    }

    assert {name: r.status_code for name, r in responses.items()} == {
        "the link": 303,
        "the form": 200,
        "a rejected password": 422,
        "the change": 303,
        "a used link": 400,
        "an unknown link": 400,
    }
    for name, response in responses.items():
        assert response.headers["Referrer-Policy"] == "same-origin", name
        assert response.headers["Cache-Control"] == "no-store", name


def test_a_rejected_password_is_explained_and_the_link_still_works(
    visitor: HttpsClient, new_browser: Callable[[], HttpsClient], outbox: Outbox
) -> None:
    visitor.get(_path(_reset_link(visitor, outbox)))

    rejected = _choose(visitor, "short")
    mismatch = _choose(visitor, NEW_PASSWORD, "something else entirely")

    assert rejected.status_code == mismatch.status_code == 422
    soup = BeautifulSoup(rejected.text, "html.parser")
    assert "15 characters" in soup.find(id="password-error").text
    assert (
        "do not match"
        in BeautifulSoup(mismatch.text, "html.parser").find(id="confirm_password-error").text
    )
    assert new_browser().login(password=STRONG_PASSWORD).status_code == 303  # unchanged
    assert _choose(visitor, NEW_PASSWORD).status_code == 303
    assert new_browser().login(password=NEW_PASSWORD).status_code == 303


def test_an_empty_password_is_reported_alone_not_also_as_a_mismatch(
    visitor: HttpsClient, new_browser: Callable[[], HttpsClient], outbox: Outbox
) -> None:
    visitor.get(_path(_reset_link(visitor, outbox)))

    response = _choose(visitor, "", NEW_PASSWORD)

    assert response.status_code == 422
    assert field_error(response.text, "password") == "Error: Choose a new password."
    assert fields_in_error(response.text) == {"password"}
    assert "do not match" not in response.text
    assert new_browser().login(password=STRONG_PASSWORD).status_code == 303  # unchanged


def test_a_reset_ends_every_session_and_remember_cookie(
    visitor: HttpsClient, new_browser: Callable[[], HttpsClient], outbox: Outbox
) -> None:
    laptop, phone = new_browser(), new_browser()
    assert laptop.login(remember="y").status_code == 303
    assert phone.login(remember="y").status_code == 303
    replay = new_browser()  # only the remember cookie, as after a browser restart
    remember = phone.get_cookie("__Host-remember")
    assert remember is not None
    replay.set_cookie("__Host-remember", remember.value, domain="localhost")
    assert replay.get("/account").status_code == 200
    link = _reset_link(visitor, outbox)

    phone.get(_path(link))  # the phone, signed in, is where the link is opened
    assert _choose(phone, NEW_PASSWORD).status_code == 303

    assert laptop.get("/account").status_code == 302
    assert phone.get("/account").status_code == 302
    assert replay.get("/account").status_code == 302
    assert phone.get_cookie("__Host-remember") is None


def test_the_password_changed_notice_arrives_without_the_password(
    visitor: HttpsClient, outbox: Outbox
) -> None:
    visitor.get(_path(_reset_link(visitor, outbox)))

    _choose(visitor, NEW_PASSWORD)

    [notice] = _mail_to(outbox, "ann@example.com", "Your password was changed")
    body = notice.as_string() + text_of(notice) + html_of(notice)
    assert NEW_PASSWORD not in body
    assert STRONG_PASSWORD not in body
    assert link_in(notice) == "https://localhost/password/forgot"


# --- limits and outages -------------------------------------------------------------------------


def test_the_sixth_request_in_an_hour_sends_no_sixth_mail(
    visitor: HttpsClient, outbox: Outbox
) -> None:
    statuses = [_forgot(visitor, "ann@example.com").status_code for _ in range(6)]

    assert statuses == [303] * 6
    jobs.wait()
    assert len(outbox.to("ann@example.com")) == 5


def test_requests_from_one_client_address_are_limited(visitor: HttpsClient) -> None:
    statuses = [
        _forgot(visitor, f"someone{i}@example.com").status_code for i in range(11)
    ]  # MAIL_REQUEST_RATE_LIMIT: 10 per hour

    assert statuses == [303] * 10 + [429]


@pytest.fixture
def mail_down_app(tmp_path: Path) -> Iterator[Flask]:
    """An app whose MAIL_PORT nothing listens on."""
    app = make_app(
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'down.db'}",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=free_port(),
        MAIL_USE_TLS=False,
        MAIL_TIMEOUT=2,
    )
    _add_user(app)
    yield app
    jobs.wait()


def test_with_the_mail_server_down_every_address_gets_the_clear_503(
    mail_down_app: Flask,
) -> None:
    known = _forgot(mail_down_app.test_client(), "ann@example.com")
    unknown = _forgot(mail_down_app.test_client(), "nobody@example.com")

    assert known.status_code == unknown.status_code == 503
    assert MAIL_UNAVAILABLE in BeautifulSoup(known.text, "html.parser").text
    assert known.get_data() == unknown.get_data()
    jobs.wait()
    assert _token_rows(mail_down_app) == 0


def test_without_a_mail_server_the_message_is_logged_and_the_flow_works(
    app: Flask, client: HttpsClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="webapp")
    _add_user(app)

    assert _forgot(client, "ann@example.com").status_code == 303
    jobs.wait()

    [logged] = [r.getMessage() for r in caplog.records if "mail (no MAIL_SERVER" in r.getMessage()]
    heading, text = logged.split("\n", 1)
    assert heading.endswith("to ann@example.com: Reset your password")
    link = LINK.search(text).group(0)  # whole: the log holds the decoded text, not QP
    assert link.startswith("https://localhost/password/reset/")
    assert client.get(_path(link)).status_code == 303
    assert _choose(client, NEW_PASSWORD).status_code == 303
    jobs.wait()
    assert client.login(password=NEW_PASSWORD).status_code == 303


def test_no_user_row_changes_until_the_link_is_used(ann: Flask, visitor: HttpsClient) -> None:
    before = _password_hash(ann, "ann@example.com")

    _forgot(visitor, "ann@example.com")
    jobs.wait()

    with ann.app_context():
        user = db.session.scalar(select(User))
        assert user is not None
        assert user.password_hash == before
        assert user.is_active
