"""Password policy (NIST SP 800-63B style) and Argon2id hashing, free of any Flask dependency."""

from __future__ import annotations

import functools
import re
import secrets
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.resources import files

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from werkzeug.security import check_password_hash

from webapp.password_patterns import pattern_reason

__all__ = [
    "PasswordHasher",
    "PasswordPolicy",
    "PasswordRejected",
    "load_blocklist",
    "normalize",
]

# No code point decomposes canonically into more than 4 code points, so NFC can shrink a string
# at most 4-fold; anything longer than this is too long whatever normalization does.
_MAX_NFC_SHRINK = 4
_MIN_CONTEXT_WORD = 4
_LEGACY_PREFIXES = ("pbkdf2:", "scrypt:")
_ARGON2ID_PREFIX = "$argon2id$"
_SEPARATORS = re.compile(r"[\W_]+")

_CONTEXT_REASON = "Don't build your password from your email address, your name or the site's name."


def normalize(password: str) -> str:
    """Return the NFC form of password, without trimming or case folding."""
    return unicodedata.normalize("NFC", password)


class PasswordRejected(ValueError):
    """A password failed the policy; .reason is a sentence to show to the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@functools.cache
def load_blocklist() -> frozenset[str]:
    """Return the shipped list of common passwords, lowercased."""
    text = (files("webapp") / "data" / "common-passwords.txt").read_text(encoding="utf-8")
    return frozenset(line for line in text.splitlines() if line)


def _characters(n: int) -> str:
    """Return "n characters" with the right plural."""
    return f"{n} character" if n == 1 else f"{n} characters"


def _context_words(context: Iterable[str]) -> set[str]:
    """Return the lowercased words of at least 4 characters derived from the context strings."""
    sources: list[str] = []
    for item in context:
        if not item:
            continue
        text = normalize(item).lower()
        sources.append(text)
        local, at, domain = text.rpartition("@")
        if at:
            # Users commonly reuse the local part or the domain of their address on their own.
            sources.extend((local, domain))
    words: set[str] = set()
    for text in sources:
        parts = [part for part in _SEPARATORS.split(text) if part]
        words.update((text, "".join(parts), *parts))
    return {word for word in words if len(word) >= _MIN_CONTEXT_WORD}


@dataclass(frozen=True)
class PasswordPolicy:
    """Length, blocklist, pattern and context checks on NFC text; no composition rules."""

    min_length: int = 15
    max_length: int = 1024
    blocklist: frozenset[str] = field(default_factory=load_blocklist, repr=False)
    site_name: str = ""

    def __post_init__(self) -> None:
        """Reject a configuration that no password could satisfy."""
        if not 1 <= self.min_length <= self.max_length:
            raise ValueError("PasswordPolicy needs 1 <= min_length <= max_length")

    def check(self, password: str, *, context: Iterable[str] = ()) -> None:
        """Raise PasswordRejected with a user-facing reason if password is unacceptable."""
        # Bound the size before normalizing so huge inputs are rejected without real work.
        if len(password) > self.max_length * _MAX_NFC_SHRINK:
            raise PasswordRejected(f"Use at most {_characters(self.max_length)}.")
        password = normalize(password)
        if len(password) < self.min_length:
            raise PasswordRejected(f"Use at least {_characters(self.min_length)}.")
        if len(password) > self.max_length:
            raise PasswordRejected(f"Use at most {_characters(self.max_length)}.")
        categories = {unicodedata.category(c) for c in password}
        if "Cc" in categories:
            raise PasswordRejected(
                "Control characters, such as line breaks or tabs, are not allowed in passwords."
            )
        if "Cs" in categories:
            # Lone surrogates cannot be encoded as UTF-8, so they could never be hashed.
            raise PasswordRejected("Your password contains characters that are not valid text.")
        lowered = password.lower()
        if lowered in self.blocklist:
            raise PasswordRejected(
                "This password is on a list of commonly used passwords, "
                "so attackers try it early. Choose a different one."
            )
        # Checked before the patterns so that "alicesmithalicesmith" gets the more useful reason.
        words = _context_words([*context, self.site_name])
        found = sorted((word for word in words if word in lowered), key=len, reverse=True)
        if found:
            remainder = lowered
            for word in found:
                remainder = remainder.replace(word, "")
            if len(remainder) < self.min_length:
                raise PasswordRejected(_CONTEXT_REASON)
        reason = pattern_reason(lowered)
        if reason:
            raise PasswordRejected(reason)


class PasswordHasher:
    """Argon2id hashing with transparent verification of legacy Werkzeug hashes."""

    def __init__(self, time_cost: int = 2, memory_cost: int = 19456, parallelism: int = 1) -> None:
        """Configure Argon2id; the defaults follow the OWASP recommendation (19 MiB, t=2, p=1)."""
        self._argon2 = argon2.PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_cost,
            parallelism=parallelism,
            hash_len=32,
            salt_len=16,
            type=argon2.Type.ID,
        )
        self._dummy_hash: str | None = None

    @property
    def parameters(self) -> tuple[int, int, int]:
        """Return (time_cost, memory_cost, parallelism)."""
        return (self._argon2.time_cost, self._argon2.memory_cost, self._argon2.parallelism)

    def hash(self, password: str) -> str:
        """Return an Argon2id PHC string for the NFC-normalized password."""
        return self._argon2.hash(normalize(password))

    def verify(self, stored_hash: str, password: str) -> bool:
        """Return whether password matches stored_hash; never raises for bad input."""
        if stored_hash.startswith(_LEGACY_PREFIXES):
            return self._verify_legacy(stored_hash, password)
        try:
            return self._argon2.verify(stored_hash, normalize(password))
        except (VerifyMismatchError, VerificationError, InvalidHashError, UnicodeEncodeError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        """Return whether stored_hash should be replaced by a hash with the current parameters."""
        if not stored_hash.startswith(_ARGON2ID_PREFIX):
            return True
        try:
            return self._argon2.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return True

    def dummy_verify(self, password: str) -> None:
        """Spend the same effort as verify() when there is no real hash, e.g. for unknown emails."""
        if self._dummy_hash is None:
            self._dummy_hash = self._argon2.hash(secrets.token_urlsafe())
        self.verify(self._dummy_hash, password)

    def _verify_legacy(self, stored_hash: str, password: str) -> bool:
        """Check a Werkzeug pbkdf2/scrypt hash so that it can be upgraded after login."""
        # Legacy hashes were made from whatever the browser sent, so also try the other forms.
        candidates = dict.fromkeys(
            (normalize(password), password, unicodedata.normalize("NFD", password))
        )
        try:
            return any(check_password_hash(stored_hash, candidate) for candidate in candidates)
        except (ValueError, TypeError):
            return False
