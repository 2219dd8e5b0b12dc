"""Sign-in throttling: growing waits after failures, a hard ceiling, and trusted devices.

Every password check is judged against one failure counter. A browser that presents a
valid device cookie for the account (OWASP's "device cookie" design: the owner signed in
there before) has a counter of its own; every other client shares the account's counter
for untrusted clients. So someone who knows only the address can make untrusted clients
wait, never the owner on a browser the owner used before, and the emailed reset ends the
untrusted lock for everyone else.

Counters live in the app's counter storage (memory locally, Redis when several processes
serve), keyed by a fingerprint of the normalized email whether or not an account has it,
so a throttled unknown address behaves exactly like a throttled real one.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import current_app
from itsdangerous import BadData, URLSafeTimedSerializer
from limits.storage import MemoryStorage, RedisStorage, Storage

from webapp.extensions import counters
from webapp.services.errors import LoginThrottled

# Signatures of device cookies are good for nothing else signed under SECRET_KEY.
DEVICE_COOKIE_SALT = "device-cookie"


@dataclass(frozen=True)
class ThrottlePolicy:
    """How many failures are free, how the wait grows, where it stops, and who is asking.

    ``device_cookie`` is the device cookie the browser sent, as sent (or None): it is
    checked here, so the web layer only carries it.
    """

    free_failures: int = 5
    first_wait: timedelta = timedelta(seconds=30)
    max_wait: timedelta = timedelta(hours=1)
    max_failures: int = 100
    memory: timedelta = timedelta(days=365)
    device_lifetime: timedelta = timedelta(days=180)
    device_cookie: str | None = None

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any], device_cookie: str | None = None
    ) -> ThrottlePolicy | None:
        """The policy an app's settings describe, or None when rate limiting is off."""
        if not config.get("RATELIMIT_ENABLED", True):
            return None
        return cls(
            free_failures=config["LOGIN_FREE_FAILURES"],
            first_wait=config["LOGIN_FIRST_WAIT"],
            max_wait=config["LOGIN_MAX_WAIT"],
            max_failures=config["LOGIN_MAX_FAILURES"],
            memory=config["LOGIN_FAILURE_MEMORY"],
            device_lifetime=config["DEVICE_COOKIE_LIFETIME"],
            device_cookie=device_cookie,
        )

    def wait_after(self, failures: int) -> timedelta:
        """The wait imposed after the ``failures``-th consecutive failure."""
        if failures < self.free_failures:
            return timedelta(0)
        doublings = min(failures - self.free_failures, 32)  # 2**32 waits exceed any cap
        return min(self.first_wait * 2**doublings, self.max_wait)

    def wait_schedule(self) -> list[int]:
        """Whole-second waits after failure ``free_failures``, the next, ...; the last repeats."""
        schedule = []
        # wait_after stops doubling after 32 steps, so the list ends by then at the latest.
        for failures in range(self.free_failures, self.free_failures + 33):
            wait = self.wait_after(failures)
            schedule.append(math.ceil(wait.total_seconds()))
            if not wait or wait >= self.max_wait:
                break
        return schedule


# --- device cookies ----------------------------------------------------------------------------


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=DEVICE_COOKIE_SALT)


def _password_digest(password_hash: str) -> str:
    # Any new password (a reset, a change, a rehash) makes every earlier device cookie
    # worthless; keyed, so the cookie tells its holder nothing about the hash.
    key = current_app.config["SECRET_KEY"].encode()
    message = f"{DEVICE_COOKIE_SALT}:{password_hash}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:16]


def issue_device_cookie(account: str, password_hash: str) -> str:
    """A new signed device cookie naming ``account`` and a random device, bound to the password."""
    return _serializer().dumps(
        {
            "account": account,
            "device": secrets.token_urlsafe(16),
            "password": _password_digest(password_hash),
        }
    )


def trusted_device(
    policy: ThrottlePolicy | None, account: str, password_hash: str | None
) -> str | None:
    """The device the policy's cookie names, if it is valid for this account now; else None.

    Invalid means: no cookie, a bad signature, older than the policy's device lifetime,
    another account's, or issued before the password last changed.
    """
    if policy is None or policy.device_cookie is None or password_hash is None:
        return None
    try:
        claims = _serializer().loads(
            policy.device_cookie, max_age=int(policy.device_lifetime.total_seconds())
        )
    except BadData:
        return None
    if not isinstance(claims, dict):
        return None
    named = (claims.get("account"), claims.get("device"), claims.get("password"))
    if not all(isinstance(value, str) for value in named):
        return None
    cookie_account, device, password = named
    if not (
        hmac.compare_digest(cookie_account, account)
        and hmac.compare_digest(password, _password_digest(password_hash))
    ):
        return None
    return str(device)


# --- counters ------------------------------------------------------------------------------------


def _keys(account: str, device: str | None) -> tuple[str, str]:
    """The failure count and the running wait: a trusted device's own, or the account's."""
    counter = account if device is None else f"{account}/device/{device}"
    return f"login-failures/{counter}", f"login-wait/{counter}"


def _retry_after(seconds: float) -> int:
    return max(1, math.ceil(seconds))


# Reserving is one step in the storage: the running wait is checked, the failure counted
# and the wait this attempt would earn imposed at once, so simultaneous attempts (threads,
# workers, instances) each see the ones before them. A success lifts that wait again.
#   KEYS: failures, wait. ARGV: memory (s), max failures, free failures, wait schedule (s)...
# Returns {attempt, 0}, or {0, milliseconds to wait} when refused.
_RESERVE_SCRIPT = """
local waiting = redis.call('PTTL', KEYS[2])
if waiting > 0 then return {0, waiting} end
local failures = redis.call('INCR', KEYS[1])
if failures == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
if failures > tonumber(ARGV[2]) then
  return {0, math.max(redis.call('PTTL', KEYS[1]), 1)}
end
local step = failures - tonumber(ARGV[3]) + 1
if step >= 1 then
  local seconds = tonumber(ARGV[3 + math.min(step, #ARGV - 3)])
  if seconds > 0 then redis.call('SET', KEYS[2], 1, 'EX', seconds) end
end
return {failures, 0}
"""

# The memory storage serves one process (production refuses it with several workers), so a
# lock in that process makes its reservations atomic too.
_memory_lock = threading.Lock()


def _reserve_in_redis(store: RedisStorage, keys: tuple[str, str], policy: ThrottlePolicy) -> int:
    client = store.get_connection()
    script = client.register_script(_RESERVE_SCRIPT)
    attempt, waiting_ms = script(
        keys=[store.prefixed_key(key) for key in keys],
        args=[
            int(policy.memory.total_seconds()),
            policy.max_failures,
            policy.free_failures,
            *policy.wait_schedule(),
        ],
    )
    if not attempt:
        raise LoginThrottled(_retry_after(int(waiting_ms) / 1000))
    return int(attempt)


def _reserve_in_memory(store: Storage, keys: tuple[str, str], policy: ThrottlePolicy) -> int:
    failures_key, wait_key = keys
    with _memory_lock:
        if store.get(wait_key):
            raise LoginThrottled(_retry_after(store.get_expiry(wait_key) - time.time()))
        attempt = store.incr(failures_key, int(policy.memory.total_seconds()))
        if attempt > policy.max_failures:
            # No check runs now, so no success can lift this: only the counter's expiry,
            # or for untrusted clients a password reset.
            raise LoginThrottled(_retry_after(store.get_expiry(failures_key) - time.time()))
        wait = policy.wait_after(attempt)
        if wait:
            store.clear(wait_key)
            store.incr(wait_key, math.ceil(wait.total_seconds()))
        return attempt


def reserve_attempt(account: str, policy: ThrottlePolicy, device: str | None = None) -> int:
    """Count one password check and return its number, or raise LoginThrottled.

    Counted on the trusted ``device``'s own counter, or the account's shared one for
    untrusted clients. The wait a failure would earn starts now, before the password is
    checked, so of any number of simultaneous attempts only the free ones are checked.
    """
    store = counters()
    keys = _keys(account, device)
    if isinstance(store, RedisStorage):
        return _reserve_in_redis(store, keys, policy)
    if isinstance(store, MemoryStorage):
        return _reserve_in_memory(store, keys, policy)
    raise TypeError(f"no atomic sign-in throttle for {type(store).__name__}")


def record_success(account: str, device: str | None = None) -> None:
    """End the streak of failures on that counter (and the wait its last reservation set)."""
    store = counters()
    for key in _keys(account, device):
        store.clear(key)
