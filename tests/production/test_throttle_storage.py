"""The sign-in throttle's reservations are atomic in each counter storage (checklist item 18).

Forty threads reserve a password check for one account at the same moment, on the in-process
memory storage and on Redis: exactly the free ones get a check, because the wait a failure
would earn is set in the same step that counts it. With a read of the wait followed by a
separate increment, every one of them would pass the read.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask

from tests.production.servers import simultaneously
from tests.support import make_app
from webapp.extensions import counters
from webapp.services import throttle
from webapp.services.errors import LoginThrottled
from webapp.services.throttle import ThrottlePolicy

SIMULTANEOUS = 40
ACCOUNT = "fingerprint-of-ann"
POLICY = ThrottlePolicy()


@pytest.fixture(params=["memory", "redis"])
def counting_app(request: pytest.FixtureRequest) -> Flask:
    """A testing app counting in memory, or in the test Redis database (emptied first)."""
    if request.param == "memory":
        return make_app(tables=False)
    return make_app(tables=False, RATELIMIT_STORAGE_URI=request.getfixturevalue("fresh_redis"))


def _reservation(app: Flask, device: str | None = None) -> Callable[[], int | None]:
    def reserve() -> int | None:
        with app.app_context():
            try:
                return throttle.reserve_attempt(ACCOUNT, POLICY, device)
            except LoginThrottled:
                return None

    return reserve


def test_c18_forty_simultaneous_reservations_get_exactly_the_five_free_checks(
    counting_app: Flask,
) -> None:
    attempts = simultaneously([_reservation(counting_app)] * SIMULTANEOUS)

    assert sorted(attempt for attempt in attempts if attempt is not None) == [1, 2, 3, 4, 5]
    assert attempts.count(None) == SIMULTANEOUS - POLICY.free_failures


def test_c18_a_trusted_device_keeps_its_own_checks_while_others_race(
    counting_app: Flask,
) -> None:
    calls = [_reservation(counting_app)] * SIMULTANEOUS + [_reservation(counting_app, "mine")]

    attempts = simultaneously(calls)

    assert attempts[-1] == 1
    assert len([attempt for attempt in attempts[:-1] if attempt is not None]) == 5


def test_c18_both_storages_impose_the_policys_waits(counting_app: Flask) -> None:
    """Redis computes the waits in its script: they must be the policy's, up to the cap."""
    policy = ThrottlePolicy(free_failures=2, max_failures=12)
    failures_key, _ = throttle._keys(ACCOUNT, None)
    waits = []
    with counting_app.app_context():
        for failures in range(1, policy.max_failures + 1):
            throttle.record_success(ACCOUNT)
            if failures > 1:  # the failures before this one, counted straight in the storage
                counters().incr(failures_key, 3600, amount=failures - 1)
            assert throttle.reserve_attempt(ACCOUNT, policy) == failures
            try:
                throttle.reserve_attempt(ACCOUNT, policy)
            except LoginThrottled as refused:
                waits.append(refused.retry_after)
            else:
                waits.append(0)

    assert waits == [policy.wait_after(n).total_seconds() for n in range(1, 13)]
    assert waits[-1] == policy.max_wait.total_seconds()
