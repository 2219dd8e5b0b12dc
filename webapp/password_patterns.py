"""Predictable shapes in a password: repeats, sequences, counted numbers and keyboard walks.

Pure Python, no Flask: ``pattern_reason`` is one of the checks of ``webapp.passwords``'
policy, kept apart because it is most of that module's code and none of its other concerns.
"""

from __future__ import annotations

import itertools
import operator
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import NamedTuple

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


def pattern_reason(text: str) -> str | None:
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
