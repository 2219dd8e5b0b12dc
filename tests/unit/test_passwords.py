"""Unit tests for webapp.passwords: policy, normalization and Argon2id hashing."""

from __future__ import annotations

import base64
import dataclasses
import random
import string
import unicodedata

import argon2
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from werkzeug.security import generate_password_hash

from webapp.passwords import (
    PasswordHasher,
    PasswordPolicy,
    PasswordRejected,
    load_blocklist,
    normalize,
)

CAFE_COMPOSED = "Caf\u00e9 " * 4
CAFE_DECOMPOSED = "Cafe\u0301 " * 4
PASSPHRASE = "correct horse battery staple"
# Precomputed with werkzeug.security.generate_password_hash(LEGACY_PASSWORD, method=...); the
# 600000-iteration one is only inspected, because verifying it would take a tenth of a second.
LEGACY_PASSWORD = "legacy horse battery staple"
LEGACY_HASH = (
    "pbkdf2:sha256:600000$tFzvE94pmYGu2JHY$"
    "963bf74ec52d7ac689e04306281279dba01f1bda0cfc175d0f13ff64fd493fde"
)
CHEAP_LEGACY_HASH = (
    "pbkdf2:sha256:1000$BdpJHShV2SAzwJmv$"
    "3a1884552cde3276ea158f8b1c4585659e29ad675d63f7d9d1c89bc1df11ecb4"
)
EMAIL = "alice.smith@example.com"
CONTEXT = (EMAIL, "alice.smith", "Alice Smith")
BANNED_WORDS = ("uppercase", "upper case", "number", "symbol", "special")

TEXT_64 = "the quiet orange ferry drifts past seven lighthouses before noon"
TEXT_256 = (
    "my grandmother kept bees behind the old stone barn and every summer we carried "
    "jars of dark heather honey down the lane to sell at the market while the swallows "
    "chased insects above the river and the church bell rang out the hours, slowly, "
    "until dusk came."
)
TEXT_1024 = "".join(f"{i} sheep jumped the fence; " for i in range(1, 100))[:1024]


def cheap_hasher() -> PasswordHasher:
    """Return a hasher with minimal Argon2 costs to keep the tests fast."""
    return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def phc(stored_hash: str) -> tuple[str, dict[str, int], bytes, bytes]:
    """Split an Argon2 PHC string into variant, parameters, salt and digest."""
    empty, variant, version, params, salt, digest = stored_hash.split("$")
    assert empty == ""
    assert version == "v=19"
    values = {key: int(value) for key, value in (item.split("=") for item in params.split(","))}
    return variant, values, b64(salt), b64(digest)


def b64(text: str) -> bytes:
    """Decode unpadded standard base64 as used in PHC strings."""
    return base64.b64decode(text + "=" * (-len(text) % 4))


def reason_for(policy: PasswordPolicy, password: str, context: tuple[str, ...] = ()) -> str:
    """Return the rejection reason, failing the test if the password is accepted."""
    with pytest.raises(PasswordRejected) as excinfo:
        policy.check(password, context=context)
    assert str(excinfo.value) == excinfo.value.reason
    return excinfo.value.reason


@pytest.fixture
def hasher() -> PasswordHasher:
    return cheap_hasher()


@pytest.fixture
def policy() -> PasswordPolicy:
    return PasswordPolicy(blocklist=frozenset(), site_name="Signup Demo")


# --- normalization -------------------------------------------------------------------------


def test_test_data_lengths() -> None:
    assert (len(TEXT_64), len(TEXT_256), len(TEXT_1024)) == (64, 256, 1024)
    assert len(CAFE_COMPOSED) == 20
    assert len(CAFE_DECOMPOSED) == 24


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("e\u0301", "\u00e9"),
        (CAFE_DECOMPOSED, CAFE_COMPOSED),
        (CAFE_COMPOSED, CAFE_COMPOSED),
        ("  Spaced Out  ", "  Spaced Out  "),
        ("MiXeD CaSe", "MiXeD CaSe"),
        ("Stra\u00dfe", "Stra\u00dfe"),
        ("\ufb01ne", "\ufb01ne"),  # NFC, not NFKC: the "fi" ligature stays
    ],
)
def test_c41_normalize_is_nfc_without_trimming_or_case_folding(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    ("hashed", "attempt"),
    [
        (CAFE_COMPOSED, CAFE_DECOMPOSED),
        (CAFE_DECOMPOSED, CAFE_COMPOSED),
        (CAFE_COMPOSED, CAFE_COMPOSED),
        (CAFE_DECOMPOSED, CAFE_DECOMPOSED),
    ],
)
def test_c41_composed_and_decomposed_forms_verify_against_each_other(
    hasher: PasswordHasher, hashed: str, attempt: str
) -> None:
    assert hasher.verify(hasher.hash(hashed), attempt) is True


@pytest.mark.parametrize(
    "attempt",
    [
        f"  {PASSPHRASE}",
        f"{PASSPHRASE}  ",
        f"  {PASSPHRASE}  ",
        f" {PASSPHRASE}",
        f"{PASSPHRASE}\n",
        f"{PASSPHRASE}\t",
    ],
)
def test_c12_whitespace_is_never_trimmed(hasher: PasswordHasher, attempt: str) -> None:
    assert hasher.verify(hasher.hash(PASSPHRASE), attempt) is False


def test_c12_surrounding_spaces_are_part_of_the_password(hasher: PasswordHasher) -> None:
    spaced = f"  {PASSPHRASE}  "
    stored = hasher.hash(spaced)
    assert hasher.verify(stored, spaced) is True
    assert hasher.verify(stored, PASSPHRASE) is False


@pytest.mark.parametrize(
    "attempt",
    [
        PASSPHRASE.upper(),
        PASSPHRASE.title(),
        PASSPHRASE.capitalize(),
        "correct horse battery stapLe",
    ],
)
def test_c12_case_is_never_folded(hasher: PasswordHasher, attempt: str) -> None:
    assert hasher.verify(hasher.hash(PASSPHRASE), attempt) is False


# --- policy: length ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "password",
    [
        "tulip-river-oak",  # 15 ASCII characters
        "r\u00e9sum\u00e9 d\u00e9j\u00e0 vu!",  # 15 code points, precomposed
        unicodedata.normalize("NFD", "r\u00e9sum\u00e9 d\u00e9j\u00e0 vu!"),  # 19 raw, 15 after NFC
        "\u00e9t\u00e9 \u00e0 la plages",  # 15 code points with precomposed accents
        TEXT_64,
        TEXT_256,
        TEXT_1024,
        "\u6625\u7720\u4e0d\u89c9\u6653\u5904\u5904\u95fb\u557c\u9e1f\u591c\u6765\u98ce\u96e8\u58f0",
    ],
)
def test_c07_accepts_long_enough_passwords(password: str) -> None:
    PasswordPolicy().check(password)


@pytest.mark.parametrize(
    "password",
    [
        "tulip-river-oa",  # 14 ASCII characters
        "r\u00e9sum\u00e9 d\u00e9j\u00e0 vu",  # 14 code points
        unicodedata.normalize("NFD", "r\u00e9sum\u00e9 d\u00e9j\u00e0 vu"),  # 18 raw, 14 after NFC
        "",
        "abc",
    ],
)
def test_c06_rejects_short_passwords(password: str) -> None:
    assert reason_for(PasswordPolicy(), password) == "Use at least 15 characters."


@pytest.mark.parametrize("password", ["\u00e9" * 15, "e\u0301" * 15])
def test_c06_fifteen_accented_characters_pass_the_length_rule(password: str) -> None:
    # Both are 15 characters after NFC; they fail only because they repeat a single character.
    reason = reason_for(PasswordPolicy(), password)
    assert "at least" not in reason
    assert "repeats a pattern" in reason


@pytest.mark.parametrize(("min_length", "short"), [(20, "x" * 19), (8, "abc")])
def test_min_length_comes_from_the_policy(min_length: int, short: str) -> None:
    policy = PasswordPolicy(min_length=min_length)
    assert reason_for(policy, short) == f"Use at least {min_length} characters."


@pytest.mark.parametrize(
    "password",
    [
        TEXT_1024 + "x",
        TEXT_1024 + "\u00e9",
        TEXT_256 * 5,
        unicodedata.normalize("NFD", "\u00e9") * 1025,
    ],
)
def test_c07_rejects_passwords_over_1024_characters(password: str) -> None:
    assert reason_for(PasswordPolicy(), password) == "Use at most 1024 characters."


@pytest.mark.parametrize("password", ["a" * 1_000_000, "e\u0301" * 500_000, "\u00e9" * 1_000_000])
def test_c07_rejects_a_megabyte_before_doing_any_work(mocker, password: str) -> None:
    spy = mocker.spy(unicodedata, "normalize")
    assert reason_for(PasswordPolicy(), password) == "Use at most 1024 characters."
    assert spy.call_count == 0


def test_max_length_comes_from_the_policy() -> None:
    policy = PasswordPolicy(max_length=64)
    policy.check(TEXT_64)
    assert reason_for(policy, TEXT_64 + "!") == "Use at most 64 characters."


@pytest.mark.parametrize(
    ("min_length", "max_length", "password", "reason"),
    [
        (1, 1, "", "Use at least 1 character."),
        (1, 1, "xy", "Use at most 1 character."),
        (2, 2, "x", "Use at least 2 characters."),
    ],
)
def test_length_messages_use_the_singular_for_one_character(
    min_length: int, max_length: int, password: str, reason: str
) -> None:
    policy = PasswordPolicy(min_length=min_length, max_length=max_length, blocklist=frozenset())
    assert reason_for(policy, password) == reason


def test_c07_the_early_size_check_leaves_room_for_normalization() -> None:
    # Each letter is 4 code points in NFD and 1 character in NFC: 8 code points, 2 characters.
    password = unicodedata.normalize("NFD", "\u1f82\u1f92")
    assert len(password) == 8
    PasswordPolicy(min_length=1, max_length=2, blocklist=frozenset()).check(password)


@pytest.mark.parametrize(("min_length", "max_length"), [(0, 10), (20, 10), (-1, 5)])
def test_policy_rejects_impossible_configuration(min_length: int, max_length: int) -> None:
    with pytest.raises(ValueError, match=r"^PasswordPolicy needs 1 <= min_length <= max_length$"):
        PasswordPolicy(min_length=min_length, max_length=max_length)


# --- policy: characters ----------------------------------------------------------------------


@pytest.mark.parametrize("control", ["\x00", "\n", "\r", "\t", "\x1b", "\x7f", "\x85"])
@pytest.mark.parametrize("position", ["start", "middle", "end"])
def test_rejects_control_characters(control: str, position: str) -> None:
    base = "tulip-river-oak-stone"
    password = {
        "start": control + base,
        "middle": base[:10] + control + base[10:],
        "end": base + control,
    }[position]
    assert "Control characters" in reason_for(PasswordPolicy(), password)


@pytest.mark.parametrize(
    "password",
    [
        "tulip river oak stone",
        "tulip\u00a0river\u00a0oak\u00a0stone",  # no-break spaces are not control characters
        "\U0001f337 tulip river oak \U0001f333",
    ],
)
def test_c09_accepts_spaces_and_emoji(password: str) -> None:
    PasswordPolicy().check(password)


def test_rejects_lone_surrogates() -> None:
    assert "not valid text" in reason_for(PasswordPolicy(), "tulip-river-oak\ud800")


# --- policy: blocklist ---------------------------------------------------------------------


SMALL_BLOCKLIST = frozenset({"correcthorsebatterystaple", "password", "iloveyouiloveyou1"})


@pytest.mark.parametrize(
    "password", ["correcthorsebatterystaple", "CorrectHorseBatteryStaple", "ILOVEYOUiloveyou1"]
)
def test_c10_rejects_blocklisted_passwords_case_insensitively(password: str) -> None:
    policy = PasswordPolicy(blocklist=SMALL_BLOCKLIST)
    reason = reason_for(policy, password)
    assert reason.startswith("This password is on a list of commonly used passwords")


@pytest.mark.parametrize(
    "password",
    ["password is not my dog's name", "correcthorsebatterystaple!", "my password is correcthorse"],
)
def test_c10_blocklist_compares_whole_strings_only(password: str) -> None:
    PasswordPolicy(blocklist=SMALL_BLOCKLIST).check(password)


def test_blocklist_from_the_policy_is_used() -> None:
    PasswordPolicy(blocklist=frozenset()).check("velvet tractors hum")
    with pytest.raises(PasswordRejected):
        PasswordPolicy(blocklist=frozenset({"velvet tractors hum"})).check("velvet tractors hum")


def test_c10_shipped_blocklist() -> None:
    blocklist = load_blocklist()
    assert isinstance(blocklist, frozenset)
    assert len(blocklist) >= 10_000
    assert {"password", "123456", "qwerty", "1qaz2wsx3edc4rfv"} <= blocklist
    assert all(entry == entry.lower() and entry.strip() == entry and entry for entry in blocklist)
    assert load_blocklist() is blocklist  # cached


@pytest.mark.parametrize("password", ["1qaz2wsx3edc4rfv", "QWERTYUIOP12345", "passwordstandard"])
def test_default_policy_uses_the_shipped_blocklist(password: str) -> None:
    assert PasswordPolicy().blocklist is load_blocklist()
    assert "commonly used passwords" in reason_for(PasswordPolicy(), password)


def test_c10_default_policy_accepts_a_sentence_containing_a_common_password() -> None:
    PasswordPolicy().check("password is not my dog's name")


# --- policy: patterns ----------------------------------------------------------------------

REPEAT = (
    "This password repeats a pattern, which makes it easy to guess. "
    "Choose something less predictable."
)
SEQUENCE = "This password is a simple sequence, like 12345 or abcde, which is easy to guess."
WALK = (
    "This password follows a line of keys on the keyboard, like qwerty or 1qaz2wsx, "
    "which is easy to guess."
)
MIXED = (
    "This password is made almost entirely of predictable patterns, such as repeats, "
    "sequences or lines of keys, which are easy to guess. Choose something less predictable."
)
PHRASE_28 = "correct horse battery staple"

PREDICTABLE = [
    # A unit written at least twice, its last copy possibly cut short.
    ("424242424242424", REPEAT),
    ("abcabcabcabcabca", REPEAT),
    ("tulip tulip tulip", REPEAT),
    ("passwordpassword", REPEAT),
    ("aaaaaaaaaaaaaaa", REPEAT),
    ("abcabcabcabcabc", REPEAT),
    ("HorseHORSEhorse", REPEAT),
    ("tulip tulip tulip ", REPEAT),
    ("\U0001f337\U0001f333" * 8, REPEAT),
    ("\U0001f337\U0001f333" * 7 + "\U0001f337", REPEAT),
    (PHRASE_28 * 2, REPEAT),
    # The same with a few other characters before or after.
    ("aaaaaaaaaaaaaa1", REPEAT),
    ("aaaaaaaaaaaaaab", REPEAT),
    ("passwordpassword!", REPEAT),
    ("abcabcabcabcabd", REPEAT),
    ("1!" + "x7" * 7, REPEAT),
    (PHRASE_28 * 2 + "!", REPEAT),
    ("2025!!" + PHRASE_28 * 2, REPEAT),
    # Letters or digits stepping evenly, wrapping round from 9 to 0 and from z to a.
    ("123456789012345", SEQUENCE),
    ("098765432109876", SEQUENCE),
    ("567890123456789", SEQUENCE),
    ("abcdefghijklmnop", SEQUENCE),
    ("ABCDEFGHIJKLMNOP", SEQUENCE),
    ("ponmlkjihgfedcba", SEQUENCE),
    ("qrstuvwxyzabcdef", SEQUENCE),
    ("acegikmoqsuwyace", SEQUENCE),
    (
        "\u03b1\u03b2\u03b3\u03b4\u03b5\u03b6\u03b7\u03b8\u03b9\u03ba\u03bb\u03bc\u03bd\u03be\u03bf",
        SEQUENCE,
    ),
    ("abcdefghijklmn1", SEQUENCE),
    ("123456789012346", SEQUENCE),
    ("abcdefghijklmnoq", SEQUENCE),
    ("abcdefgh12345678", SEQUENCE),
    ("135792468013579", SEQUENCE),
    # Numbers counted up or down by an even step.
    ("135791113151719", SEQUENCE),
    ("2468101214161820", SEQUENCE),
    ("1020304050607080", SEQUENCE),
    ("100200300400500", SEQUENCE),
    ("20012002200320042005", SEQUENCE),
    ("2019181716151413", SEQUENCE),
    ("5101520253035404550", SEQUENCE),
    ("255075100125150", SEQUENCE),
    # Keyboard walks: rows, columns and diagonals either way, zigzags, the keypad.
    ("qwertyuiopasdfgh", WALK),
    ("poiuytrewqlkjhgf", WALK),
    ("zxcvbnmasdfghjkl", WALK),
    ("qazwsxedcrfvtgbyhn", WALK),
    ("1qaz2wsx3edc4rfv", WALK),
    ("zaq12wsxcde34rfv", WALK),
    ("!@#$%^&*()!@#$%", WALK),
    ("QWERTYUIOP{}ASDF", WALK),
    ("1q2w3e4r5t6y7u8i", WALK),
    ("qwaszxerdfcvtgb!", WALK),
    ("147258369741852", WALK),
    # Several kinds together.
    ("qwertyuiop" + "a" * 10, MIXED),
    ("aaaaaaaaqwerty1234", MIXED),
]


@pytest.mark.parametrize(("password", "reason"), PREDICTABLE)
def test_c10_predictable_passwords_are_refused_with_the_reason(
    policy: PasswordPolicy, password: str, reason: str
) -> None:
    assert reason_for(policy, password) == reason


VARIED = [
    PASSPHRASE,
    "tulip-river-oak",
    "q7#kp2!vx9zw&m4",
    "Xk9#mQ2!vLz7&pT4",
    "8w$Ht3^nB6@rF1*c",
    "07922568046594493867",  # a random 20-digit number
    "velvet tractors hum beneath orchard fog",
    "my cat is called mister whiskers",
    "i like big ideas, not big words",
    "Swimming in the lake at 6am!",
    "queen of the desert 1987",
    "Paris in the spring of 1999",
    "we were there first, really",
    "sunflower seeds and 3 strong coffees",
    "password is not my dog's name",
    "abc news at nine every evening",
    "aaa batteries for the remote",
    "my pin used to be 1234, never again",
    "call me at 555 0199 after 9pm",
    "qwerty keyboards date from 1873",
    "Mon chat s'appelle Gribouille",
    "Die Katze schl\u00e4ft auf dem Sofa",
    "el perro come pan con mantequilla",
    "\u042f \u043b\u044e\u0431\u043b\u044e "  # Russian: I love green tea
    "\u0437\u0435\u043b\u0451\u043d\u044b\u0439 \u0447\u0430\u0439",
    "\u6625\u7720\u4e0d\u89c9\u6653\u5904\u5904\u95fb\u557c\u9e1f\u591c\u6765\u98ce\u96e8\u58f0",
    # A pattern with at least eight other characters is enough.
    "aaaaaaaa" + "q7#kp2!v",
    "passwordpassword" + " sailing",
    "abcdefghijklmnop" + "Xk9#mQ2!",
    "qwertyuiop" + "T7&vLz!q",
    "135791113151719" + " odd ones",
    PHRASE_28 + " " + PHRASE_28 + "!",
]


@pytest.mark.parametrize("password", VARIED)
def test_c10_varied_passwords_and_passphrases_are_accepted(
    policy: PasswordPolicy, password: str
) -> None:
    policy.check(password)


# Printable ASCII and some letters beyond it.
LARGE_ALPHABET = (
    string.ascii_letters
    + string.digits
    + string.punctuation
    + " \u00e0\u00e9\u00ee\u00f5\u00fc\u00df\u00e7\u00f1\u00f8\u00e5\u00e6\u0153\u20ac\u00a3\u00a5"
)
PROPERTY = settings(max_examples=100, deadline=None, database=None)


@PROPERTY
@given(seed=st.integers(min_value=0), length=st.integers(min_value=15, max_value=64))
def test_c10_random_passwords_from_a_large_alphabet_are_accepted(seed: int, length: int) -> None:
    # Hypothesis draws the seed, not the characters: left to itself it would aim for strings
    # like "aaaaaaaaaaaaaaa", which are not random and are rightly refused.
    rng = random.Random(seed)  # noqa: S311 (reproducible test data, not a secret)
    PasswordPolicy().check("".join(rng.choice(LARGE_ALPHABET) for _ in range(length)))


@PROPERTY
@given(
    unit=st.text(
        st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Zs")), min_size=1, max_size=20
    ),
    extra_copies=st.integers(min_value=0, max_value=3),
    cut=st.integers(min_value=0),
)
def test_c10_a_unit_repeated_with_any_partial_tail_is_refused(
    unit: str, extra_copies: int, cut: int
) -> None:
    copies = max(2, -(-15 // len(unit))) + extra_copies  # at least two, at least 15 characters
    password = unit * copies + unit[: cut % len(unit)]
    assume(unicodedata.is_normalized("NFC", password))  # so that NFC cannot shorten it
    assert reason_for(PasswordPolicy(blocklist=frozenset()), password) == REPEAT


@pytest.mark.parametrize(
    ("password", "reason"),
    [("zz", "repeats a pattern"), ("ab", "simple sequence"), ("98", "simple sequence")],
)
def test_two_characters_already_make_a_pattern(password: str, reason: str) -> None:
    policy = PasswordPolicy(min_length=2, blocklist=frozenset())
    assert reason in reason_for(policy, password)


# --- policy: context -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "password",
    [
        "alicesmithalicesmith",
        "SignupDemo2025!SignupDemo",
        EMAIL,
        "ALICE.SMITH@EXAMPLE.COM",
        "alice smith alice smith",
        "example.com alicesmith",
        "signup demo signup demo",
    ],
)
def test_c11_rejects_passwords_built_from_context(policy: PasswordPolicy, password: str) -> None:
    reason = reason_for(policy, password, CONTEXT)
    assert reason == (
        "Don't build your password from your email address, your name or the site's name."
    )


@pytest.mark.parametrize(
    "password",
    [
        PASSPHRASE,
        "alice likes correct horse battery staples",
        "smith & wesson collected tulips",
        "demonstrably quiet harbour",  # contains "demo" but plenty remains
    ],
)
def test_c11_accepts_passwords_with_enough_beyond_context(
    policy: PasswordPolicy, password: str
) -> None:
    policy.check(password, context=CONTEXT)


def test_c11_exactly_min_length_beyond_context_is_enough(policy: PasswordPolicy) -> None:
    policy.check("alicesmith" + "q7#kp2!vx9zw&m4", context=CONTEXT)  # 15 characters remain


def test_c11_the_longest_context_word_is_taken_out_first(policy: PasswordPolicy) -> None:
    # Taking "marie" out first would leave "ann", too short to count, and 15 characters.
    reason = reason_for(policy, "annmarie" + "q7#kp2!vx9zw", ("Ann-Marie",))
    assert "your name" in reason


def test_context_words_come_from_the_email_alone(policy: PasswordPolicy) -> None:
    assert "email address" in reason_for(policy, "alicesmithalicesmith", (EMAIL,))
    assert "email address" in reason_for(policy, "example example 12", (EMAIL,))


def test_site_name_is_added_automatically() -> None:
    password = "SignupDemo2025!SignupDemo"
    PasswordPolicy(blocklist=frozenset()).check(password)
    assert "site's name" in reason_for(
        PasswordPolicy(blocklist=frozenset(), site_name="Signup Demo"), password
    )


def test_context_ignores_words_shorter_than_four_characters(policy: PasswordPolicy) -> None:
    # With "bob" counted, only " wishes well" (12 characters) would remain.
    policy.check("bobbobbob wishes well", context=("Bob",))


def test_context_accepts_empty_entries(policy: PasswordPolicy) -> None:
    policy.check(PASSPHRASE, context=("", "", EMAIL))


def test_context_after_an_empty_entry_still_counts(policy: PasswordPolicy) -> None:
    assert "email address" in reason_for(policy, "alicesmithalicesmith", ("", EMAIL))


def test_context_joins_the_short_parts_of_the_local_part(policy: PasswordPolicy) -> None:
    # "jo" and "hn" are too short to count alone, but joined they give "john" (4 characters).
    assert "email address" in reason_for(policy, "johnq7#kp2!vx9z", ("jo.hn@example.com",))


# --- policy: messages ----------------------------------------------------------------------


REJECTED = [
    "short",
    "tulip-river-oa",
    TEXT_1024 + "x",
    "a" * 1_000_000,
    "tulip-river-oak\x00",
    "tulip-river-oak\ud800",
    "1qaz2wsx3edc4rfv",
    "passwordpassword",
    "123456789012345",
    "abcdefghijklmnop",
    "qwertyuiopasdfgh",
    "qwertyuiop" + "a" * 10,
    "alicesmithalicesmith",
    "SignupDemo2025!SignupDemo",
]


def test_c08_rejection_messages_never_ask_for_composition() -> None:
    policy = PasswordPolicy(blocklist=frozenset({"1qaz2wsx3edc4rfv"}), site_name="Signup Demo")
    reasons = {reason_for(policy, password, CONTEXT) for password in REJECTED}
    assert len(reasons) == 10  # every kind of rejection is represented
    for reason in reasons:
        assert reason.endswith(".")
        assert not any(word in reason.lower() for word in BANNED_WORDS), reason


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        (
            "tulip-river-oak\x00",
            "Control characters, such as line breaks or tabs, are not allowed in passwords.",
        ),
        ("tulip-river-oak\ud800", "Your password contains characters that are not valid text."),
        (
            "1qaz2wsx3edc4rfv",
            "This password is on a list of commonly used passwords, "
            "so attackers try it early. Choose a different one.",
        ),
        (
            "passwordpassword",
            "This password repeats a pattern, which makes it easy to guess. "
            "Choose something less predictable.",
        ),
        (
            "123456789012345",
            "This password is a simple sequence, like 12345 or abcde, which is easy to guess.",
        ),
        (
            "qwertyuiopasdfgh",
            "This password follows a line of keys on the keyboard, like qwerty or 1qaz2wsx, "
            "which is easy to guess.",
        ),
        (
            "qwertyuiopaaaaaaaaaa",
            "This password is made almost entirely of predictable patterns, such as repeats, "
            "sequences or lines of keys, which are easy to guess. "
            "Choose something less predictable.",
        ),
    ],
)
def test_rejection_messages_read_as_written(password: str, reason: str) -> None:
    policy = PasswordPolicy(blocklist=frozenset({"1qaz2wsx3edc4rfv"}))
    assert reason_for(policy, password) == reason


def test_password_rejected_is_a_value_error_with_reason() -> None:
    exc = PasswordRejected("Use at least 15 characters.")
    assert isinstance(exc, ValueError)
    assert exc.reason == str(exc) == "Use at least 15 characters."


def test_policy_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        PasswordPolicy().min_length = 1  # type: ignore[misc]


# --- hashing ---------------------------------------------------------------------------------


def test_c01_default_hash_is_argon2id_with_owasp_parameters() -> None:
    default = PasswordHasher()
    assert default.parameters == (2, 19456, 1)
    variant, params, salt, digest = phc(default.hash(PASSPHRASE))
    assert variant == "argon2id"
    assert params == {"m": 19456, "t": 2, "p": 1}
    assert len(salt) == 16
    assert len(digest) == 32


def test_parameters_reflect_the_constructor(hasher: PasswordHasher) -> None:
    assert hasher.parameters == (1, 8, 1)
    variant, params, _, _ = phc(hasher.hash(PASSPHRASE))
    assert variant == "argon2id"
    assert params == {"m": 8, "t": 1, "p": 1}


def test_parameters_is_read_only(hasher: PasswordHasher) -> None:
    with pytest.raises(AttributeError):
        hasher.parameters = (3, 3, 3)  # type: ignore[misc]


def test_c02_hashes_are_salted(hasher: PasswordHasher) -> None:
    first, second = hasher.hash(PASSPHRASE), hasher.hash(PASSPHRASE)
    assert first != second
    _, _, salt1, digest1 = phc(first)
    _, _, salt2, digest2 = phc(second)
    assert len(salt1) == len(salt2) == 16
    assert salt1 != salt2
    assert digest1 != digest2
    assert PASSPHRASE not in first


@pytest.mark.parametrize(
    ("attempt", "expected"),
    [
        (PASSPHRASE, True),
        ("correct horse battery stapler", False),
        ("", False),
        ("correct horse battery", False),
    ],
)
def test_verify(hasher: PasswordHasher, attempt: str, expected: bool) -> None:
    assert hasher.verify(hasher.hash(PASSPHRASE), attempt) is expected


def test_verify_accepts_hashes_from_other_parameters(hasher: PasswordHasher) -> None:
    other = PasswordHasher(time_cost=2, memory_cost=16, parallelism=2)
    assert hasher.verify(other.hash(PASSPHRASE), PASSPHRASE) is True


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "not a hash",
        "$argon2id$",
        "$argon2id$v=19$m=8,t=1,p=1$garbage",
        "$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQ$c29tZWhhc2g",
        "$argon2id$v=19$m=8,t=1,p=1$\u00e9\u00e9$\u00e9\u00e9",
        "$2b$12$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234",
        "pbkdf2:sha256:600000",
        "pbkdf2:nosuchdigest:1000$salt$abcdef",
        "pbkdf2:sha256:notanumber$salt$abcdef",
        "pbkdf2:sha256:1000$salt$\u00e9\u00e9",
        "scrypt:bad$salt$abcdef",
        "plain$salt$abcdef",
    ],
)
def test_verify_returns_false_for_malformed_hashes(hasher: PasswordHasher, stored: str) -> None:
    assert hasher.verify(stored, PASSPHRASE) is False


def test_verify_returns_false_for_a_truncated_hash(hasher: PasswordHasher) -> None:
    assert hasher.verify(hasher.hash(PASSPHRASE)[:-5], PASSPHRASE) is False


def test_verify_does_not_raise_for_unencodable_passwords(hasher: PasswordHasher) -> None:
    assert hasher.verify(hasher.hash(PASSPHRASE), "tulip\ud800") is False
    hasher.dummy_verify("tulip\ud800")


def test_needs_rehash_is_false_for_a_current_hash(hasher: PasswordHasher) -> None:
    assert hasher.needs_rehash(hasher.hash(PASSPHRASE)) is False


@pytest.mark.parametrize(
    "other",
    [
        argon2.PasswordHasher(time_cost=2, memory_cost=8, parallelism=1),
        argon2.PasswordHasher(time_cost=1, memory_cost=16, parallelism=1),
        argon2.PasswordHasher(time_cost=1, memory_cost=16, parallelism=2),
        argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, salt_len=8),
        argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, type=argon2.Type.I),
        argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, type=argon2.Type.D),
    ],
)
def test_c04_needs_rehash_for_other_argon2_hashes(
    hasher: PasswordHasher, other: argon2.PasswordHasher
) -> None:
    stored = other.hash(PASSPHRASE)
    assert hasher.needs_rehash(stored) is True
    assert hasher.verify(stored, PASSPHRASE) is True


@pytest.mark.parametrize(
    "stored",
    [LEGACY_HASH, "scrypt:32768:8:1$salt$abcdef", "", "$argon2id$garbage", "not a hash"],
)
def test_c04_needs_rehash_for_legacy_and_unknown_hashes(
    hasher: PasswordHasher, stored: str
) -> None:
    assert hasher.needs_rehash(stored) is True


@pytest.mark.parametrize(
    ("attempt", "expected"),
    [(LEGACY_PASSWORD, True), (LEGACY_PASSWORD.title(), False), (f"{LEGACY_PASSWORD} ", False)],
)
def test_precomputed_legacy_werkzeug_hash_verifies(
    hasher: PasswordHasher, attempt: str, expected: bool
) -> None:
    assert hasher.verify(CHEAP_LEGACY_HASH, attempt) is expected
    assert hasher.needs_rehash(CHEAP_LEGACY_HASH) is True


@pytest.mark.parametrize("method", ["pbkdf2:sha256:1000", "scrypt:1024:8:1"])
@pytest.mark.parametrize(
    ("attempt", "expected"),
    [(PASSPHRASE, True), (PASSPHRASE.upper(), False), (f" {PASSPHRASE}", False), ("", False)],
)
def test_legacy_werkzeug_hashes(
    hasher: PasswordHasher, method: str, attempt: str, expected: bool
) -> None:
    stored = generate_password_hash(PASSPHRASE, method=method)
    assert hasher.verify(stored, attempt) is expected


@pytest.mark.parametrize("hashed", [CAFE_COMPOSED, CAFE_DECOMPOSED])
@pytest.mark.parametrize("attempt", [CAFE_COMPOSED, CAFE_DECOMPOSED])
def test_legacy_hashes_of_either_unicode_form_verify(
    hasher: PasswordHasher, hashed: str, attempt: str
) -> None:
    stored = generate_password_hash(hashed, method="pbkdf2:sha256:1000")
    assert hasher.verify(stored, attempt) is True


def test_c17_dummy_verify_runs_argon2_verify_once_per_call(mocker, hasher: PasswordHasher) -> None:
    # argon2.PasswordHasher uses __slots__, so the spy goes on the class, not the instance.
    verify = mocker.spy(argon2.PasswordHasher, "verify")
    hashing = mocker.spy(argon2.PasswordHasher, "hash")
    for calls in range(1, 4):
        assert hasher.dummy_verify(f"attempt number {calls}") is None
        assert verify.call_count == calls
    assert hashing.call_count == 1  # the dummy hash is computed once and reused
    dummy_hashes = {call.args[1] for call in verify.call_args_list}
    assert len(dummy_hashes) == 1
    variant, params, salt, _ = phc(dummy_hashes.pop())
    assert variant == "argon2id"
    assert (params["t"], params["m"], params["p"]) == hasher.parameters
    assert len(salt) == 16


def test_c17_dummy_verify_uses_the_hasher_parameters(mocker) -> None:
    verify = mocker.spy(argon2.PasswordHasher, "verify")
    custom = PasswordHasher(time_cost=2, memory_cost=16, parallelism=2)
    custom.dummy_verify(PASSPHRASE)
    assert verify.call_count == 1
    _, params, _, _ = phc(verify.call_args.args[1])
    assert params == {"t": 2, "m": 16, "p": 2}


def test_dummy_hash_is_per_instance(mocker) -> None:
    hashing = mocker.spy(argon2.PasswordHasher, "hash")
    first, second = cheap_hasher(), cheap_hasher()
    first.dummy_verify(PASSPHRASE)
    second.dummy_verify(PASSPHRASE)
    first.dummy_verify(PASSPHRASE)
    assert hashing.call_count == 2
