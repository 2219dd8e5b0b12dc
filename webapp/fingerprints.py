"""Keyed hashes that name an account in logs and counters without revealing its address."""

from __future__ import annotations

import hashlib
import hmac

from flask import current_app


def fingerprint(value: str) -> str:
    """HMAC-SHA256 of ``value`` under the app's SECRET_KEY, hex, 32 characters."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:32]
