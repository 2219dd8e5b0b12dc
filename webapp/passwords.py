"""Password policy (NIST SP 800-63B style) and Argon2id hashing, free of any Flask dependency."""

from __future__ import annotations

import functools
import itertools
import operator
import re
import secrets
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from typing import NamedTuple

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from werkzeug.security import check_password_hash

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

# Predictable shapes, after the repeat, sequence and spatial matchers of the zxcvbn strength
# estimator, which model what guessing tools try long before random characters. A password is
# refused when fewer than _MIN_LEFTOVER of its characters lie outside such shapes: zxcvbn
# prices each character outside a pattern at ten guesses, so eight of them take a password to
# the 10**8 guesses from which zxcvbn rates it safe against online guessing and moderately so
# against offline guessing of a slow hash like ours.
_MIN_LEFTOVER = 8
_MIN_RUN = 3
_MIN_STEPPED_RUN = 4
_MAX_SEQUENCE_STEP = 5  # zxcvbn's limit for sequences such as "aeimq"
_MAX_COUNTING_STEP = 12
_MAX_TERM_DIGITS = 4  # up to years: "2001200220032004"
_MAX_LOCAL_UNIT = 16  # bounds the work on long passwords; see _repeat_spans
_DIGIT_RUN = re.compile(r"[0-9]{4,}")
# The digits of the first two terms of a count; from one term to the next, counting changes
# the number of digits by at most one.
_TERM_LENGTHS = tuple(
    (first, second)
    for first in range(1, _MAX_TERM_DIGITS + 1)
    for second in range(1, _MAX_TERM_DIGITS + 1)
    if abs(first - second) <= 1
)
_TRUE_BLOCK = re.compile(rb"\x01+")
_PATTERN_REASONS = {
    "repeat": (
        "This password repeats a pattern, which makes it easy to guess. "
        "Choose something less predictable."
    ),
    "sequence": "This password is a simple sequence, like 12345 or abcde, which is easy to guess.",
    "walk": (
        "This password follows a line of keys on the keyboard, like qwerty or 1qaz2wsx, "
        "which is easy to guess."
    ),
}
_MIXED_PATTERNS_REASON = (
    "This password is made almost entirely of predictable patterns, such as repeats, "
    "sequences or lines of keys, which are easy to guess. Choose something less predictable."
)


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


class _Span(NamedTuple):
    """Characters start:end of a password that form one guessable pattern of the given kind."""

    kind: str
    start: int
    end: int


def _true_blocks(flags: Iterable[bool]) -> Iterator[tuple[int, int]]:
    """Yield (start, end) for each block of consecutive true flags."""
    for block in _TRUE_BLOCK.finditer(bytes(flags)):
        yield block.span()


def _equal_step_runs(steps: Sequence[object]) -> Iterator[tuple[int, int, object]]:
    """Yield (start, end, step) over the characters of each run of equal steps that are not None.

    steps[i] is the step from character i to character i + 1.
    """
    position = 0
    for step, group in itertools.groupby(steps):
        count = sum(1 for _ in group)
        if step is not None:
            yield position, position + count + 1, step
        position += count


def _longest_periodic_prefix(text: str) -> int:
    """Return the length of the longest prefix of text that is a unit written at least twice."""
    # Knuth-Morris-Pratt borders: a prefix of length n whose longest border is k has period n - k.
    borders = [0] * len(text)
    border = longest = 0
    for i in range(1, len(text)):
        while border and text[i] != text[border]:
            border = borders[border - 1]
        if text[i] == text[border]:
            border += 1
        borders[i] = border
        if 2 * (i + 1 - border) <= i + 1:
            longest = i + 1
    return longest


def _repeat_spans(text: str) -> Iterator[_Span]:
    """Yield the stretches of text where a unit appears at least twice, a partial copy allowed."""
    # The last copy may be cut short: "424242424242424" is "42" written seven and a half times.
    for period in range(1, min(_MAX_LOCAL_UNIT, len(text) // 2) + 1):
        same = map(operator.eq, text, text[period:])
        for start, end in _true_blocks(same):
            if end - start >= period:
                yield _Span("repeat", start, end + period)
    # Longer units are looked for only where they start or end the password, which is where a
    # password built by typing a phrase twice has them.
    prefix = _longest_periodic_prefix(text)
    suffix = _longest_periodic_prefix(text[::-1])
    if prefix:
        yield _Span("repeat", 0, prefix)
    if suffix:
        yield _Span("repeat", len(text) - suffix, len(text))


def _alphabet_size(char: str) -> int | None:
    """Return 10 for a digit, 26 for a letter a-z, 0 for any other letter or digit, else None."""
    if "0" <= char <= "9":
        return 10
    if "a" <= char <= "z":
        return 26
    return 0 if char.isalnum() else None


def _sequence_step(a: str, b: str) -> int | None:
    """Return the step from a to b when both are in one alphabet and close enough to count."""
    size = _alphabet_size(a)
    if size is None or size != _alphabet_size(b):
        return None
    step = ord(b) - ord(a)
    if size and abs(step) == size - 1:
        # Wrapping around (9 -> 0, z -> a) keeps a sequence just as guessable.
        step = -step // abs(step)
    return step if 1 <= abs(step) <= _MAX_SEQUENCE_STEP else None


def _sequence_spans(text: str) -> Iterator[_Span]:
    """Yield runs like "abcd", "97531" or "acegi": letters or digits stepping evenly."""
    steps = [_sequence_step(a, b) for a, b in itertools.pairwise(text)]
    for start, end, step in _equal_step_runs(steps):
        # "ace" and "fil" are common inside words, so a step other than 1 needs a fourth character.
        if step in (1, -1) or end - start >= _MIN_STEPPED_RUN:
            yield _Span("sequence", start, end)


def _counted_on(digits: str, at: int, value: int, step: int) -> tuple[int, int]:
    """Return (end, start of the last term) of value + step, value + 2 * step ... written one
    after another in digits from at; (at, -1) when not even the first of them is there.
    """
    last = -1
    while value + step >= 0 and digits.startswith(str(value + step), at):
        value += step
        last, at = at, at + len(str(value))
    return at, last


def _longest_count(digits: str, numbers: list[list[int]], start: int) -> tuple[int, int]:
    """Return (end, start of the last term) of the longest run of evenly spaced numbers written
    one after another in digits from start; (start, start) when there are not three of them.
    """
    end = last = start
    for first_length, second_length in _TERM_LENGTHS:
        first = numbers[first_length - 1][start]
        second = numbers[second_length - 1][start + first_length]
        step = second - first
        # People count by small steps (times tables) and by round ones (25, 100, 1000).
        if first < 0 or second < 0 or not step or (abs(step) > _MAX_COUNTING_STEP and step % 5):
            continue
        third_at = start + first_length + second_length
        if second + step < 0 or not digits.startswith(str(second + step), third_at):
            continue  # the common case, checked here to save a call
        after, after_last = _counted_on(digits, third_at, second, step)
        if after > end:
            end, last = after, after_last
    return end, last


def _number_spans(text: str) -> Iterator[_Span]:
    """Yield numbers counted up or down, written together: "135791113", "2468101214", "102030"."""
    for run in _DIGIT_RUN.finditer(text):
        digits = run.group()
        # numbers[length - 1][i]: the number of that many digits written at i; -1 when there is none
        # (it would start with a zero, or run past the end).
        numbers = [
            [
                int(digits[i : i + length])
                if i + length <= len(digits) and (digits[i] != "0" or length == 1)
                else -1
                for i in range(len(digits) + _MAX_TERM_DIGITS)
            ]
            for length in range(1, _MAX_TERM_DIGITS + 1)
        ]
        i = 0
        while i <= len(digits) - _MIN_STEPPED_RUN:
            end, last = _longest_count(digits, numbers, i)
            if end - i >= _MIN_STEPPED_RUN:
                yield _Span("sequence", run.start() + i, run.start() + end)
                i = max(last, i + 1)  # the last term may start a count going elsewhere
            else:
                i += 1


def _walk_spans(text: str) -> Iterator[_Span]:
    """Yield keyboard walks: keys in a line ("qwerty", "1qaz", "2580") or zigzags ("1q2w3e")."""
    for keys, moves in _KEYBOARDS:
        steps: list[tuple[int, int] | None] = []
        for a, b in itertools.pairwise(text):
            if a in keys and b in keys:
                move = (keys[b][0] - keys[a][0], keys[b][1] - keys[a][1])
                steps.append(move if move in moves else None)
            else:
                steps.append(None)
        for start, end, _ in _equal_step_runs(steps):
            if end - start >= _MIN_RUN:
                yield _Span("walk", start, end)
        # Alternating two moves, four times or more: "qwaszx", "1q2w3e4r", "wsedrf".
        alternating = (
            b is not None and a == b for a, b in zip([None, None, *steps], steps, strict=False)
        )
        for start, end in _true_blocks(alternating):
            if end - start >= 2:
                yield _Span("walk", start - 2, end + 1)


def _keyboard(rows: Iterable[tuple[int, str]]) -> dict[str, tuple[int, int]]:
    """Map each key's character to its (row, column), each row starting at the column given."""
    return {
        char: (row, column + offset)
        for row, (offset, chars) in enumerate(rows)
        for column, char in enumerate(chars)
    }


# US QWERTY, each row shifted half a key from the one above (shifted symbols sit on their
# keys; letters are compared lowercased), and the numeric keypad, a square grid.
_QWERTY = _keyboard(
    [(0, "`1234567890-="), (1, "qwertyuiop[]\\"), (1, "asdfghjkl;'"), (1, "zxcvbnm,./")]
) | _keyboard([(0, "~!@#$%^&*()_+"), (1, "qwertyuiop{}|"), (1, 'asdfghjkl:"'), (1, "zxcvbnm<>?")])
_KEYPAD = _keyboard([(0, "789"), (0, "456"), (0, "123"), (1, "0")])
_KEYBOARDS = (
    (_QWERTY, frozenset({(0, 1), (0, -1), (-1, 0), (-1, 1), (1, -1), (1, 0)})),
    (_KEYPAD, frozenset(itertools.product((-1, 0, 1), repeat=2)) - {(0, 0)}),
)


def _uncovered(length: int, spans: Iterable[_Span]) -> int:
    """Return how many of length characters lie outside every span."""
    covered = bytearray(length)
    for span in spans:
        covered[span.start : span.end] = b"\x01" * (span.end - span.start)
    return length - sum(covered)


def _chains(spans: Iterable[_Span]) -> Iterator[list[_Span]]:
    """Yield the spans in order, grouped into chains of spans that touch or overlap."""
    chain: list[_Span] = []
    end = -1
    for span in sorted(spans, key=operator.attrgetter("start")):
        if chain and span.start > end:
            yield chain
            chain = []
        chain.append(span)
        end = max(end, span.end)
    if chain:
        yield chain


def _counted_spans(text: str, spans: Iterable[_Span]) -> list[_Span]:
    """Return the spans long enough to count as patterns in text."""
    counted: list[_Span] = []
    digit_triples: list[_Span] = []
    for span in spans:
        length = span.end - span.start
        if length < _MIN_RUN and length < len(text):
            continue  # "ll", "ab" and "we" are in most words: only a whole password that short
        if length == _MIN_RUN < len(text) and text[span.start : span.end].isdigit():
            digit_triples.append(span)
        else:
            counted.append(span)
    # With only ten keys, a lone three-digit pattern ("123", "555", "258" down the keypad) is
    # common in random digits; such runs count only when they chain up: "789456123", "147258369".
    for chain in _chains(digit_triples):
        if max(span.end for span in chain) - chain[0].start >= 2 * _MIN_RUN:
            counted.extend(chain)
    return counted


def _pattern_reason(text: str) -> str | None:
    """Return why text is too predictable, or None when enough of it lies outside any pattern."""
    spans = _counted_spans(
        text,
        (
            span
            for detector in (_repeat_spans, _sequence_spans, _number_spans, _walk_spans)
            for span in detector(text)
        ),
    )
    if not spans or _uncovered(len(text), spans) >= _MIN_LEFTOVER:
        return None
    for kind, reason in _PATTERN_REASONS.items():
        alone = [span for span in spans if span.kind == kind]
        if alone and _uncovered(len(text), alone) < _MIN_LEFTOVER:
            return reason
    return _MIXED_PATTERNS_REASON


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
        reason = _pattern_reason(lowered)
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
