"""Sign-in throttling that cannot be turned against users (checklist items 16-20)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from flask import Flask
from pytest_mock import MockerFixture
from werkzeug.test import TestResponse

from tests.smtp import Outbox, link_in
from tests.support import STRONG_PASSWORD, HttpsClient, csrf_token_in, make_app, set_cookies
from webapp.extensions import jobs
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
