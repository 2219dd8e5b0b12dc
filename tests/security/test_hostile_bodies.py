"""Hostile bodies and headers on every POST route: a 4xx page, never a 5xx, nothing lost (c43).

Flask-WTF reads a JSON body as form data and files as field values, and compares the
Referer's port as a number: each of these once reached code that expects text and a number,
a 500. The routes are found in ``app.url_map``, so a new POST route is swept too (once
ROUTES says how a browser reaches its form).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from io import BytesIO
from typing import Any
from urllib.parse import quote

import pytest
from bs4 import BeautifulSoup
from flask import Flask, url_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.security.checklist_support import stored_users
from tests.support import STRONG_PASSWORD, HttpsClient, csrf_token_in, make_app, new_client
from webapp.errors import CSRF_ADVICE, PAGES, FileInForm, UnreadableForm, UnreadableReferer
from webapp.services import accounts, users

ANN = "ann@example.com"
NEW_PASSWORD = "a brand new passphrase for ann"
LINK = "{link}"  # in Route.page: the path of the emailed link (Route.link) Ann was sent

Fields = dict[str, str]
Request = dict[str, Any]  # keyword arguments of client.post


@dataclass(frozen=True)
class Route:
    """How a browser reaches a POST route's form, and what a valid submission holds."""

    page: str  # the page the form is sent from
    fields: Fields  # a valid submission, without the CSRF token
    signed_in: bool = False
    status: int = 303  # the answer to the valid submission
    link: str = "reset"  # which of Ann's emailed links a token in the route's path comes from


ROUTES = {
    "auth.register": Route(
        "/register",
        {
            "email": "bob@example.com",
            "name": "Bob",
            "password": STRONG_PASSWORD,
            "confirm_password": STRONG_PASSWORD,
        },
    ),
    "auth.resend_verification": Route("/register/resend", {"email": ANN}),
    "auth.login": Route("/login", {"email": ANN, "password": STRONG_PASSWORD}),
    "auth.logout": Route("/account", {}, signed_in=True),
    "auth.forgot_password": Route("/password/forgot", {"email": ANN}),
    "auth.reset_password": Route(
        "/password/forgot", {"password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
    ),
    "auth.reset_password_form": Route(
        LINK, {"password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
    ),
    "auth.verify_email": Route(LINK, {"password": STRONG_PASSWORD}, link="verify"),
    "account.confirm": Route("/account/confirm", {"password": STRONG_PASSWORD}, signed_in=True),
    "account.delete": Route("/account/delete", {"password": STRONG_PASSWORD}, signed_in=True),
    "account.change_password": Route(
        "/account/password",
        {
            "current_password": STRONG_PASSWORD,
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
        },
        signed_in=True,
    ),
    "account.sessions": Route("/account/sessions", {"action": "others"}, signed_in=True),
}


def _post_endpoints() -> list[str]:
    app = make_app(tables=False)
    return sorted({rule.endpoint for rule in app.url_map.iter_rules() if "POST" in rule.methods})


POST_ENDPOINTS = _post_endpoints()


# --- what the browser does before it sends -------------------------------------------------------


@dataclass
class Visit:
    """One browser at a route's form: it has loaded the page and holds its CSRF token."""

    browser: HttpsClient
    path: str  # where the form is posted
    token: str
    fields: Fields


def _app_with_ann() -> tuple[Flask, dict[str, str]]:
    """A testing app (no rate limits) with Ann's account, and the paths of her emailed links."""
    app = make_app(RATELIMIT_ENABLED=False)
    with app.app_context():
        ann = users.register_user(ANN, "Ann", STRONG_PASSWORD)
        verify = accounts.start_email_verification(ann, timedelta(hours=1))
        issued = accounts.request_password_reset(ANN, timedelta(hours=1))
        assert issued is not None
        _, reset = issued
    return app, {"reset": f"/password/reset/{reset}", "verify": f"/register/verify/{verify}"}


def _visit(app: Flask, links: dict[str, str], endpoint: str) -> Visit:
    assert endpoint in ROUTES, f"{endpoint} takes POST: add to ROUTES how a browser reaches it"
    route = ROUTES[endpoint]
    link = links[route.link]
    browser = new_client(app)
    if route.signed_in:
        assert browser.login().status_code == 303
    page = browser.get(route.page.replace(LINK, link), follow_redirects=True)
    assert page.status_code == 200, endpoint
    [rule] = app.url_map.iter_rules(endpoint)
    assert rule.arguments <= {"token"}, f"{endpoint}: {rule.rule} takes more than a link's token"
    with app.test_request_context():
        path = url_for(endpoint, **dict.fromkeys(rule.arguments, link.rpartition("/")[2]))
    return Visit(browser, path, csrf_token_in(page.text), route.fields)


# --- the requests --------------------------------------------------------------------------------


def _form(token: str, fields: Fields) -> Request:
    return {"data": {"csrf_token": token, **fields}}


def _blank_form(token: str, fields: Fields) -> Request:
    # Every field empty: the answer says what is missing and nothing is changed.
    return {"data": {"csrf_token": token, **dict.fromkeys(fields, "")}}


def _json(value: object) -> Callable[[str, Fields], Request]:
    def make(token: str, fields: Fields) -> Request:
        document = {"csrf_token": token, **dict.fromkeys(fields, value)}
        # The header token too: Flask-WTF reads it where a JSON body has no form field.
        return {
            "data": json.dumps(document),
            "content_type": "application/json",
            "headers": {"X-CSRFToken": token},
        }

    return make


def _json_document(document: object) -> Callable[[str, Fields], Request]:
    def make(token: str, fields: Fields) -> Request:
        return {
            "data": json.dumps(document),
            "content_type": "application/json",
            "headers": {"X-CSRFToken": token},
        }

    return make


def _files(token: str, fields: Fields) -> Request:
    uploads = {name: (BytesIO(b"not text"), "upload.txt") for name in fields or ("upload",)}
    return {"data": {"csrf_token": token, **uploads}, "content_type": "multipart/form-data"}


def _urlencoded_bytes(raw: str) -> Callable[[str, Fields], Request]:
    """Every field (or an extra one) set to ``raw``, already percent-encoded bytes."""

    def make(token: str, fields: Fields) -> Request:
        pairs = [f"csrf_token={quote(token)}", *(f"{n}={raw}" for n in fields or ("x",))]
        return {"data": "&".join(pairs), "content_type": "application/x-www-form-urlencoded"}

    return make


def multipart(pairs: list[tuple[str, bytes]], boundary: str = "hostile") -> tuple[bytes, str]:
    """A multipart/form-data body of text parts holding ``pairs`` byte for byte."""
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        + value
        + b"\r\n"
        for name, value in pairs
    ]
    return b"".join(
        parts
    ) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def _multipart_bytes(raw: bytes) -> Callable[[str, Fields], Request]:
    def make(token: str, fields: Fields) -> Request:
        body, content_type = multipart(
            [("csrf_token", token.encode()), *((n, raw) for n in fields or ("x",))]
        )
        return {"data": body, "content_type": content_type}

    return make


def _with_headers(**headers: str) -> Callable[[str, Fields], Request]:
    def make(token: str, fields: Fields) -> Request:
        return {**_blank_form(token, fields), "headers": headers}

    return make


def _raw_body(content_type: str | None) -> Callable[[str, Fields], Request]:
    """The blank form, urlencoded, under another (or no) Content-Type."""

    def make(token: str, fields: Fields) -> Request:
        body = "&".join([f"csrf_token={quote(token)}", *(f"{n}=" for n in fields)])
        request: Request = {"data": body.encode()}
        if content_type is not None:
            request["headers"] = {"Content-Type": content_type}
        return request

    return make


@dataclass(frozen=True)
class Case:
    """A hostile request and the answer it must get (None: as the blank form gets)."""

    make: Callable[[str, Fields], Request]
    status: int | None


HOSTILE = {
    # JSON of every type, which Flask-WTF would read as field values.
    "json number": Case(_json(1), 415),
    "json float": Case(_json(1.5), 415),
    "json boolean": Case(_json(True), 415),
    "json null": Case(_json(None), 415),
    "json object": Case(_json({"a": 1}), 415),
    "json list": Case(_json([1, "x"]), 415),
    "json lone surrogate": Case(_json("\ud800"), 415),
    "json huge string": Case(_json("a" * 60_000), 415),
    "json top-level list": Case(_json_document([1, 2]), 415),
    "json not json": Case(_json_document("{"), 415),
    # Uploads where text is expected, and text that is not UTF-8.
    "multipart file parts": Case(_files, 400),
    "urlencoded invalid utf-8": Case(_urlencoded_bytes("%FF%FE"), 400),
    "urlencoded lone surrogate": Case(_urlencoded_bytes("%ED%A0%80"), 400),
    "multipart invalid utf-8": Case(_multipart_bytes(b"\xff\xfe"), 400),
    "multipart lone surrogate": Case(_multipart_bytes(b"\xed\xa0\x80"), 400),
    # Referers: unreadable ones refused as such, the rest by the CSRF check unless same-origin.
    "referer port not a number": Case(_with_headers(Referer="https://localhost:abc/"), 400),
    "referer port out of range": Case(_with_headers(Referer="https://localhost:99999/"), 400),
    "referer broken ipv6": Case(_with_headers(Referer="https://[::1/login"), 400),
    "referer without scheme": Case(_with_headers(Referer="localhost/login"), 400),
    "referer null": Case(_with_headers(Referer="null"), 400),
    "referer other site": Case(_with_headers(Referer="https://evil.example/"), 400),
    "referer very long": Case(_with_headers(Referer="https://localhost/" + "a" * 8000), None),
    # Origins: nothing here trusts one, so only an unreadable one changes the answer.
    "origin null": Case(_with_headers(Origin="null"), None),
    "origin other site": Case(_with_headers(Origin="https://evil.example"), None),
    "origin garbage": Case(_with_headers(Origin="\x01garbage, more"), None),
    "origin port not a number": Case(_with_headers(Origin="https://localhost:abc"), 400),
    # Content types a browser form never sends.
    "content-type missing": Case(_raw_body(None), 415),
    "content-type text/plain": Case(_raw_body("text/plain"), 415),
    "content-type json latin-1": Case(_raw_body("application/json; charset=latin1"), 415),
    "content-type folded duplicate": Case(
        _raw_body("application/x-www-form-urlencoded, text/plain"), 415
    ),
    # Werkzeug reads nothing from it, so the CSRF token is missing.
    "multipart without boundary": Case(_raw_body("multipart/form-data"), 400),
}


def _send(visit: Visit, make: Callable[[str, Fields], Request]) -> int:
    return visit.browser.post(visit.path, **make(visit.token, visit.fields)).status_code


def _stored(app: Flask) -> list[tuple[object, ...]]:
    return [
        (u.id, u.email, u.name, u.password_hash, u.email_verified_at, u.is_active)
        for u in stored_users(app)
    ]


@pytest.mark.parametrize("endpoint", POST_ENDPOINTS)
def test_c43_hostile_bodies_and_headers_get_a_4xx_on_every_post_route(endpoint: str) -> None:
    app, links = _app_with_ann()
    before = _stored(app)
    blank = _send(_visit(app, links, endpoint), _blank_form)

    answers = {
        name: _send(_visit(app, links, endpoint), case.make) for name, case in HOSTILE.items()
    }

    assert 400 <= blank < 500 or (endpoint == "auth.logout" and blank == 303)
    wrong = {
        name: status
        for name, status in answers.items()
        if status != (blank if HOSTILE[name].status is None else HOSTILE[name].status)
    }
    assert wrong == {}
    assert _stored(app) == before
    assert new_client(app).login().status_code == 303  # Ann's password still works
    # And the form itself still works, sent as a browser sends it.
    assert _send(_visit(app, links, endpoint), _form) == ROUTES[endpoint].status


def test_every_post_route_is_swept() -> None:
    assert set(POST_ENDPOINTS) == set(ROUTES)


# --- what the person sees ------------------------------------------------------------------------

ADVICE = {
    "json object": (415, PAGES[415][1]),
    "content-type text/plain": (415, PAGES[415][1]),
    "multipart file parts": (400, FileInForm.advice),
    "multipart invalid utf-8": (400, UnreadableForm.advice),
    "referer port not a number": (400, UnreadableReferer.advice),
    "referer other site": (400, CSRF_ADVICE),
}


@pytest.mark.parametrize("case", list(ADVICE))
def test_c43_the_refusal_is_the_error_page_with_advice(case: str) -> None:
    app, links = _app_with_ann()
    before = _stored(app)
    visit = _visit(app, links, "account.change_password")

    response = visit.browser.post(visit.path, **HOSTILE[case].make(visit.token, visit.fields))

    status, advice = ADVICE[case]
    assert response.status_code == status
    text = BeautifulSoup(response.text, "html.parser").get_text(" ", strip=True)
    assert advice in text
    assert f"Error {status}" in text
    assert _stored(app) == before


# --- any value, any header -----------------------------------------------------------------------

HYPOTHESIS = settings(
    max_examples=40,
    deadline=None,
    database=None,  # nothing written outside tests/security
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
# Any code point, lone surrogates included: json.dumps writes them as "\ud800" escapes.
TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=20)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)
# What a WSGI server can pass on: Latin-1 text without line breaks.
HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=40)
ADDRESS = st.tuples(
    st.sampled_from(
        ["", "https://localhost", "https://localhost:", "https://[", "//", "null", "http://x"]
    ),
    HEADER_TEXT,
).map("".join)
CONTENT_TYPE = st.tuples(
    st.sampled_from(
        [
            "",
            "application/x-www-form-urlencoded",
            "multipart/form-data",
            "application/json",
            "text/plain",
        ]
    ),
    HEADER_TEXT,
).map("".join)


@pytest.fixture
def swept_app() -> tuple[Flask, str]:
    """One app for all examples of a property test: Ann's account and her emailed links."""
    return _app_with_ann()


@HYPOTHESIS
@given(endpoint=st.sampled_from(POST_ENDPOINTS), data=st.data())
def test_c43_any_json_values_are_refused_on_any_post_route(
    swept_app: tuple[Flask, str], endpoint: str, data: st.DataObject
) -> None:
    app, links = swept_app
    visit = _visit(app, links, endpoint)
    document = {name: data.draw(JSON, label=name) for name in visit.fields}

    assert _send(visit, _json_document({"csrf_token": visit.token, **document})) == 415


@HYPOTHESIS
@given(
    endpoint=st.sampled_from(POST_ENDPOINTS),
    referer=st.none() | ADDRESS,
    origin=st.none() | ADDRESS,
    # Mostly the form's own type, so the odd addresses reach the CSRF check behind it.
    content_type=st.sampled_from([None, "application/x-www-form-urlencoded"]) | CONTENT_TYPE,
)
def test_c43_any_referer_origin_or_content_type_gets_an_answer_below_500(
    swept_app: tuple[Flask, str],
    endpoint: str,
    referer: str | None,
    origin: str | None,
    content_type: str | None,
) -> None:
    app, links = swept_app
    before = _stored(app)
    visit = _visit(app, links, endpoint)
    request = _raw_body(content_type)(visit.token, visit.fields)
    extra = {"Referer": referer, "Origin": origin}
    request["headers"] = {
        **request.get("headers", {}),
        **{name: value for name, value in extra.items() if value is not None},
    }

    assert visit.browser.post(visit.path, **request).status_code < 500
    assert _stored(app) == before
