"""Hostile input on every form: a 4xx with a clear message, never a 5xx."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from bs4 import BeautifulSoup
from werkzeug.datastructures import MultiDict

from tests.support import STRONG_PASSWORD, HttpsClient, csrf_token_in
from webapp.models import User

FORMS = {
    "/register": {
        "email": "ann@example.com",
        "name": "Ann",
        "password": STRONG_PASSWORD,
        "confirm_password": STRONG_PASSWORD,
    },
    "/login": {"email": "ann@example.com", "password": STRONG_PASSWORD},
}


def _errors(html: str) -> dict[str, str]:
    soup = BeautifulSoup(html, "html.parser")
    found = {
        p["id"].removesuffix("-error"): p.get_text(" ", strip=True) for p in soup.select("p.error")
    }
    summary = soup.select_one(".error-summary")
    if summary is not None:
        found["summary"] = summary.get_text(" ", strip=True)
    return found


def _post(client: HttpsClient, path: str, pairs: list[tuple[str, str]]) -> tuple[int, str]:
    token = csrf_token_in(client.get(path).text)
    response = client.post(path, data=MultiDict([("csrf_token", token), *pairs]))
    return response.status_code, response.text


CASES = [
    ("empty", lambda form, f: [(k, "") for k in form], None),
    ("missing", lambda form, f: [(k, v) for k, v in form.items() if k != f], None),
    ("repeated", lambda form, f: [*form.items(), (f, "other")], "only once"),
    ("nul", lambda form, f: [(k, v + "\x00" if k == f else v) for k, v in form.items()], None),
    (
        "newline",
        lambda form, f: [(k, v[:1] + "\n" + v[1:] if k == f else v) for k, v in form.items()],
        None,
    ),
    ("huge", lambda form, f: [(k, "a" * 5000 if k == f else v) for k, v in form.items()], None),
]


@pytest.mark.parametrize("path", list(FORMS))
@pytest.mark.parametrize(("case", "make", "says"), CASES, ids=[c[0] for c in CASES])
def test_c43_hostile_fields_get_a_4xx_with_a_message(
    client: HttpsClient,
    stored_users: Callable[[], list[User]],
    path: str,
    case: str,
    make: Callable[[dict[str, str], str], list[tuple[str, str]]],
    says: str | None,
) -> None:
    form = FORMS[path]
    for field in form:
        status, html = _post(client, path, make(form, field))

        assert 400 <= status < 500, (case, field, status)
        errors = _errors(html)
        assert errors, (case, field)
        if says:
            assert says in errors.get(field, ""), (case, field, errors)
    assert stored_users() == []


def test_c43_a_5000_character_email_is_refused_beside_the_email_field(client: HttpsClient) -> None:
    status, html = _post(
        client, "/register", [*{**FORMS["/register"], "email": "a" * 4988 + "@example.com"}.items()]
    )

    assert status == 422
    assert "at most 254" in _errors(html)["email"]


def test_invalid_utf8_is_a_4xx(client: HttpsClient, stored_users: Callable[[], list[User]]) -> None:
    token = csrf_token_in(client.get("/register").text)
    body = (
        b"csrf_token=" + token.encode() + b"&email=%FF%FE%FA@example.com&name=%C3%28"
        b"&password=%80%81" + b"x" * 20 + b"&confirm_password=%80%81" + b"x" * 20
    )

    response = client.post("/register", data=body, content_type="application/x-www-form-urlencoded")

    assert response.status_code == 400
    assert "could not be read as text" in response.text
    assert stored_users() == []


def test_c43_sql_in_the_email_is_just_a_failed_login(client: HttpsClient) -> None:
    status, html = _post(client, "/login", [("email", "' OR 1=1--"), ("password", "x" * 20)])

    assert status == 422
    assert "Incorrect email address or password." in html


def test_a_non_form_body_is_a_4xx(client: HttpsClient) -> None:
    response = client.post("/login", json={"email": "a@example.com"})

    assert response.status_code == 415
