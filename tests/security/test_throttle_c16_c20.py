"""Sign-in throttling that cannot be turned against users (checklist items 16-20)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
import time_machine
from flask import Flask
from pytest_mock import MockerFixture
from werkzeug.test import TestResponse

from tests.production.servers import simultaneously
from tests.security.checklist_support import DEVICE_COOKIE, stored_sessions
from tests.smtp import Outbox, link_in
from tests.support import (
    STRONG_PASSWORD,
    HttpsClient,
    copy_cookies,
    csrf_token_in,
    make_app,
    new_client,
    set_cookies,
)
from webapp.extensions import db, jobs
from webapp.passwords import PasswordHasher
from webapp.services import users
from webapp.services.throttle import ThrottlePolicy

WRONG = "definitely not the password"
START = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def ann(app_client_factory: Callable[[], HttpsClient]) -> None:
    app_client_factory().register()


def _attempt(client: HttpsClient, email: str, password: str, ip: str) -> TestResponse:
    """One sign-in from ``ip`` (each from its own address, so only the account counts)."""
    token = csrf_token_in(client.get("/login").text)
    return client.post(
        "/login",
        data={"csrf_token": token, "email": email, "password": password},
        environ_base={"REMOTE_ADDR": ip},
    )


def _comparable(response: TestResponse) -> tuple[int, str, list[tuple[str, ...]]]:
    html = re.sub(r'name="csrf_token"[^>]*value="[^"]+"', "", response.text)
    html = re.sub(r'(id="email"[^>]*value=")[^"]*"', r"\1", html)
    cookies = [
        (name, morsel["secure"], morsel["httponly"], morsel["samesite"])
        for name, morsel in set_cookies(response).items()
    ]
    return response.status_code, html, sorted(cookies)


def test_c16_unknown_wrong_and_deactivated_fail_identically(
    app: Flask, app_client_factory: Callable[[], HttpsClient], ann: None
) -> None:
    wrong = _attempt(app_client_factory(), "ann@example.com", WRONG, "198.51.100.1")
    unknown = _attempt(app_client_factory(), "nobody@example.com", WRONG, "198.51.100.2")
    with app.app_context():
        users.deactivate_user("ann@example.com")
    inactive = _attempt(app_client_factory(), "ann@example.com", STRONG_PASSWORD, "198.51.100.3")

    assert _comparable(wrong) == _comparable(unknown) == _comparable(inactive)
    assert wrong.status_code == 422
    assert "Location" not in wrong.headers


def test_c18_after_five_failures_even_the_right_password_waits(
    client: HttpsClient, ann: None, clock: time_machine.Coordinates
) -> None:
    for i in range(5):
        assert _attempt(client, "ann@example.com", WRONG, f"203.0.113.{i}").status_code == 422

    throttled = _attempt(client, "ann@example.com", STRONG_PASSWORD, "203.0.113.99")

    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "30"
    assert "30 seconds" in throttled.text


def test_c18_each_further_failure_doubles_the_wait(
    client: HttpsClient, ann: None, clock: time_machine.Coordinates
) -> None:
    policy = ThrottlePolicy()
    for i in range(4):
        _attempt(client, "ann@example.com", WRONG, f"203.0.113.{i}")
    for failure in range(5, 9):
        assert _attempt(client, "ann@example.com", WRONG, "203.0.113.10").status_code == 422
        wait = policy.wait_after(failure)

        early = _attempt(client, "ann@example.com", STRONG_PASSWORD, "203.0.113.11")

        assert early.status_code == 429
        assert int(early.headers["Retry-After"]) == wait.total_seconds()
        clock.shift(wait)


def test_c18_a_success_resets_the_count(
    client: HttpsClient, ann: None, clock: time_machine.Coordinates
) -> None:
    for i in range(4):
        _attempt(client, "ann@example.com", WRONG, f"203.0.113.{i}")
    assert _attempt(client, "ann@example.com", STRONG_PASSWORD, "203.0.113.9").status_code == 303
    client.logout()

    after = [
        _attempt(client, "ann@example.com", WRONG, f"192.0.2.{i}").status_code for i in range(6)
    ]

    assert after == [422] * 5 + [429]


def test_c18_the_wait_schedule_doubles_from_30_seconds_to_an_hour() -> None:
    policy = ThrottlePolicy()

    waits = [policy.wait_after(n).total_seconds() for n in range(1, 15)]

    assert waits == [0, 0, 0, 0, 30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]


def test_c18_never_more_than_100_password_checks_reach_the_hasher(
    client: HttpsClient, ann: None, clock: time_machine.Coordinates, mocker: MockerFixture
) -> None:
    verify = mocker.spy(PasswordHasher, "verify")
    statuses = []
    for i in range(130):
        clock.shift(timedelta(hours=1, seconds=1))  # every wait has passed
        response = _attempt(client, "ann@example.com", WRONG, f"10.{i // 250}.{i % 250}.1")
        statuses.append(response.status_code)

    assert verify.call_count == 100
    assert statuses[:100] == [422] * 100
    assert set(statuses[100:]) == {429}
    clock.shift(timedelta(hours=2))
    assert _attempt(client, "ann@example.com", STRONG_PASSWORD, "10.9.9.9").status_code == 429


def test_c19_a_throttled_real_account_looks_like_a_throttled_unknown_one(
    app_client_factory: Callable[[], HttpsClient], ann: None, clock: time_machine.Coordinates
) -> None:
    replies = {}
    for email in ("ann@example.com", "nobody@example.com"):
        client = app_client_factory()
        for i in range(5):
            _attempt(client, email, WRONG, f"203.0.113.{i}")
        replies[email] = _attempt(client, email, WRONG, "203.0.113.50")

    real, unknown = replies["ann@example.com"], replies["nobody@example.com"]
    assert real.status_code == unknown.status_code == 429
    assert real.headers["Retry-After"] == unknown.headers["Retry-After"]
    assert _comparable(real) == _comparable(unknown)


def test_c19_the_lock_is_temporary(
    client: HttpsClient, ann: None, clock: time_machine.Coordinates
) -> None:
    for i in range(5):
        _attempt(client, "ann@example.com", WRONG, f"203.0.113.{i}")
    assert _attempt(client, "ann@example.com", STRONG_PASSWORD, "203.0.113.9").status_code == 429

    clock.shift(timedelta(seconds=31))

    assert _attempt(client, "ann@example.com", STRONG_PASSWORD, "203.0.113.9").status_code == 303


def test_c19_another_address_is_unaffected(
    client: HttpsClient, app_client_factory: Callable[[], HttpsClient], ann: None
) -> None:
    app_client_factory().register(email="bob@example.com", name="Bob")
    for i in range(6):
        _attempt(client, "ann@example.com", WRONG, f"203.0.113.{i}")

    assert _attempt(client, "bob@example.com", STRONG_PASSWORD, "203.0.113.7").status_code == 303


def test_c20_many_accounts_from_one_address_end_in_429(client: HttpsClient) -> None:
    statuses = [
        _attempt(client, f"user{i}@example.com", WRONG, "198.51.100.7").status_code
        for i in range(30)
    ]

    assert statuses[:20] == [422] * 20  # LOGIN_RATE_LIMIT: 20 per minute per address
    assert set(statuses[20:]) == {429}


def test_c20_a_forged_forwarded_for_does_not_reset_the_limit(client: HttpsClient) -> None:
    for i in range(20):
        _attempt(client, f"user{i}@example.com", WRONG, "198.51.100.7")
    token = csrf_token_in(client.get("/login").text)

    response = client.post(
        "/login",
        data={"csrf_token": token, "email": "x@example.com", "password": WRONG},
        headers={"X-Forwarded-For": "192.0.2.55", "Referer": "https://localhost/login"},
        environ_base={"REMOTE_ADDR": "198.51.100.7"},
    )

    assert response.status_code == 429


def test_c20_behind_a_trusted_proxy_the_client_is_the_forwarded_address() -> None:
    app = make_app(TRUSTED_PROXIES=1, LOGIN_RATE_LIMIT="3/minute")
    client = app.test_client()
    proxy = {"REMOTE_ADDR": "10.0.0.1"}

    def attempt(forwarded_for: str) -> int:
        token = csrf_token_in(client.get("/login", environ_base=proxy).text)
        return client.post(
            "/login",
            data={"csrf_token": token, "email": "x@example.com", "password": WRONG},
            headers={"X-Forwarded-For": forwarded_for, "Referer": "https://localhost/login"},
            environ_base=proxy,
        ).status_code

    assert [attempt("192.0.2.1") for _ in range(4)] == [422, 422, 422, 429]
    # Another client behind the same proxy has a budget of its own; a spoofed first hop
    # ("1.2.3.4, 192.0.2.1") still counts as the last, trusted hop's client.
    assert attempt("192.0.2.2") == 422
    assert attempt("1.2.3.4, 192.0.2.1") == 429


def test_c18_sign_in_fails_closed_when_the_counter_storage_is_down(
    mocker: MockerFixture,
) -> None:
    """No throttle, no password check: an outage of Redis must not open the door to guessing."""
    app = make_app(
        RATELIMIT_STORAGE_URI="redis://127.0.0.1:1",  # nothing listens on port 1
        PROPAGATE_EXCEPTIONS=False,
    )
    verify = mocker.spy(PasswordHasher, "verify")
    client = app.test_client()
    token = csrf_token_in(client.get("/login").text)

    response = client.post(
        "/login", data={"csrf_token": token, "email": "ann@example.com", "password": WRONG}
    )

    assert response.status_code == 503
    assert "Temporarily unavailable" in response.text
    verify.assert_not_called()


def test_c19_a_locked_account_can_still_reset_its_password_which_lifts_the_lock(
    mail_app: Flask, outbox: Outbox, clock: time_machine.Coordinates
) -> None:
    owner = mail_app.test_client()
    owner.register()
    owner.logout()
    for i in range(6):
        _attempt(owner, "ann@example.com", WRONG, f"203.0.113.{i}")
    assert _attempt(owner, "ann@example.com", STRONG_PASSWORD, "203.0.113.9").status_code == 429

    owner.submit("/password/forgot", {"email": "ann@example.com"})
    jobs.wait()
    link = link_in(outbox.wait_for(1)[0])
    owner.get(link.removeprefix("https://localhost"))
    new_password = "a brand new passphrase for ann"
    done = owner.submit(
        "/password/reset", {"password": new_password, "confirm_password": new_password}
    )

    assert done.status_code == 303
    assert _attempt(owner, "ann@example.com", new_password, "203.0.113.9").status_code == 303


# --- 19: device cookies (OWASP): guesses from elsewhere never lock out the owner's browser ---


OWNER = "ann@example.com"
NEW_PASSWORD = "a brand new passphrase for ann"


def _attacker_guesses(client_of: Callable[[], HttpsClient], times: int) -> list[int]:
    """``times`` wrong guesses, each from a fresh browser at an address of its own."""
    return [
        _attempt(client_of(), OWNER, WRONG, f"10.{i // 250}.{i % 250}.9").status_code
        for i in range(times)
    ]


def _reset_password(browser: HttpsClient, outbox: Outbox, password: str) -> TestResponse:
    """The whole emailed reset, in ``browser``: request, open the link, choose ``password``."""
    jobs.wait()
    before = len(outbox.messages)
    browser.submit("/password/forgot", {"email": OWNER})
    jobs.wait()
    link = link_in(outbox.wait_for(before + 1)[before])
    browser.get(link.removeprefix("https://localhost"))
    return browser.submit("/password/reset", {"password": password, "confirm_password": password})


@pytest.fixture
def owners_browser(
    app_client_factory: Callable[[], HttpsClient], clock: time_machine.Coordinates
) -> HttpsClient:
    """Ann's browser: she signed up there (so it holds a device cookie) and signed out."""
    browser = app_client_factory()
    browser.register()
    browser.logout()
    assert browser.get_cookie(DEVICE_COOKIE) is not None
    return browser


def test_c19_hundreds_of_guesses_never_lock_the_owner_out_of_her_own_browser(
    owners_browser: HttpsClient,
    app_client_factory: Callable[[], HttpsClient],
    clock: time_machine.Coordinates,
    mocker: MockerFixture,
) -> None:
    verify = mocker.spy(PasswordHasher, "verify")
    statuses = []
    for _ in range(110):  # a guess as soon as each wait ends, and another in between
        statuses += _attacker_guesses(app_client_factory, 2)
        clock.shift(timedelta(hours=1, seconds=1))
    verify.reset_mock()

    owner = _attempt(owners_browser, OWNER, STRONG_PASSWORD, "192.0.2.1")

    assert owner.status_code == 303
    assert owners_browser.get("/account").status_code == 200
    assert verify.call_count == 1
    assert statuses.count(422) == 100  # the untrusted clients' ceiling: 100 checks, ever
    assert statuses.count(429) == 120
    # Untrusted clients stay locked out: a fresh browser with the right password too.
    assert _attempt(app_client_factory(), OWNER, STRONG_PASSWORD, "192.0.2.2").status_code == 429


def test_c19_the_owners_browser_gets_in_while_a_wait_runs_for_untrusted_clients(
    owners_browser: HttpsClient,
    app_client_factory: Callable[[], HttpsClient],
    clock: time_machine.Coordinates,
) -> None:
    assert _attacker_guesses(app_client_factory, 6) == [422] * 5 + [429]

    assert _attempt(owners_browser, OWNER, STRONG_PASSWORD, "192.0.2.1").status_code == 303
    # Her success is her browser's: the untrusted clients' wait still runs.
    assert _attacker_guesses(app_client_factory, 1) == [429]


def test_c19_a_fresh_browser_of_the_owner_waits_until_a_completed_reset_lets_it_in(
    mail_app: Flask, outbox: Outbox, clock: time_machine.Coordinates
) -> None:
    new_client(mail_app).register()
    _attacker_guesses(lambda: new_client(mail_app), 120)
    fresh = new_client(mail_app)
    assert _attempt(fresh, OWNER, STRONG_PASSWORD, "192.0.2.1").status_code == 429

    assert _reset_password(fresh, outbox, NEW_PASSWORD).status_code == 303

    assert _attempt(fresh, OWNER, NEW_PASSWORD, "192.0.2.1").status_code == 303


def test_c19_a_device_cookie_of_another_account_or_forged_gives_no_allowance(
    owners_browser: HttpsClient,
    app_client_factory: Callable[[], HttpsClient],
    clock: time_machine.Coordinates,
) -> None:
    mallory = app_client_factory()
    mallory.register(email="mallory@example.com", name="Mallory")  # her own device cookie
    mallory.logout()
    anns = owners_browser.get_cookie(DEVICE_COOKIE)
    assert anns is not None
    payload, _, signature = anns.value.rpartition(".")
    forged = f"{payload}.{'A' * len(signature)}"

    guesses = [_attempt(mallory, OWNER, WRONG, f"203.0.113.{i}").status_code for i in range(5)]
    with_forged = app_client_factory()
    with_forged.set_cookie(DEVICE_COOKIE, forged, domain="localhost")

    # Her five guesses spent the untrusted clients' allowance, which the forged cookie shares.
    assert guesses == [422] * 5
    assert _attempt(with_forged, OWNER, STRONG_PASSWORD, "203.0.113.9").status_code == 429
    assert _attempt(mallory, OWNER, STRONG_PASSWORD, "203.0.113.9").status_code == 429
    assert _attempt(owners_browser, OWNER, STRONG_PASSWORD, "203.0.113.9").status_code == 303


def test_c19_a_device_cookie_is_no_longer_trusted_after_a_password_reset(
    mail_app: Flask, outbox: Outbox, clock: time_machine.Coordinates
) -> None:
    owners_browser = new_client(mail_app)
    owners_browser.register()
    owners_browser.logout()
    before_reset = owners_browser.get_cookie(DEVICE_COOKIE)
    assert before_reset is not None
    assert _reset_password(new_client(mail_app), outbox, NEW_PASSWORD).status_code == 303

    _attacker_guesses(lambda: new_client(mail_app), 6)

    # Still the old cookie, and the right new password: untrusted now, so it waits.
    assert owners_browser.get_cookie(DEVICE_COOKIE) == before_reset
    assert _attempt(owners_browser, OWNER, NEW_PASSWORD, "192.0.2.1").status_code == 429


def test_c19_a_guess_each_window_never_extends_the_wait_of_the_owners_browser(
    owners_browser: HttpsClient,
    app_client_factory: Callable[[], HttpsClient],
    clock: time_machine.Coordinates,
) -> None:
    for i in range(5):  # she mistypes five times herself: her browser waits 30 seconds
        _attempt(owners_browser, OWNER, WRONG, f"192.0.2.{i}")
    waits = []
    for _ in range(3):
        _attacker_guesses(app_client_factory, 1)  # one guess in every window of hers
        clock.shift(timedelta(seconds=9))
        waits.append(_attempt(owners_browser, OWNER, STRONG_PASSWORD, "192.0.2.9"))

    assert [reply.status_code for reply in waits] == [429] * 3
    assert [int(reply.headers["Retry-After"]) for reply in waits] == [21, 12, 3]
    clock.shift(timedelta(seconds=3))
    _attacker_guesses(app_client_factory, 1)
    assert _attempt(owners_browser, OWNER, STRONG_PASSWORD, "192.0.2.9").status_code == 303


def test_c19_confirming_the_password_uses_the_same_rule(
    app_client_factory: Callable[[], HttpsClient], clock: time_machine.Coordinates
) -> None:
    """Re-authentication: the owner's browser confirms; a stolen session alone is untrusted."""
    owner = app_client_factory()
    owner.register()
    thief = app_client_factory()
    copy_cookies(owner, thief, "__Host-session")
    _attacker_guesses(app_client_factory, 5)

    stolen = thief.submit("/account/confirm", {"password": STRONG_PASSWORD})
    own = owner.submit("/account/confirm", {"password": STRONG_PASSWORD})

    assert stolen.status_code == 429
    assert own.status_code == 303


def test_c19_a_password_change_keeps_this_browser_trusted_and_no_other(
    app_client_factory: Callable[[], HttpsClient], clock: time_machine.Coordinates
) -> None:
    laptop, phone = app_client_factory(), app_client_factory()
    laptop.register()
    phone.login()
    changed = laptop.submit(
        "/account/password",
        {
            "current_password": STRONG_PASSWORD,
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
        },
    )
    assert changed.status_code == 303
    laptop.logout()

    _attacker_guesses(app_client_factory, 6)

    assert _attempt(laptop, OWNER, NEW_PASSWORD, "192.0.2.1").status_code == 303
    assert _attempt(phone, OWNER, NEW_PASSWORD, "192.0.2.2").status_code == 429


def test_c19_the_device_cookie_is_host_only_secure_httponly_lax_and_survives_sign_out(
    client: HttpsClient,
) -> None:
    signed_up = client.register()
    signed_out = client.logout()

    cookie = set_cookies(signed_up)[DEVICE_COOKIE]
    assert cookie["secure"] is True
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["path"] == "/"
    assert cookie["domain"] == ""
    assert int(cookie["max-age"]) == 180 * 24 * 3600
    assert DEVICE_COOKIE not in set_cookies(signed_out)
    assert client.get_cookie(DEVICE_COOKIE) is not None


# --- 18: simultaneous guesses get no more checks than the free ones --------------------------


def test_c18_forty_simultaneous_wrong_guesses_get_exactly_five_password_checks(
    database_url: str, mocker: MockerFixture
) -> None:
    app = make_app(SQLALCHEMY_DATABASE_URI=database_url, DATABASE_TIMEOUT=30)
    try:
        new_client(app).register()
        verify = mocker.spy(PasswordHasher, "verify")
        calls = []
        for i in range(40):
            browser = new_client(app)
            token = csrf_token_in(browser.get("/login").text)
            data = {"csrf_token": token, "email": OWNER, "password": WRONG}
            address = {"REMOTE_ADDR": f"10.1.{i}.1"}  # no per-address limit is met
            calls.append(partial(browser.post, "/login", data=data, environ_base=address))

        replies = simultaneously(calls)

        assert sorted(reply.status_code for reply in replies) == [422] * 5 + [429] * 35
        assert verify.call_count == 5
    finally:
        with app.app_context():
            db.engine.dispose()


# --- 20: an IPv6 client is counted by its /64 ------------------------------------------------


def _from(client: HttpsClient, address: str) -> int:
    return _attempt(client, "x@example.com", WRONG, address).status_code


def test_c20_ipv6_addresses_in_one_64_share_a_limit_and_other_64s_do_not() -> None:
    client = make_app(LOGIN_RATE_LIMIT="3/minute").test_client()

    same_64 = [_from(client, f"2001:db8:0:1::{i:x}") for i in range(1, 5)]

    assert same_64 == [422, 422, 422, 429]
    assert _from(client, "2001:db8:0:1:ffff:ffff:ffff:ffff") == 429
    assert _from(client, "2001:db8:0:2::1") == 422


def test_c20_an_ipv4_mapped_address_counts_as_its_ipv4_address() -> None:
    client = make_app(LOGIN_RATE_LIMIT="2/minute").test_client()

    statuses = [_from(client, "198.51.100.7"), _from(client, "::ffff:198.51.100.7")]

    assert statuses == [422, 422]
    assert _from(client, "198.51.100.7") == 429
    assert _from(client, "198.51.100.8") == 422


def test_c20_sessions_keep_the_full_ipv6_address() -> None:
    app = make_app()
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "2001:db8:0:1::abcd"

    client.register()

    assert [row.ip for row in stored_sessions(app)] == ["2001:db8:0:1::abcd"]
