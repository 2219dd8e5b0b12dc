"""Account recovery and verification, named after the checklist items (c44, c46-c50).

Mail goes over a real SMTP server on localhost (tests/smtp.py); background mail jobs are
awaited with ``jobs.wait()`` before anything they write is looked at.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import time_machine
from bs4 import BeautifulSoup
from flask import Flask
from sqlalchemy import select
from werkzeug.test import TestResponse

from tests.production.servers import simultaneously
from tests.security.checklist_support import field_error, session_data, stored_users
from tests.smtp import Outbox, html_of, link_in, text_of
from tests.support import (
    STRONG_PASSWORD,
    HttpsClient,
    copy_cookies,
    csrf_token_in,
    make_app,
    new_client,
)
from webapp.extensions import db, jobs
from webapp.models import AccountToken
from webapp.services import accounts, users

NEW_PASSWORD = "a brand new passphrase for ann"
TOKEN = re.compile(r"[A-Za-z0-9_-]+")
RESET_SUBJECT = "Reset your password"
VERIFY_SUBJECT = "Confirm your email address"
NOTICE_SUBJECT = "Someone tried to create an account with your address"
CHANGED_SUBJECT = "Your password was changed"
SESSION_COOKIE = "__Host-session"
REMEMBER_COOKIE = "__Host-remember"
RACERS = 8


def _smtp_app(outbox: Outbox, tmp_path: Path, **overrides: Any) -> Flask:
    # A database file, not memory: the mail jobs run in threads of their own.
    overrides.setdefault("SQLALCHEMY_DATABASE_URI", f"sqlite:///{tmp_path / 'recovery.db'}")
    return make_app(
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=outbox.port,
        MAIL_USE_TLS=False,
        **overrides,
    )


@pytest.fixture
def smtp_app(outbox: Outbox, tmp_path: Path) -> Iterator[Flask]:
    """A testing app mailing over SMTP to ``outbox``, with Ann's account."""
    app = _smtp_app(outbox, tmp_path)
    with app.app_context():
        users.register_user("ann@example.com", "Ann", STRONG_PASSWORD)
    yield app
    jobs.wait()


@pytest.fixture
def verify_app(outbox: Outbox, tmp_path: Path) -> Iterator[Flask]:
    """The same, with email verification required and no accounts yet."""
    app = _smtp_app(outbox, tmp_path, REQUIRE_EMAIL_VERIFICATION=True)
    yield app
    jobs.wait()


def _mail(outbox: Outbox, address: str, subject: str) -> list[Any]:
    jobs.wait()
    return [m for m in outbox.to(address) if m["Subject"] == subject]


def _forgot(client: HttpsClient, address: str = "ann@example.com", **kw: Any) -> TestResponse:
    return client.submit("/password/forgot", {"email": address}, **kw)


def _reset_link(app: Flask, outbox: Outbox, address: str = "ann@example.com") -> str:
    assert _forgot(new_client(app), address).status_code == 303
    return link_in(_mail(outbox, address, RESET_SUBJECT)[-1])


def _token(link: str) -> str:
    return urlsplit(link).path.rsplit("/", 1)[1]


def _open(client: HttpsClient, link: str) -> TestResponse:
    return client.get(urlsplit(link).path)


def _choose(client: HttpsClient, password: str) -> TestResponse:
    return client.submit("/password/reset", {"password": password, "confirm_password": password})


def _reset(app: Flask, link: str, password: str = NEW_PASSWORD) -> TestResponse:
    client = new_client(app)
    assert _open(client, link).status_code == 303
    return _choose(client, password)


def _hash_of(app: Flask, email: str) -> str:
    with app.app_context():
        user = users.get_user_by_email(email)
        assert user is not None
        return user.password_hash


def _token_rows(app: Flask) -> list[AccountToken]:
    with app.app_context():
        return list(db.session.scalars(select(AccountToken).order_by(AccountToken.id)))


def _without_csrf(html: str) -> str:
    return re.sub(r'name="csrf_token"[^>]*value="[^"]+"', "", html)


def _confirm(client: HttpsClient, link: str, password: str = STRONG_PASSWORD) -> TestResponse:
    """Open a verification link and confirm with a password, as its page asks."""
    return client.submit(urlsplit(link).path, {"password": password})


def _verification_link(app: Flask, outbox: Outbox, address: str = "ann@example.com") -> str:
    return link_in(_mail(outbox, address, VERIFY_SUBJECT)[-1])


@pytest.fixture
def any_db_app(outbox: Outbox, tmp_path: Path, database_url: str) -> Iterator[Flask]:
    """A testing app mailing to ``outbox``, on SQLite and on PostgreSQL; no accounts yet."""
    app = _smtp_app(outbox, tmp_path, SQLALCHEMY_DATABASE_URI=database_url)
    yield app
    jobs.wait()
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def raced_app(any_db_app: Flask) -> Flask:
    """The same with Ann's account, for requests that arrive together."""
    with any_db_app.app_context():
        users.register_user("ann@example.com", "Ann", STRONG_PASSWORD)
    return any_db_app


def _at_once(submissions: list[Callable[[], TestResponse]]) -> list[int]:
    """The statuses of submissions prepared beforehand and sent together from their threads."""
    return [response.status_code for response in simultaneously(submissions)]


# --- c44: duplicate registration does not leak ---------------------------------------------------


def test_c44_sign_up_answers_the_same_for_new_and_taken_addresses(
    verify_app: Flask, outbox: Outbox
) -> None:
    new_browser, taken_browser = new_client(verify_app), new_client(verify_app)

    new = new_browser.register(email="ann@example.com")
    taken = taken_browser.register(email="Ann@EXAMPLE.com", name="Mallory")

    assert (new.status_code, new.headers["Location"]) == (303, "/register/sent")
    assert (taken.status_code, taken.headers["Location"]) == (303, "/register/sent")
    assert new.get_data() == taken.get_data()
    assert sorted(new.headers.items()) == sorted(taken.headers.items())
    assert new_browser.get("/register/sent").get_data() == (
        taken_browser.get("/register/sent").get_data()
    )
    assert len(_mail(outbox, "ann@example.com", VERIFY_SUBJECT)) == 1
    [notice] = _mail(outbox, "ann@example.com", NOTICE_SUBJECT)
    assert "Mallory" not in notice.as_string()
    assert len(outbox.messages) == 2
    assert [(u.email, u.name) for u in stored_users(verify_app)] == [("ann@example.com", "Ann")]
    assert new_browser.get("/account").status_code == 302  # neither is signed in
    assert taken_browser.get("/account").status_code == 302


# --- c46: verification tokens are strong ---------------------------------------------------------


def test_c46_the_verification_token_is_long_url_safe_and_stored_hashed(
    verify_app: Flask, outbox: Outbox
) -> None:
    new_client(verify_app).register()

    [message] = _mail(outbox, "ann@example.com", VERIFY_SUBJECT)
    link = link_in(message)
    assert link.startswith("https://localhost/register/verify/")
    token = _token(link)
    assert len(token) >= 43  # 32 random bytes, base64url: 256 bits
    assert TOKEN.fullmatch(token)
    [row] = _token_rows(verify_app)
    assert row.purpose == "verify"
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in (row.token_hash, str(row.id))


def test_c46_the_verification_link_works_once(verify_app: Flask, outbox: Outbox) -> None:
    browser = new_client(verify_app)
    browser.register()
    link = link_in(_mail(outbox, "ann@example.com", VERIFY_SUBJECT)[0])

    first = _confirm(browser, link)
    second = _open(new_client(verify_app), link)

    assert (first.status_code, first.headers["Location"]) == (303, "/account")
    assert second.status_code == 400
    assert stored_users(verify_app)[0].email_verified_at is not None


def test_c46_a_scanner_opening_the_link_confirms_nothing(verify_app: Flask, outbox: Outbox) -> None:
    new_client(verify_app).register()
    link = _verification_link(verify_app, outbox)
    scanner = verify_app.test_client()  # no cookies, no Referer: a mail scanner's fetch

    fetches = [scanner.get(link), scanner.head(link), scanner.get(link)]

    assert [f.status_code for f in fetches] == [200, 200, 200]
    assert stored_users(verify_app)[0].email_verified_at is None
    assert [row.used_at for row in _token_rows(verify_app)] == [None]
    assert scanner.get("/account").status_code == 302  # and signed nobody in
    assert _confirm(new_client(verify_app), link).status_code == 303  # the owner still can


def test_c46_simultaneous_confirmations_with_one_link_succeed_once(
    raced_app: Flask, outbox: Outbox
) -> None:
    raced_app.config["REQUIRE_EMAIL_VERIFICATION"] = True
    resend = new_client(raced_app).submit("/register/resend", {"email": "ann@example.com"})
    assert resend.status_code == 303
    link = _verification_link(raced_app, outbox)
    path = urlsplit(link).path
    browsers = [new_client(raced_app) for _ in range(RACERS)]
    tokens = [csrf_token_in(browser.get(path).text) for browser in browsers]

    statuses = _at_once(
        [
            partial(browser.post, path, data={"csrf_token": token, "password": STRONG_PASSWORD})
            for browser, token in zip(browsers, tokens, strict=True)
        ]
    )

    assert sorted(statuses) == [303] + [400] * (RACERS - 1)
    assert [b.get("/account").status_code for b in browsers].count(200) == 1
    assert stored_users(raced_app)[0].email_verified_at is not None


def test_c46_the_verification_link_expires(verify_app: Flask, outbox: Outbox) -> None:
    new_client(verify_app).register()
    link = link_in(_mail(outbox, "ann@example.com", VERIFY_SUBJECT)[0])

    with time_machine.travel(datetime.now(UTC) + timedelta(hours=24, minutes=1), tick=False):
        response = _open(new_client(verify_app), link)

    assert response.status_code == 400
    assert stored_users(verify_app)[0].email_verified_at is None


def test_c46_an_unverified_account_cannot_sign_in(verify_app: Flask, outbox: Outbox) -> None:
    new_client(verify_app).register()
    browser = new_client(verify_app)

    response = browser.login()

    assert response.status_code == 422
    assert browser.get("/account").status_code == 302
    jobs.wait()
    assert (
        _confirm(browser, link_in(_mail(outbox, "ann@example.com", VERIFY_SUBJECT)[0])).status_code
        == 303
    )
    assert new_client(verify_app).login().status_code == 303


def test_c46_whoever_pre_registers_an_address_cannot_confirm_it_and_its_owner_resets(
    verify_app: Flask, outbox: Outbox
) -> None:
    attacker, owner = new_client(verify_app), new_client(verify_app)
    attackers_password = "the attacker's own passphrase"
    assert attacker.register(password=attackers_password).status_code == 303
    # The first link's mail job must finish before the resend supersedes that link, or
    # the two jobs could issue their tokens in either order.
    jobs.wait()
    # The attacker knows the password but never sees the link, which went to the owner.
    assert attacker.login(password=attackers_password).status_code == 422
    assert attacker.submit("/register/resend", {"email": "ann@example.com"}).status_code == 303
    assert all(m["To"] == "ann@example.com" for m in outbox.messages)
    link = _verification_link(verify_app, outbox)

    # The owner has the link but not the attacker's password: confirming is refused ...
    page = _open(owner, link)
    refused = _confirm(owner, link, STRONG_PASSWORD)
    assert page.status_code == 200
    aside = BeautifulSoup(page.text, "html.parser").find("a", href="/password/forgot")
    assert aside is not None
    assert "Not your account?" in aside.parent.get_text()
    assert refused.status_code == 422
    assert stored_users(verify_app)[0].email_verified_at is None

    # ... and the reset the page points to makes the account the owner's.
    assert _reset(verify_app, _reset_link(verify_app, outbox)).status_code == 303
    [account] = stored_users(verify_app)
    assert account.email_verified_at is not None
    assert new_client(verify_app).login(password=attackers_password).status_code == 422
    assert owner.login(password=NEW_PASSWORD).status_code == 303
    assert _open(new_client(verify_app), link).status_code == 400  # the old link died too


def test_c44_an_unconfirmed_address_is_freed_once_its_link_has_expired(
    any_db_app: Flask, outbox: Outbox
) -> None:
    app = any_db_app
    app.config["REQUIRE_EMAIL_VERIFICATION"] = True
    attackers_password = "the attacker's own passphrase"
    assert new_client(app).register(name="Mallory", password=attackers_password).status_code == 303
    early = new_client(app).register()  # within the link's lifetime: the address is taken
    assert early.status_code == 303
    assert len(_mail(outbox, "ann@example.com", NOTICE_SUBJECT)) == 1
    assert [u.name for u in stored_users(app)] == ["Mallory"]

    with time_machine.travel(datetime.now(UTC) + timedelta(hours=24, minutes=1), tick=False):
        owner = new_client(app)
        assert owner.register().status_code == 303
        [account] = stored_users(app)
        assert account.name == "Ann"
        assert _confirm(owner, _verification_link(app, outbox)).status_code == 303
        assert new_client(app).login(password=attackers_password).status_code == 422
        assert new_client(app).login().status_code == 303


def test_c44_without_verification_an_old_unconfirmed_account_is_never_replaced(
    smtp_app: Flask,
) -> None:
    # Without verification no account is ever confirmed: replacing them would hand them out.
    with time_machine.travel(datetime.now(UTC) + timedelta(days=30), tick=False):
        response = new_client(smtp_app).register(name="Mallory", password="the attacker's own one")

    assert response.status_code == 422
    assert "already exists" in field_error(response.text, "email")
    assert [(u.name, u.email_verified_at) for u in stored_users(smtp_app)] == [("Ann", None)]


# --- c47: the reset request is indistinguishable and throttled -----------------------------------


def test_c47_known_and_unknown_addresses_get_identical_replies(
    smtp_app: Flask, outbox: Outbox
) -> None:
    known_browser, unknown_browser = new_client(smtp_app), new_client(smtp_app)

    known = _forgot(known_browser, "ann@example.com")
    unknown = _forgot(unknown_browser, "nobody@example.com")

    assert known.status_code == unknown.status_code == 303
    assert known.headers["Location"] == unknown.headers["Location"]
    assert known.get_data() == unknown.get_data()
    assert sorted(known.headers.items()) == sorted(unknown.headers.items())
    known_page = known_browser.get(known.headers["Location"])
    unknown_page = unknown_browser.get(unknown.headers["Location"])
    assert _without_csrf(known_page.text) == _without_csrf(unknown_page.text)
    jobs.wait()
    assert [m["To"] for m in outbox.messages] == ["ann@example.com"]


def test_c47_a_sixth_request_in_an_hour_sends_no_mail_whatever_the_client_address(
    smtp_app: Flask, outbox: Outbox
) -> None:
    statuses = [
        _forgot(new_client(smtp_app), environ_overrides={"REMOTE_ADDR": f"192.0.2.{i}"}).status_code
        for i in range(1, 8)
    ]

    assert statuses == [303] * 7  # the reply never changes
    assert len(_mail(outbox, "ann@example.com", RESET_SUBJECT)) == 5  # MAIL_PER_ADDRESS_LIMIT


def test_c47_one_client_address_is_limited_across_addresses(smtp_app: Flask) -> None:
    browser = new_client(smtp_app)

    statuses = [_forgot(browser, f"user{i}@example.com").status_code for i in range(11)]

    assert statuses[:10] == [303] * 10
    assert statuses[10] == 429


def test_c47_a_request_does_not_change_or_lock_the_account(smtp_app: Flask, outbox: Outbox) -> None:
    before = stored_users(smtp_app)[0]

    for _ in range(3):
        _forgot(new_client(smtp_app))
    jobs.wait()

    after = stored_users(smtp_app)[0]
    assert (after.password_hash, after.is_active) == (before.password_hash, before.is_active)
    assert new_client(smtp_app).login().status_code == 303  # the old password still works


# --- c48: reset tokens ---------------------------------------------------------------------------


def test_c48_the_token_has_at_least_128_bits_and_only_its_hash_is_stored(
    smtp_app: Flask, outbox: Outbox
) -> None:
    link = _reset_link(smtp_app, outbox)

    token = _token(link)
    assert TOKEN.fullmatch(token)
    assert len(token) * 6 >= 128  # base64url: 6 bits a character (43 characters: 256 bits)
    [row] = _token_rows(smtp_app)
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert row.token_hash != token


def test_c48_the_token_works_once(smtp_app: Flask, outbox: Outbox) -> None:
    link = _reset_link(smtp_app, outbox)

    assert _reset(smtp_app, link).status_code == 303

    assert _open(new_client(smtp_app), link).status_code == 400
    assert new_client(smtp_app).login(password=NEW_PASSWORD).status_code == 303


def test_c48_the_token_expires_after_an_hour(smtp_app: Flask, outbox: Outbox) -> None:
    link = _reset_link(smtp_app, outbox)

    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=61), tick=False):
        response = _open(new_client(smtp_app), link)

    assert response.status_code == 400
    assert smtp_app.config["RESET_TOKEN_LIFETIME"] <= timedelta(hours=1)


def test_c48_a_newer_token_kills_the_older(smtp_app: Flask, outbox: Outbox) -> None:
    older = _reset_link(smtp_app, outbox)
    newer = _reset_link(smtp_app, outbox)

    assert _open(new_client(smtp_app), older).status_code == 400
    assert _open(new_client(smtp_app), newer).status_code == 303


def test_c48_the_token_dies_when_the_password_changes(smtp_app: Flask, outbox: Outbox) -> None:
    link = _reset_link(smtp_app, outbox)

    with smtp_app.app_context():
        user = users.get_user_by_email("ann@example.com")
        assert user is not None
        accounts.change_password(
            user, STRONG_PASSWORD, NEW_PASSWORD, session_token="not signed in", throttle=None
        )

    assert _open(new_client(smtp_app), link).status_code == 400


def test_c48_a_hundred_random_guesses_are_throttled(smtp_app: Flask) -> None:
    browser = new_client(smtp_app)

    responses = [browser.get(f"/password/reset/{secrets.token_urlsafe(32)}") for _ in range(100)]

    statuses = [r.status_code for r in responses]
    assert set(statuses) == {400, 429}
    assert statuses.count(400) <= 20  # LOGIN_RATE_LIMIT: 20 per minute per client address
    assert statuses[-1] == 429
    assert int(responses[-1].headers["Retry-After"]) > 0
    # The 429 page of a link (a real one, in the end) keeps its address out of Referers too.
    assert responses[-1].headers["Referrer-Policy"] == "same-origin"


def test_c48_a_token_for_a_cannot_reset_b(smtp_app: Flask, outbox: Outbox) -> None:
    with smtp_app.app_context():
        users.register_user("bob@example.com", "Bob", STRONG_PASSWORD)
    bob_before = _hash_of(smtp_app, "bob@example.com")
    link = _reset_link(smtp_app, outbox, "ann@example.com")
    bobs_browser = new_client(smtp_app)
    assert bobs_browser.login(email="bob@example.com").status_code == 303

    assert _open(bobs_browser, link).status_code == 303
    assert _choose(bobs_browser, NEW_PASSWORD).status_code == 303

    assert _hash_of(smtp_app, "bob@example.com") == bob_before
    assert new_client(smtp_app).login(email="bob@example.com").status_code == 303
    bob_with_new = new_client(smtp_app).login(email="bob@example.com", password=NEW_PASSWORD)
    assert bob_with_new.status_code == 422
    assert new_client(smtp_app).login(password=NEW_PASSWORD).status_code == 303


def test_c48_simultaneous_submissions_of_one_reset_link_change_the_password_once(
    raced_app: Flask, outbox: Outbox
) -> None:
    link = _reset_link(raced_app, outbox)
    browsers = [new_client(raced_app) for _ in range(RACERS)]
    forms = []
    for i, browser in enumerate(browsers):
        assert _open(browser, link).status_code == 303
        password = f"passphrase number {i} for ann"
        token = csrf_token_in(browser.get("/password/reset").text)
        forms.append({"csrf_token": token, "password": password, "confirm_password": password})

    statuses = _at_once(
        [
            partial(browser.post, "/password/reset", data=form)
            for browser, form in zip(browsers, forms, strict=True)
        ]
    )

    assert sorted(statuses) == [303] + [400] * (RACERS - 1)
    winner = forms[statuses.index(303)]["password"]
    assert new_client(raced_app).login(password=winner).status_code == 303
    assert len(_mail(outbox, "ann@example.com", CHANGED_SUBJECT)) == 1


# --- c49: links from the configured base URL -----------------------------------------------------


def test_c49_the_host_header_cannot_change_the_link(smtp_app: Flask, outbox: Outbox) -> None:
    browser = new_client(smtp_app)
    evil = {"Host": "evil.example", "Referer": "https://evil.example/"}
    token = csrf_token_in(browser.get("/password/forgot", headers=evil).text)

    response = browser.post(
        "/password/forgot",
        data={"csrf_token": token, "email": "ann@example.com"},
        headers={**evil, "X-Forwarded-Host": "evil.example"},
    )

    assert response.status_code == 303
    [message] = _mail(outbox, "ann@example.com", RESET_SUBJECT)
    assert link_in(message).startswith("https://localhost/password/reset/")
    assert "evil.example" not in message.as_string()
    assert "evil.example" not in text_of(message) + html_of(message)


def test_c49_the_reset_pages_keep_the_referer_on_this_site(smtp_app: Flask, outbox: Outbox) -> None:
    link = _reset_link(smtp_app, outbox)
    browser = new_client(smtp_app)

    pages = [_open(browser, link), browser.get("/password/reset"), _choose(browser, NEW_PASSWORD)]
    pages.append(_open(browser, link))  # used: the expired-link page

    assert [p.status_code for p in pages] == [303, 200, 303, 400]
    assert [p.headers["Referrer-Policy"] for p in pages] == ["same-origin"] * 4
    assert _token(link) not in pages[0].headers["Location"]


def test_c49_the_token_never_reaches_the_log(
    smtp_app: Flask, outbox: Outbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    link = _reset_link(smtp_app, outbox)
    assert _reset(smtp_app, link).status_code == 303
    _open(new_client(smtp_app), link)  # and once more, refused
    jobs.wait()

    token = _token(link)
    # The test SMTP server's own debug log ("mail.log") shows what it received; that is
    # the mailbox, not the application.
    records = [r for r in caplog.records if r.name != "mail.log"]
    assert any(r.name == "webapp.audit" for r in records)
    for record in records:
        text = record.getMessage() + str(record.args) + (record.exc_text or "")
        # Remove soft line breaks and padding, in case a message were quoted-printable.
        flattened = re.sub(r"[\s=]", "", text)
        assert token not in flattened, record.name


# --- c50: completing a reset ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short", "15 characters"),
        ("1qaz2wsx3edc4rfv", "common"),
        ("ann@example.com-ann", "email address"),
    ],
    ids=["too-short", "blocklisted", "context-word"],
)
def test_c50_the_password_policy_applies_on_reset(
    smtp_app: Flask, outbox: Outbox, password: str, reason: str
) -> None:
    before = _hash_of(smtp_app, "ann@example.com")
    browser = new_client(smtp_app)
    _open(browser, _reset_link(smtp_app, outbox))

    response = _choose(browser, password)

    assert response.status_code == 422
    assert reason in field_error(response.text, "password")
    assert _hash_of(smtp_app, "ann@example.com") == before


def test_c50_a_notice_is_sent_without_the_password(smtp_app: Flask, outbox: Outbox) -> None:
    link = _reset_link(smtp_app, outbox)

    _reset(smtp_app, link)

    [notice] = _mail(outbox, "ann@example.com", CHANGED_SUBJECT)
    assert NEW_PASSWORD not in notice.as_string()
    assert NEW_PASSWORD not in text_of(notice) + html_of(notice)
    assert "changed" in text_of(notice)


def test_c50_the_reset_does_not_sign_in(smtp_app: Flask, outbox: Outbox) -> None:
    browser = new_client(smtp_app)
    assert _open(browser, _reset_link(smtp_app, outbox)).status_code == 303

    response = _choose(browser, NEW_PASSWORD)

    assert response.headers["Location"] == "/login"
    cookie = browser.get_cookie(SESSION_COOKIE)
    assert cookie is not None
    data = session_data(smtp_app, cookie.value)
    assert "_user_id" not in data
    assert "reset_token" not in data
    assert browser.get_cookie(REMEMBER_COOKIE) is None
    assert browser.get("/account").status_code == 302


def test_c50_sessions_and_remember_cookies_from_before_the_reset_are_rejected(
    smtp_app: Flask, outbox: Outbox
) -> None:
    signed_in = new_client(smtp_app)
    assert signed_in.login(remember="y").status_code == 303
    session_cookie = signed_in.get_cookie(SESSION_COOKIE)
    remember_cookie = signed_in.get_cookie(REMEMBER_COOKIE)
    assert session_cookie is not None
    assert remember_cookie is not None
    copies = {name: new_client(smtp_app) for name in (SESSION_COOKIE, REMEMBER_COOKIE)}
    copies[SESSION_COOKIE].set_cookie(SESSION_COOKIE, session_cookie.value, domain="localhost")
    copies[REMEMBER_COOKIE].set_cookie(REMEMBER_COOKIE, remember_cookie.value, domain="localhost")
    assert all(c.get("/account").status_code == 200 for c in copies.values())

    assert _reset(smtp_app, _reset_link(smtp_app, outbox)).status_code == 303

    assert signed_in.get("/account").status_code == 302
    for name, client in copies.items():
        assert client.get("/account").status_code == 302, name


def test_c50_the_reset_form_asks_for_the_password_twice(smtp_app: Flask, outbox: Outbox) -> None:
    browser = new_client(smtp_app)
    _open(browser, _reset_link(smtp_app, outbox))

    page = BeautifulSoup(browser.get("/password/reset").text, "html.parser")
    mismatch = browser.post(
        "/password/reset",
        data={
            "csrf_token": csrf_token_in(str(page)),
            "password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD + "!",
        },
    )

    assert [i["name"] for i in page.select("form.form input[type=password]")] == [
        "password",
        "confirm_password",
    ]
    assert mismatch.status_code == 422
    assert "do not match" in field_error(mismatch.text, "confirm_password")
    assert new_client(smtp_app).login().status_code == 303  # unchanged


def test_c50_a_reset_takes_back_an_address_someone_else_registered(
    outbox: Outbox, tmp_path: Path
) -> None:
    app = _smtp_app(outbox, tmp_path)  # verification off: sign-up signs the attacker in
    attacker = new_client(app)
    attackers_password = "the attacker's own passphrase"
    assert attacker.register(password=attackers_password).status_code == 303
    assert attacker.login(password=attackers_password, remember="y").status_code == 303
    remembered = new_client(app)
    copy_cookies(attacker, remembered, REMEMBER_COOKIE)
    assert attacker.get("/account").status_code == remembered.get("/account").status_code == 200
    assert stored_users(app)[0].email_verified_at is None

    assert _reset(app, _reset_link(app, outbox)).status_code == 303

    assert attacker.get("/account").status_code == 302
    assert remembered.get("/account").status_code == 302
    assert new_client(app).login(password=attackers_password).status_code == 422
    [account] = stored_users(app)
    assert account.email_verified_at is not None  # the reset proved the mailbox
    assert new_client(app).login(password=NEW_PASSWORD).status_code == 303
    jobs.wait()
