"""Sign-in throttling: the policy read from the settings, and the waits at their edges.

The counters are the testing app's own in-memory storage; the clock is stopped, so every
``retry_after`` is exact.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

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
}


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(datetime(2030, 1, 1, 9, 0, tzinfo=UTC), tick=False) as traveller:
        yield traveller


def _fail(policy: ThrottlePolicy, times: int) -> None:
    for _ in range(times):
        throttle.record_failure(ACCOUNT, throttle.reserve_attempt(ACCOUNT, policy), policy)


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
    )


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
def test_a_later_failure_replaces_the_running_wait() -> None:
    """Two checks reserved at once (two requests in flight) fail one after the other."""
    policy = ThrottlePolicy()
    _fail(policy, policy.free_failures - 1)
    fifth = throttle.reserve_attempt(ACCOUNT, policy)
    sixth = throttle.reserve_attempt(ACCOUNT, policy)

    throttle.record_failure(ACCOUNT, fifth, policy)  # 30 seconds
    throttle.record_failure(ACCOUNT, sixth, policy)  # 60 seconds

    assert _retry_after(policy) == 60
