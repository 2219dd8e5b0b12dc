"""Password storage and policy, through the real forms (checklist items c01-c13)."""

from __future__ import annotations

import ast
import html
import unicodedata
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import argon2
import markupsafe
import pytest
import time_machine
from flask import Flask
from pytest_mock import MockerFixture
from sqlalchemy import create_engine, select, text
from sqlalchemy.pool import NullPool

from tests.security.checklist_support import LOGIN_FAILED, T0, field_error, stored_users
from tests.support import HttpsClient, csrf_token_in, make_app, new_client
from webapp.config import production_settings
from webapp.extensions import db
from webapp.models import User

WEBAPP = Path(__file__).resolve().parents[2] / "webapp"
ARGON2_SETTINGS = ("ARGON2_TIME_COST", "ARGON2_MEMORY_COST", "ARGON2_PARALLELISM")
PASSWORD = "velvet tractors hum beneath orchard fog"
PASSPHRASE_64 = "the quiet orange ferry drifts past seven lighthouses before noon"
PASSPHRASE_100 = (
    "the quiet orange ferry drifts past seven lighthouses before noon, "
    "while gulls argue over the harbour"
)
PASSPHRASE_256 = (
    "my grandmother kept bees behind the old stone barn and every summer we carried "
    "jars of dark heather honey down the lane to sell at the market while the swallows "
    "chased insects above the river and the church bell rang out the hours, slowly, "
    "until dusk came."
)
ODD_CHARACTERS = "pa ss'\"<>;--\\%密码🔐ß…"
# 15 distinct precomposed (NFC) characters, out of code point order: "àáâãäå..." is a sequence.
ACCENTED = "éàüôçñïâèöûëîõå"


def _nfd(value: str) -> str:
    return unicodedata.normalize("NFD", value)


def _register(client: HttpsClient, password: str, email: str = "ann@example.com") -> int:
    return client.register(email=email, name="Ann", password=password).status_code


def _parse_phc(encoded: str) -> tuple[str, int, dict[str, int]]:
    """Variant, version and cost parameters of ``$argon2id$v=19$m=...,t=...,p=...$salt$hash``."""
    empty, variant, version, parameters, salt, digest = encoded.split("$")
    assert empty == ""
    assert salt
    assert digest
    costs = {key: int(value) for key, value in (p.split("=") for p in parameters.split(","))}
    return variant, int(version.removeprefix("v=")), costs


# --- c01: an approved KDF at or above the floor, compared only by the library ----------------


def test_c01_stored_hash_is_argon2id_at_or_above_the_owasp_floor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ARGON2_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    production = production_settings(str(tmp_path))
    app = make_app(**{name: production[name] for name in ARGON2_SETTINGS})

    assert _register(new_client(app), PASSWORD) == 303

    with app.app_context():
        stored = db.session.scalar(select(User)).password_hash
        tables = {
            table.name: [dict(row) for row in db.session.execute(table.select()).mappings()]
            for table in db.metadata.sorted_tables
        }
    variant, version, costs = _parse_phc(stored)
    assert (variant, version) == ("argon2id", 19)
    assert costs["m"] >= 19456
    assert costs["t"] >= 2
    assert costs["p"] >= 1
    assert len(tables["users"]) == 1
    for table, rows in tables.items():
        for row in rows:
            assert not any(PASSWORD in str(value) for value in row.values()), table
    assert new_client(app).login(password=PASSWORD).status_code == 303  # the library verifies


SQL_CRITERIA = frozenset({"where", "filter", "filter_by", "having"})


def _hash_comparisons(source: str, filename: str = "<snippet>") -> list[str]:
    """``==``/``!=`` comparisons whose operands mention a hash.

    Comparisons inside SQL criteria (``.where(Row.token_hash == hash_token(t))``) are database
    look-ups of a SHA-256 of a random token and are allowed, unless they touch password_hash.
    """
    tree = ast.parse(source, filename)
    in_sql = {
        id(argument)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in SQL_CRITERIA
        for argument in node.args
    }
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        if not any(isinstance(op, ast.Eq | ast.NotEq) for op in node.ops):
            continue
        operands = [ast.get_source_segment(source, o) or "" for o in (node.left, *node.comparators)]
        password_hash = any("password_hash" in o for o in operands)
        any_hash = any("hash" in o.lower() for o in operands)
        if password_hash or (any_hash and id(node) not in in_sql):
            found.append(f"{filename}:{node.lineno}: {ast.get_source_segment(source, node)}")
    return found


def test_c01_hashes_are_never_compared_with_equality_in_the_app() -> None:
    sources = sorted(WEBAPP.rglob("*.py"))
    assert WEBAPP / "passwords.py" in sources

    found = [
        hit
        for path in sources
        for hit in _hash_comparisons(path.read_text(encoding="utf-8"), str(path))
    ]

    assert found == []


@pytest.mark.parametrize(
    ("snippet", "flagged"),
    [
        ("ok = user.password_hash == hasher.hash(password)", True),
        ("if stored_hash != digest:\n    pass", True),
        ("ok = hashlib.sha256(data).hexdigest() == expected", True),
        ("q = select(User).where(User.password_hash == computed)", True),
        ("q = select(S).where(S.token_hash == hash_token(token))", False),
        ("ok = hmac.compare_digest(stored_hash, digest)", False),
        ("same = user.email == other.email", False),
    ],
)
def test_c01_the_hash_comparison_check_can_fail(snippet: str, flagged: bool) -> None:
    assert bool(_hash_comparisons(snippet)) is flagged


# --- c03: the column holds the full encoded hash -----------------------------------------------


def test_c03_hash_column_stores_a_large_parameter_argon2_hash_unchanged(tmp_path: Path) -> None:
    length = User.__table__.c.password_hash.type.length
    assert length is not None
    assert length >= 255
    # The encoding's length grows with the digits of each parameter and with the salt and
    # hash lengths, not with the cost: long salt and hash, five-digit memory, one pass.
    big = argon2.PasswordHasher(
        time_cost=1, memory_cost=65536, parallelism=4, hash_len=64, salt_len=32
    )
    encoded = big.hash(PASSWORD)
    assert encoded.startswith("$argon2id$v=19$m=65536,t=1,p=4$")
    assert len(encoded) >= 160  # the OWASP parameters give 97
    assert len(encoded) <= length
    url = f"sqlite:///{tmp_path / 'c03.db'}"
    app = make_app(SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        db.session.add(User(email="ann@example.com", name="Ann", password_hash=encoded))
        db.session.commit()
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            reread = connection.scalar(text("SELECT password_hash FROM users"))
    finally:
        engine.dispose()

    assert reread == encoded
    assert new_client(app).login(password=PASSWORD).status_code == 303  # verifies as stored
    with app.app_context():
        db.engine.dispose()


# --- c06: at least 15 code points, counted after NFC ----------------------------------------------


@pytest.mark.parametrize(
    "password",
    ["quietly-bright", ACCENTED[:14], _nfd(ACCENTED[:14])],
    ids=["14-ascii", "14-precomposed", "14-decomposed-28-code-points"],
)
def test_c06_fewer_than_15_characters_after_nfc_is_refused_beside_the_password(
    client: HttpsClient, app: Flask, password: str
) -> None:
    response = client.register(password=password)

    assert response.status_code == 422
    assert "at least 15" in field_error(response.text, "password")
    assert stored_users(app) == []


@pytest.mark.parametrize(
    ("registered", "typed"),
    [
        ("quietly-bright7", "quietly-bright7"),
        (ACCENTED, _nfd(ACCENTED)),
        (_nfd(ACCENTED), ACCENTED),
    ],
    ids=["15-ascii", "15-precomposed", "15-decomposed"],
)
def test_c06_15_characters_after_nfc_are_accepted_and_sign_in_in_either_form(
    client: HttpsClient,
    app_client_factory: Callable[[], HttpsClient],
    registered: str,
    typed: str,
) -> None:
    assert len(unicodedata.normalize("NFC", registered)) == 15

    assert _register(client, registered) == 303
    assert app_client_factory().login(password=typed).status_code == 303


# --- c07: long passphrases work; a flood is refused before hashing ----------------------------


@pytest.mark.parametrize("password", [PASSPHRASE_64, PASSPHRASE_256], ids=["64", "256"])
def test_c07_long_passphrases_with_spaces_register_and_sign_in(
    client: HttpsClient, app_client_factory: Callable[[], HttpsClient], password: str
) -> None:
    assert len(password) in (64, 256)
    assert " " in password

    assert _register(client, password) == 303
    signed_in = app_client_factory()
    assert signed_in.login(password=password).status_code == 303
    assert signed_in.get("/account").status_code == 200


@pytest.mark.parametrize("path", ["/register", "/login"])
def test_c07_a_megabyte_password_gets_413_and_never_reaches_the_hasher(
    client: HttpsClient,
    app: Flask,
    app_client_factory: Callable[[], HttpsClient],
    mocker: MockerFixture,
    path: str,
) -> None:
    hash_spy = mocker.spy(argon2.PasswordHasher, "hash")
    verify_spy = mocker.spy(argon2.PasswordHasher, "verify")
    other = app_client_factory()
    assert other.register().status_code == 303
    assert other.login().status_code == 303
    assert hash_spy.call_count >= 1  # the spies do see the app's hashing
    assert verify_spy.call_count >= 1
    hash_spy.reset_mock()
    verify_spy.reset_mock()
    megabyte = "x" * (1024 * 1024)
    token = csrf_token_in(client.get(path).text)

    response = client.post(
        path,
        data={
            "csrf_token": token,
            "email": "big@example.com",
            "name": "Big",
            "password": megabyte,
            "confirm_password": megabyte,
        },
    )

    assert response.status_code == 413
    assert "Too much data" in response.text
    assert hash_spy.call_count == 0
    assert verify_spy.call_count == 0
    assert [user.email for user in stored_users(app)] == ["ann@example.com"]
    assert client.get("/account").status_code == 302


# --- c09: printable ASCII, spaces and Unicode round-trip and are never echoed --------------------


def test_c09_any_characters_round_trip_and_the_password_is_never_echoed(
    client: HttpsClient, app_client_factory: Callable[[], HttpsClient]
) -> None:
    assert len(ODD_CHARACTERS) >= 15
    bodies = [client.get("/register").text]
    mismatch = client.submit(
        "/register",
        {
            "email": "ann@example.com",
            "name": "Ann",
            "password": ODD_CHARACTERS,
            "confirm_password": ODD_CHARACTERS + "!",
        },
    )
    assert mismatch.status_code == 422
    bodies.append(mismatch.text)

    registered = client.register(password=ODD_CHARACTERS)
    assert registered.status_code == 303
    bodies += [registered.text, client.get("/account").text]
    other = app_client_factory()
    wrong = other.login(password=ODD_CHARACTERS + "!")
    assert wrong.status_code == 422
    signed_in = other.login(password=ODD_CHARACTERS)
    assert signed_in.status_code == 303
    bodies += [wrong.text, signed_in.text, other.get("/account").text]

    forms = {ODD_CHARACTERS, html.escape(ODD_CHARACTERS), str(markupsafe.escape(ODD_CHARACTERS))}
    for body in bodies:
        assert "密码🔐" not in body
        assert not any(form in body for form in forms)


# --- c08, c10: no composition rules; common and low-variety passwords refused with the reason ---


def test_c08_a_random_20_digit_number_registers_and_signs_in(
    client: HttpsClient, app_client_factory: Callable[[], HttpsClient]
) -> None:
    number = "07922568046594493867"  # drawn once with secrets.choice

    assert _register(client, number) == 303
    assert app_client_factory().login(password=number).status_code == 303


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("424242424242424", "repeats a pattern"),
        ("aaaaaaaaaaaaaa1", "repeats a pattern"),
        ("135791113151719", "simple sequence"),
        ("1qaz2wsx3edc4rfv5tgb", "line of keys"),
    ],
)
def test_c10_low_variety_passwords_are_refused_beside_the_password(
    client: HttpsClient, app: Flask, password: str, reason: str
) -> None:
    response = client.register(password=password)

    assert response.status_code == 422
    assert reason in field_error(response.text, "password")
    assert stored_users(app) == []


# --- c11: context-specific words ------------------------------------------------------------


@pytest.mark.parametrize(
    "password", ["alicesmithalicesmith", "SignupDemo2025!SignupDemo", "alice.smith@example.com"]
)
def test_c11_passwords_built_from_the_email_or_site_name_are_refused_with_the_reason(
    client: HttpsClient, app: Flask, password: str
) -> None:
    assert app.config["SITE_NAME"] == "Signup Demo"

    response = client.register(email="alice.smith@example.com", name="Zed", password=password)

    assert response.status_code == 422
    reason = field_error(response.text, "password")
    assert "your email address, your name or the site" in reason
    assert stored_users(app) == []


def test_c11_an_unrelated_long_passphrase_is_accepted(client: HttpsClient, app: Flask) -> None:
    response = client.register(email="alice.smith@example.com", name="Zed", password=PASSWORD)

    assert response.status_code == 303
    assert [user.email for user in stored_users(app)] == ["alice.smith@example.com"]


# --- c12: no truncation, no case folding, no trimming -------------------------------------------


def test_c12_the_whole_100_characters_are_verified_with_their_case(
    client: HttpsClient, app_client_factory: Callable[[], HttpsClient]
) -> None:
    assert len(PASSPHRASE_100) == 100
    assert _register(client, PASSPHRASE_100) == 303
    attempts = {
        "first 72": PASSPHRASE_100[:72],
        "first letter's case flipped": PASSPHRASE_100[0].swapcase() + PASSPHRASE_100[1:],
    }

    for label, attempt in attempts.items():
        browser = app_client_factory()
        response = browser.login(password=attempt)
        assert response.status_code == 422, label
        assert LOGIN_FAILED in response.text, label
        assert browser.get("/account").status_code == 302, label

    assert app_client_factory().login(password=PASSPHRASE_100).status_code == 303


def test_c12_surrounding_spaces_are_part_of_the_password(
    client: HttpsClient, app_client_factory: Callable[[], HttpsClient]
) -> None:
    spaced = "  passphrase with spaces around  "
    assert _register(client, spaced) == 303

    trimmed = app_client_factory().login(password=spaced.strip())
    exact = app_client_factory().login(password=spaced)

    assert trimmed.status_code == 422
    assert LOGIN_FAILED in trimmed.text
    assert exact.status_code == 303


# --- c13: no periodic expiry --------------------------------------------------------------------


def test_c13_a_400_day_old_password_signs_in_without_a_forced_change(app: Flask) -> None:
    with time_machine.travel(T0, tick=False) as traveller:
        assert _register(new_client(app), PASSWORD) == 303
        traveller.shift(timedelta(days=400))
        client = new_client(app)  # cookies and CSRF tokens from 400 days ago are long dead

        response = client.login(password=PASSWORD)

        assert response.status_code == 303
        assert response.headers["Location"] == "/account"
        page = client.get("/account")
        assert page.status_code == 200
        assert "ann@example.com" in page.text
