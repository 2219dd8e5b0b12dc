"""The sign-in throttle's reservations are atomic in each counter storage (checklist item 18).

Forty threads reserve a password check for one account at the same moment, on the in-process
memory storage and on Redis: exactly the free ones get a check, because the wait a failure
would earn is set in the same step that counts it. With a read of the wait followed by a
separate increment, every one of them would pass the read.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator

import pytest
from flask import Flask

from tests.production.servers import simultaneously
from tests.support import make_app
from webapp.extensions import counters
from webapp.services import throttle
from webapp.services.errors import LoginThrottled
from webapp.services.throttle import ThrottlePolicy

SIMULTANEOUS = 40
DEVICE = "mine"
POLICY = ThrottlePolicy()


@pytest.fixture
def account() -> str:
    """A counter of this test's own: no other test, on this worker or another, names it."""
    return f"fingerprint-{secrets.token_hex(8)}"


@pytest.fixture(params=["memory", "redis"])
def counting_app(request: pytest.FixtureRequest, account: str) -> Iterator[Flask]:
    """A testing app counting in memory, or in the test Redis database.

    The Redis database is shared with the tests the other xdist worker runs, so it is not
    emptied (that would pull the counters from under one of them); this test's counters are
    named apart and removed afterwards instead.
    """
    if request.param == "memory":
        app = make_app(tables=False)
    else:
        app = make_app(tables=False, RATELIMIT_STORAGE_URI=request.getfixturevalue("redis_url"))
    yield app
    with app.app_context():
        for device in (None, DEVICE):
            throttle.record_success(account, device)


def _reservation(app: Flask, account: str, device: str | None = None) -> Callable[[], int | None]:
    def reserve() -> int | None:
        with app.app_context():
            try:
                return throttle.reserve_attempt(account, POLICY, device)
            except LoginThrottled:
                return None

    return reserve


def test_c18_forty_simultaneous_reservations_get_exactly_the_five_free_checks(
    counting_app: Flask, account: str
) -> None:
    attempts = simultaneously([_reservation(counting_app, account)] * SIMULTANEOUS)

    assert sorted(attempt for attempt in attempts if attempt is not None) == [1, 2, 3, 4, 5]
    assert attempts.count(None) == SIMULTANEOUS - POLICY.free_failures


def test_c18_a_trusted_device_keeps_its_own_checks_while_others_race(
    counting_app: Flask, account: str
) -> None:
    others = [_reservation(counting_app, account)] * SIMULTANEOUS
    calls = [*others, _reservation(counting_app, account, DEVICE)]

    attempts = simultaneously(calls)

    assert attempts[-1] == 1
    assert len([attempt for attempt in attempts[:-1] if attempt is not None]) == 5


def test_c18_both_storages_impose_the_policys_waits(counting_app: Flask, account: str) -> None:
    """Redis computes the waits in its script: they must be the policy's, up to the cap."""
    policy = ThrottlePolicy(free_failures=2, max_failures=12)
    failures_key, _ = throttle._keys(account, None)
    waits = []
    with counting_app.app_context():
        for failures in range(1, policy.max_failures + 1):
            throttle.record_success(account)
            if failures > 1:  # the failures before this one, counted straight in the storage
                counters().incr(failures_key, 3600, amount=failures - 1)
            assert throttle.reserve_attempt(account, policy) == failures
            try:
                throttle.reserve_attempt(account, policy)
            except LoginThrottled as refused:
                waits.append(refused.retry_after)
            else:
                waits.append(0)

    assert waits == [policy.wait_after(n).total_seconds() for n in range(1, 13)]
    assert waits[-1] == policy.max_wait.total_seconds()
