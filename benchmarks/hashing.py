"""Password hashing compared: milliseconds per hash and sign-ins per second per core."""

from __future__ import annotations

import hashlib
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import bcrypt
from werkzeug.security import generate_password_hash

from webapp.passwords import PasswordHasher

PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class HashResult:
    """One scheme's measured cost and its standing against OWASP's floors."""

    scheme: str
    ms_per_hash: float
    sign_ins_per_core_per_second: float
    owasp: str


def _median_ms(hash_once: Callable[[], object], rounds: int) -> float:
    hash_once()  # warm up
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        hash_once()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def measure(rounds: int = 15) -> list[HashResult]:
    """Time each scheme; the figures are for one core (each hash is single-threaded)."""
    ours = PasswordHasher()  # the production defaults: m=19456 KiB, t=2, p=1
    salt = b"0123456789abcdef"
    schemes: list[tuple[str, Callable[[], object], str]] = [
        ("Argon2id m=19456 t=2 p=1 (this app)", lambda: ours.hash(PASSWORD), "meets the floor"),
        (
            "scrypt N=2^15 r=8 p=1 (Werkzeug default)",
            lambda: generate_password_hash(PASSWORD),
            "below the floor (N=2^17)",
        ),
        (
            "scrypt N=2^17 r=8 p=1 (OWASP floor)",
            lambda: hashlib.scrypt(
                PASSWORD.encode(), salt=salt, n=2**17, r=8, p=1, maxmem=2**28, dklen=64
            ),
            "meets the floor",
        ),
        (
            "bcrypt cost 12",
            lambda: bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(12)),
            "legacy only (cost >= 10)",
        ),
        (
            "PBKDF2-HMAC-SHA256 1,000,000",
            lambda: hashlib.pbkdf2_hmac("sha256", PASSWORD.encode(), salt, 1_000_000),
            "meets the floor (600,000)",
        ),
    ]
    results = []
    for name, hash_once, status in schemes:
        ms = _median_ms(hash_once, rounds if "1,000,000" not in name else max(3, rounds // 3))
        results.append(HashResult(name, round(ms, 1), round(1000 / ms, 1), status))
    return results


def as_dicts(results: list[HashResult]) -> list[dict[str, object]]:
    """JSON-ready."""
    return [asdict(r) for r in results]
