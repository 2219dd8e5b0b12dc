"""Sign-up through the test client, CSRF on."""

from __future__ import annotations

from collections.abc import Callable

from bs4 import BeautifulSoup

from tests.security.checklist_support import fields_in_error
from tests.support import STRONG_PASSWORD, HttpsClient
from webapp.models import User


def _field_error(html: str, field: str) -> str:
    soup = BeautifulSoup(html, "html.parser")
    control = soup.find(id=field)
    assert control is not None
    assert control.get("aria-invalid") == "true"
    error = soup.find(id=f"{field}-error")
    assert error is not None
    assert f"{field}-error" in control["aria-describedby"].split()
    return error.get_text(" ", strip=True)


def test_register_signs_in_and_shows_the_account(
    client: HttpsClient, stored_users: Callable[[], list[User]]
) -> None:
    response = client.register(email="Ann@Example.com", name="Ann Lee")

    assert response.status_code == 303
    assert response.headers["Location"] == "/account"
    page = client.get("/account")
    assert page.status_code == 200
    assert "Ann Lee" in page.text
    assert "ann@example.com" in page.text
    [user] = stored_users()
    assert user.email == "ann@example.com"
    assert user.password_hash.startswith("$argon2id$")


def test_c42_same_email_in_another_case_is_refused_beside_the_email_field(
    client: HttpsClient,
    app_client_factory: Callable[[], HttpsClient],
    stored_users: Callable[[], list[User]],
) -> None:
    client.register(email="ann@example.com")

    response = app_client_factory().register(email="ANN@EXAMPLE.COM", name="Impostor")

    assert response.status_code == 422
    assert "already exists" in _field_error(response.text, "email")
    assert [u.name for u in stored_users()] == ["Ann"]


def test_mismatched_confirmation_is_reported_beside_its_field(
    client: HttpsClient, stored_users: Callable[[], list[User]]
) -> None:
    response = client.submit(
        "/register",
        {
            "email": "ann@example.com",
            "name": "Ann",
            "password": STRONG_PASSWORD,
            "confirm_password": STRONG_PASSWORD + "!",
        },
    )

    assert response.status_code == 422
    assert "do not match" in _field_error(response.text, "confirm_password")
    assert stored_users() == []


def test_an_empty_password_is_reported_alone_not_also_as_a_mismatch(
    client: HttpsClient, stored_users: Callable[[], list[User]]
) -> None:
    response = client.submit(
        "/register",
        {
            "email": "ann@example.com",
            "name": "Ann",
            "password": "",
            "confirm_password": STRONG_PASSWORD,
        },
    )

    assert response.status_code == 422
    assert _field_error(response.text, "password") == "Error: Choose a password."
    assert fields_in_error(response.text) == {"password"}
    assert "do not match" not in response.text
    assert stored_users() == []


def test_weak_password_says_why_and_keeps_the_other_fields(
    client: HttpsClient, stored_users: Callable[[], list[User]]
) -> None:
    response = client.register(email="ann@example.com", name="Ann", password="password")

    assert response.status_code == 422
    assert "15 characters" in _field_error(response.text, "password")
    soup = BeautifulSoup(response.text, "html.parser")
    assert soup.find(id="email")["value"] == "ann@example.com"
    assert soup.find(id="name")["value"] == "Ann"
    assert soup.find(id="password").get("value") in (None, "")  # never echoed
    assert stored_users() == []


def test_c10_common_password_is_refused_with_the_reason(client: HttpsClient) -> None:
    response = client.register(password="1qaz2wsx3edc4rfv")

    assert response.status_code == 422
    assert "commonly used" in _field_error(response.text, "password")


def test_c43_extra_fields_are_ignored(
    client: HttpsClient, stored_users: Callable[[], list[User]]
) -> None:
    response = client.submit(
        "/register",
        {
            "email": "ann@example.com",
            "name": "Ann",
            "password": STRONG_PASSWORD,
            "confirm_password": STRONG_PASSWORD,
            "is_active": "0",
            "id": "999",
        },
    )

    assert response.status_code == 303
    [user] = stored_users()
    assert user.id != 999
    assert user.is_active is True


def test_c43_markup_in_the_name_is_escaped(client: HttpsClient) -> None:
    client.register(name="<script>alert(1)</script>")

    page = client.get("/account").text

    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)" not in page
