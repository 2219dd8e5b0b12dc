"""Sign-in throttling: the policy read from the settings, the waits at their edges, and
which device cookies are trusted.

The counters are the testing app's own in-memory storage; the clock is stopped, so every
``retry_after`` is exact.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from flask import Flask
from itsdangerous import URLSafeTimedSerializer

from webapp.services import throttle
from webapp.services.errors import LoginThrottled
from webapp.services.throttle import ThrottlePolicy

ACCOUNT = "fingerprint-of-ann"
SETTINGS = {
    "RATELIMIT_ENABLED": True,
    "LOGIN_FREE_FAILURES": 3,
    "LOGIN_FIRST_WAIT": timedelta(seconds=10),
    "LOGIN_MAX_WAIT": timedelta(minutes=5),
    "LOGIN_MAX_FAILURES": 20,
    "LOGIN_FAILURE_MEMORY": timedelta(days=1),
    "DEVICE_COOKIE_LIFETIME": timedelta(days=7),
}
PASSWORD_HASH = "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(datetime(2030, 1, 1, 9, 0, tzinfo=UTC), tick=False) as traveller:
        yield traveller


def _fail(policy: ThrottlePolicy, times: int) -> None:
    # A failure needs nothing recorded: its reservation already set the wait it earns.
    for _ in range(times):
        throttle.reserve_attempt(ACCOUNT, policy)


def _retry_after(policy: ThrottlePolicy) -> int:
    with pytest.raises(LoginThrottled) as raised:
        throttle.reserve_attempt(ACCOUNT, policy)
    return raised.value.retry_after


# --- ThrottlePolicy.from_config ---------------------------------------------------------------


def test_from_config_takes_every_setting() -> None:
    assert ThrottlePolicy.from_config(SETTINGS) == ThrottlePolicy(
        free_failures=3,
        first_wait=timedelta(seconds=10),
        max_wait=timedelta(minutes=5),
        max_failures=20,
        memory=timedelta(days=1),
        device_lifetime=timedelta(days=7),
    )


def test_from_config_carries_the_device_cookie_it_is_given() -> None:
    policy = ThrottlePolicy.from_config(SETTINGS, "the cookie as sent")

    assert policy is not None
    assert policy.device_cookie == "the cookie as sent"
    assert ThrottlePolicy.from_config(SETTINGS) == replace(policy, device_cookie=None)


def test_from_config_limits_when_the_setting_is_absent() -> None:
    # Fail safe: an app whose settings never mention rate limiting still throttles sign-ins.
    settings = {key: value for key, value in SETTINGS.items() if key != "RATELIMIT_ENABLED"}

    assert ThrottlePolicy.from_config(settings) == ThrottlePolicy.from_config(SETTINGS)


def test_from_config_gives_no_policy_when_rate_limiting_is_off() -> None:
    assert ThrottlePolicy.from_config({**SETTINGS, "RATELIMIT_ENABLED": False}) is None


# --- the counters -----------------------------------------------------------------------------


@pytest.mark.usefixtures("app_context")
def test_the_last_fraction_of_a_second_counts_as_one(clock: time_machine.Traveller) -> None:
    policy = ThrottlePolicy()
    _fail(policy, policy.free_failures)  # the first wait: 30 seconds

    clock.shift(timedelta(seconds=29.5))

    assert _retry_after(policy) == 1


@pytest.mark.usefixtures("app_context")
def test_the_hard_ceiling_lasts_as_long_as_failures_are_remembered(
    clock: time_machine.Traveller,
) -> None:
    policy = ThrottlePolicy(free_failures=10, max_failures=3, memory=timedelta(hours=1))
    _fail(policy, 3)  # all free: no wait, only the count
    clock.shift(timedelta(minutes=10))

    assert _retry_after(policy) == 50 * 60


@pytest.mark.usefixtures("app_context", "clock")
def test_the_wait_a_failure_earns_starts_when_its_check_is_reserved() -> None:
    """Two requests in flight: the second is refused while the first is still being checked."""
    policy = ThrottlePolicy()
    _fail(policy, policy.free_failures - 1)

    assert throttle.reserve_attempt(ACCOUNT, policy) == policy.free_failures

    assert _retry_after(policy) == 30


@pytest.mark.usefixtures("app_context", "clock")
def test_a_success_lifts_the_wait_its_own_reservation_set() -> None:
    policy = ThrottlePolicy()
    _fail(policy, policy.free_failures)

    throttle.record_success(ACCOUNT)

    assert throttle.reserve_attempt(ACCOUNT, policy) == 1


@pytest.mark.usefixtures("app_context", "clock")
def test_a_device_and_the_untrusted_clients_count_apart() -> None:
    policy = ThrottlePolicy()
    _fail(policy, policy.free_failures)

    assert throttle.reserve_attempt(ACCOUNT, policy, "device-1") == 1
    throttle.record_success(ACCOUNT, "device-1")
    assert _retry_after(policy) == 30  # a trusted success leaves the untrusted lock alone


def test_the_wait_schedule_lists_each_wait_once_up_to_the_cap() -> None:
    assert ThrottlePolicy().wait_schedule() == [30, 60, 120, 240, 480, 960, 1920, 3600]
    assert ThrottlePolicy(first_wait=timedelta(0)).wait_schedule() == [0]
    assert ThrottlePolicy(first_wait=timedelta(hours=2)).wait_schedule() == [3600]


# --- device cookies ---------------------------------------------------------------------------


def _trusted(
    cookie: str | None, account: str = ACCOUNT, password_hash: str = PASSWORD_HASH
) -> str | None:
    policy = ThrottlePolicy.from_config(SETTINGS, cookie)
    return throttle.trusted_device(policy, account, password_hash)


@pytest.mark.usefixtures("app_context")
def test_a_device_cookie_names_a_new_random_device_each_time() -> None:
    first = _trusted(throttle.issue_device_cookie(ACCOUNT, PASSWORD_HASH))
    second = _trusted(throttle.issue_device_cookie(ACCOUNT, PASSWORD_HASH))

    assert first is not None
    assert second is not None
    assert first != second
    assert len(first) >= 22  # 128 bits


@pytest.mark.usefixtures("app_context")
def test_a_device_cookie_is_not_trusted_for_another_account_or_password() -> None:
    cookie = throttle.issue_device_cookie(ACCOUNT, PASSWORD_HASH)

    assert _trusted(cookie, account="fingerprint-of-bob") is None
    assert _trusted(cookie, password_hash=PASSWORD_HASH + "x") is None


@pytest.mark.usefixtures("app_context")
@pytest.mark.parametrize(
    "cookie",
    [None, "", "garbage", "eyJhIjoxfQ.AAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAA"],
    ids=["none", "empty", "garbage", "unsigned"],
)
def test_a_missing_or_unsigned_device_cookie_is_not_trusted(cookie: str | None) -> None:
    assert _trusted(cookie) is None


def test_a_device_cookie_signed_under_another_key_or_salt_is_not_trusted(app: Flask) -> None:
    claims = {"account": ACCOUNT, "device": "forged", "password": "0" * 16}
    other_key = URLSafeTimedSerializer("another key", salt=throttle.DEVICE_COOKIE_SALT)
    other_salt = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="other")
    with app.app_context():
        assert _trusted(other_key.dumps(claims)) is None
        assert _trusted(other_salt.dumps(claims)) is None


@pytest.mark.parametrize(
    "claims",
    [["a list"], {"account": ACCOUNT}, {"account": ACCOUNT, "device": 1, "password": "x"}],
    ids=["not a mapping", "missing claims", "not strings"],
)
def test_a_validly_signed_cookie_of_the_wrong_shape_is_not_trusted(
    app: Flask, claims: object
) -> None:
    signer = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=throttle.DEVICE_COOKIE_SALT)
    with app.app_context():
        assert _trusted(signer.dumps(claims)) is None


@pytest.mark.usefixtures("app_context")
def test_a_device_cookie_expires_after_its_lifetime(clock: time_machine.Traveller) -> None:
    cookie = throttle.issue_device_cookie(ACCOUNT, PASSWORD_HASH)

    clock.shift(timedelta(days=7))
    assert _trusted(cookie) is not None
    clock.shift(timedelta(seconds=1))
    assert _trusted(cookie) is None


@pytest.mark.usefixtures("app_context")
def test_without_a_policy_or_an_account_no_device_is_trusted() -> None:
    cookie = throttle.issue_device_cookie(ACCOUNT, PASSWORD_HASH)
    policy = ThrottlePolicy.from_config(SETTINGS, cookie)

    assert throttle.trusted_device(None, ACCOUNT, PASSWORD_HASH) is None
    assert throttle.trusted_device(policy, ACCOUNT, None) is None
