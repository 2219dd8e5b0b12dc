"""Per-account sign-in throttling: growing waits after failures and a hard ceiling.

Counters live in the rate limiter's storage (memory locally, Redis when several processes
serve), keyed by a fingerprint of the normalized email whether or not an account has it,
so a throttled unknown address behaves exactly like a throttled real one.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from limits.storage import Storage

from webapp.extensions import counters
from webapp.services.errors import LoginThrottled


@dataclass(frozen=True)
class ThrottlePolicy:
    """How many failures are free, how the wait grows, and where it stops."""

    free_failures: int = 5
    first_wait: timedelta = timedelta(seconds=30)
    max_wait: timedelta = timedelta(hours=1)
    max_failures: int = 100
    memory: timedelta = timedelta(days=365)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ThrottlePolicy | None:
        """The policy an app's settings describe, or None when rate limiting is off."""
        if not config.get("RATELIMIT_ENABLED", True):
            return None
        return cls(
            free_failures=config["LOGIN_FREE_FAILURES"],
            first_wait=config["LOGIN_FIRST_WAIT"],
            max_wait=config["LOGIN_MAX_WAIT"],
            max_failures=config["LOGIN_MAX_FAILURES"],
            memory=config["LOGIN_FAILURE_MEMORY"],
        )

    def wait_after(self, failures: int) -> timedelta:
        """The wait imposed after the ``failures``-th consecutive failure."""
        if failures < self.free_failures:
            return timedelta(0)
        doublings = min(failures - self.free_failures, 32)  # 2**32 waits exceed any cap
        return min(self.first_wait * 2**doublings, self.max_wait)


def _store() -> Storage:
    return counters()


def _keys(account: str) -> tuple[str, str]:
    return f"login-failures/{account}", f"login-wait/{account}"


def _seconds_left(store: Storage, key: str) -> int:
    return max(1, math.ceil(store.get_expiry(key) - time.time()))


def reserve_attempt(account: str, policy: ThrottlePolicy) -> int:
    """Count one password check for ``account`` and return its number, or raise LoginThrottled.

    The count is taken before the password is checked, atomically in the storage, so even
    simultaneous requests to several processes never get more than ``max_failures`` checks.
    """
    store = _store()
    failures_key, wait_key = _keys(account)
    if store.get(wait_key):
        raise LoginThrottled(_seconds_left(store, wait_key))
    attempt = store.incr(failures_key, int(policy.memory.total_seconds()))
    if attempt > policy.max_failures:
        # Only a successful password reset (or the counter's expiry) lifts this.
        raise LoginThrottled(_seconds_left(store, failures_key))
    return attempt


def record_failure(account: str, attempt: int, policy: ThrottlePolicy) -> None:
    """Impose the wait that the ``attempt``-th consecutive failure earns."""
    wait = policy.wait_after(attempt)
    if wait:
        store = _store()
        _, wait_key = _keys(account)
        store.clear(wait_key)
        store.incr(wait_key, int(wait.total_seconds()))


def record_success(account: str) -> None:
    """Forget the account's failures: the streak is over."""
    store = _store()
    for key in _keys(account):
        store.clear(key)
