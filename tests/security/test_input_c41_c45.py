"""Input handling: normalization, canonical emails, hostile forms, the sign-up race (c41-c45)."""

from __future__ import annotations

import http.cookiejar
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from email_validator import validate_email
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from tests.security.checklist_support import field_error, stored_users
from tests.support import STRONG_PASSWORD, HttpsClient, csrf_token_in, make_app, new_client
from webapp.extensions import db

CAFE_COMPOSED = "Un caf\u00e9 cr\u00e8me, d\u00e9j\u00e0 vu"
CAFE_DECOMPOSED = "Un cafe\u0301 cre\u0300me, de\u0301ja\u0300 vu"


# --- c41: NFC on every path ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("registered", "typed"),
    [(CAFE_COMPOSED, CAFE_DECOMPOSED), (CAFE_DECOMPOSED, CAFE_COMPOSED)],
    ids=["composed-then-decomposed", "decomposed-then-composed"],
)
def test_c41_either_unicode_form_signs_in_whichever_was_registered(
    client: HttpsClient,
    app_client_factory: Callable[[], HttpsClient],
    registered: str,
    typed: str,
) -> None:
    assert registered != typed
    assert len(CAFE_COMPOSED) >= 15

    assert client.register(password=registered).status_code == 303
    other = app_client_factory()
    response = other.login(password=typed)

    assert response.status_code == 303
    assert response.headers["Location"] == "/account"
    assert other.get("/account").status_code == 200


# --- c42: canonical emails, unique in any case -------------------------------------------------


def test_c42_email_is_canonicalized_and_unique_in_any_letter_case(
    client: HttpsClient, app: Flask, app_client_factory: Callable[[], HttpsClient]
) -> None:
    assert client.register(email="Alice@Example.COM", name="Alice").status_code == 303

    for typed in ("alice@example.com", " alice@EXAMPLE.com "):
        response = app_client_factory().register(email=typed, name="Impostor")
        assert response.status_code == 422, typed
        assert "already exists" in field_error(response.text, "email"), typed

    assert [(u.email, u.name) for u in stored_users(app)] == [("alice@example.com", "Alice")]
    for typed in ("alice@example.com", "ALICE@EXAMPLE.COM", " aLiCe@example.Com "):
        assert app_client_factory().login(email=typed).status_code == 303, typed


def test_c42_an_idn_address_is_stored_normalized_and_signs_in_as_typed_in_any_case(
    client: HttpsClient, app: Flask, app_client_factory: Callable[[], HttpsClient]
) -> None:
    normalized = validate_email("user@bücher.example", check_deliverability=False).normalized
    assert normalized == "user@bücher.example"  # email-validator keeps the Unicode domain

    assert client.register(email="user@bücher.example", name="Ute").status_code == 303

    assert [u.email for u in stored_users(app)] == [normalized]
    for typed in ("USER@BÜCHER.example", "user@xn--bcher-kva.example"):
        assert app_client_factory().login(email=typed).status_code == 303, typed
    duplicate = app_client_factory().register(email="user@xn--bcher-kva.example", name="Ute")
    assert duplicate.status_code == 422
    assert "already exists" in field_error(duplicate.text, "email")
    assert len(stored_users(app)) == 1


# --- c43: hostile input never causes a 5xx ----------------------------------------------------

FIELDS = {
    "/register": ("email", "name", "password", "confirm_password"),
    "/login": ("email", "password", "remember"),
}
# Any code point, lone surrogates included (they become invalid UTF-8 on the wire). Random
# code points are rarely surrogates, controls or combining marks, so those get pieces of their own.
ANY_CHARACTER = st.characters(codec=None, exclude_categories=())
ODD_CHARACTER = st.characters(codec=None, categories=("Cc", "Cf", "Co", "Cn", "Mn", "Zs"))
SURROGATE = st.characters(codec=None, categories=("Cs",))
SAMPLES = st.sampled_from(["ann@example.com", STRONG_PASSWORD, "", " ", "y", "' OR 1=1--"])
PIECES = st.one_of(
    st.text(alphabet=ANY_CHARACTER, max_size=40),
    st.text(alphabet=ODD_CHARACTER, min_size=1, max_size=5),
    st.text(alphabet=SURROGATE, min_size=1, max_size=3),
    st.emails(),
    SAMPLES,
)
SHORT = st.lists(PIECES, max_size=6).map("".join)
LONG = st.tuples(SHORT, st.integers(300, 2000)).map(lambda t: ((t[0] or "x") * t[1])[: t[1]])
VALUES = st.one_of(SHORT, LONG, st.emails(), SAMPLES)


@st.composite
def form_fields(draw: st.DrawFn, path: str) -> list[tuple[str, str]]:
    """Field values for ``path``: some fields missing, some repeated, extra ones added."""
    values = {name: draw(VALUES) for name in FIELDS[path]}
    if "confirm_password" in values and draw(st.booleans()):
        values["confirm_password"] = values["password"]  # get past the form to the services
    pairs: list[tuple[str, str]] = []
    for name, value in values.items():
        copies = draw(st.sampled_from([1, 1, 1, 0, 2]))
        if copies:
            pairs.append((name, value))
        pairs += [(name, draw(VALUES)) for _ in range(copies - 1)]
    if draw(st.booleans()):
        pairs.append((draw(st.sampled_from(["is_active", "id", "next"])), draw(VALUES)))
    return draw(st.permutations(pairs))


def _urlencoded(pairs: list[tuple[str, str]]) -> bytes:
    """A form body in which surrogates are encoded as the invalid UTF-8 they would be."""
    return "&".join(
        f"{urllib.parse.quote(name)}="
        f"{urllib.parse.quote(value.encode('utf-8', 'surrogatepass'), safe='')}"
        for name, value in pairs
    ).encode("ascii")


@pytest.fixture
def unlimited_app() -> Flask:
    """One app for all examples of a property test, without per-address limits.

    TESTING is on, so an unhandled exception (a failed database write included) propagates
    into the test instead of being turned into a 500 page.
    """
    app = make_app(RATELIMIT_ENABLED=False)
    assert app.config["TESTING"] is True
    return app


def _post_hostile(app: Flask, path: str, pairs: list[tuple[str, str]]) -> int:
    client = new_client(app)  # a fresh session each time: a successful sign-up changes it
    token = csrf_token_in(client.get(path).text)
    body = _urlencoded([("csrf_token", token), *pairs])
    response = client.post(path, data=body, content_type="application/x-www-form-urlencoded")
    return response.status_code


HYPOTHESIS = settings(
    max_examples=60,
    deadline=None,
    database=None,  # nothing written outside tests/security
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@HYPOTHESIS
@given(pairs=form_fields("/register"))
def test_c43_any_register_form_gets_an_answer_below_500(
    unlimited_app: Flask, pairs: list[tuple[str, str]]
) -> None:
    assert _post_hostile(unlimited_app, "/register", pairs) < 500


@HYPOTHESIS
@given(pairs=form_fields("/login"))
def test_c43_any_login_form_gets_an_answer_below_500(
    unlimited_app: Flask, pairs: list[tuple[str, str]]
) -> None:
    assert _post_hostile(unlimited_app, "/login", pairs) < 500


# --- c45: the sign-up race ----------------------------------------------------------------------

RACERS = 20
RACE_EMAIL = "racer@example.com"


class _QuietHandler(WSGIRequestHandler):
    def log(self, type: str, message: str, *args: Any) -> None:
        """No access log on the test output."""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # let the 303 itself reach the caller


@pytest.fixture
def race_server(tmp_path: Path) -> Iterator[tuple[Flask, str]]:
    """The app on a SQLite file behind a threaded HTTP server, over plain http."""
    app = make_app(
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'race.db'}",
        RATELIMIT_ENABLED=False,
        SESSION_COOKIE_SECURE=False,
        REMEMBER_COOKIE_SECURE=False,
        SESSION_COOKIE_NAME="session",
        REMEMBER_COOKIE_NAME="remember",
        FORCE_HTTPS=False,
    )
    server: BaseWSGIServer = make_server(
        "127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        with app.app_context():
            db.engine.dispose()


def _letter_case(text: str, pattern: int) -> str:
    letters = iter(range(len(text)))
    return "".join(c.upper() if c.isalpha() and pattern >> next(letters) & 1 else c for c in text)


def test_c45_twenty_simultaneous_sign_ups_with_one_address_make_one_account(
    race_server: tuple[Flask, str],
) -> None:
    app, base = race_server
    barrier = threading.Barrier(RACERS, timeout=30)
    results: list[tuple[int, str]] = []
    errors: list[BaseException] = []
    emails = [_letter_case(RACE_EMAIL, n * 2654435761 % 2**17) for n in range(RACERS)]
    assert len({e.lower() for e in emails}) == 1

    def race(email: str) -> None:
        try:
            jar = http.cookiejar.CookieJar()
            opener = urllib.request.build_opener(
                urllib.request.HTTPCookieProcessor(jar), _NoRedirects()
            )
            with opener.open(f"{base}/register", timeout=30) as page:
                token = csrf_token_in(page.read().decode())
            body = urllib.parse.urlencode(
                {
                    "csrf_token": token,
                    "email": email,
                    "name": "Racer",
                    "password": STRONG_PASSWORD,
                    "confirm_password": STRONG_PASSWORD,
                }
            ).encode()
            barrier.wait()
            try:
                with opener.open(f"{base}/register", data=body, timeout=30) as response:
                    results.append((response.status, response.read().decode()))
            except urllib.error.HTTPError as answer:
                with answer:
                    results.append((answer.code, answer.read().decode()))
        except BaseException as exc:  # reported below, with the thread's exception
            errors.append(exc)

    threads = [threading.Thread(target=race, args=(email,)) for email in emails]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    statuses = sorted(status for status, _ in results)
    assert statuses == [303] + [422] * (RACERS - 1)
    losers = [body for status, body in results if status == 422]
    assert all("already exists" in body for body in losers)
    assert [u.email for u in stored_users(app)] == [RACE_EMAIL]
