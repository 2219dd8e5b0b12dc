"""Forms that people, screen readers and password managers understand."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup, Tag

from tests.support import HttpsClient

EXPECTED = {
    "/register": {
        "email": ("email", "email"),
        "name": ("text", "name"),
        "password": ("password", "new-password"),
        "confirm_password": ("password", "new-password"),
    },
    "/login": {
        "email": ("email", "email"),
        "password": ("password", "current-password"),
    },
}


def _form(client: HttpsClient, path: str) -> Tag:
    soup = BeautifulSoup(client.get(path).text, "html.parser")
    form = soup.find("form", attrs={"method": "post", "class": "form"})
    assert isinstance(form, Tag)
    return form


@pytest.mark.parametrize("path", list(EXPECTED))
def test_c14_inputs_have_labels_types_and_autocomplete(client: HttpsClient, path: str) -> None:
    form = _form(client, path)

    for name, (input_type, autocomplete) in EXPECTED[path].items():
        control = form.find("input", attrs={"name": name})
        assert control is not None, name
        assert control["type"] == input_type, name
        assert control["autocomplete"] == autocomplete, name
        label = form.find("label", attrs={"for": control["id"]})
        assert label is not None, name
        assert label.get_text(strip=True), name


@pytest.mark.parametrize("path", list(EXPECTED))
def test_c14_no_hints_questions_or_paste_blocking(client: HttpsClient, path: str) -> None:
    html = client.get(path).text

    for forbidden in ('autocomplete="off"', "onpaste", "oncopy", "hint_question", "security_q"):
        assert forbidden not in html


def test_remember_checkbox_is_labelled(client: HttpsClient) -> None:
    form = _form(client, "/login")

    box = form.find("input", attrs={"name": "remember"})
    assert box["type"] == "checkbox"
    assert form.find("label", attrs={"for": box["id"]}) is not None


def test_c14_register_page_guides_the_choice_of_password(client: HttpsClient) -> None:
    form = _form(client, "/register")

    password = form.find("input", attrs={"name": "password"})
    hint = form.find(id=password["aria-describedby"])
    assert "at least 15 characters" in hint.get_text()
    assert "password manager" in hint.get_text()


def test_errors_are_linked_to_their_fields_and_summarised(client: HttpsClient) -> None:
    response = client.submit("/register", {"email": "nope", "name": "", "password": ""})
    soup = BeautifulSoup(response.text, "html.parser")

    for name in ("email", "name", "password", "confirm_password"):
        control = soup.find(id=name)
        assert control["aria-invalid"] == "true", name
        error = soup.find(id=f"{name}-error")
        assert error is not None, name
        assert error.get_text(strip=True), name
        assert f"{name}-error" in control["aria-describedby"].split(), name
        assert soup.select_one(f'.error-summary a[href="#{name}"]') is not None, name
    assert soup.select_one(".error-summary")["role"] == "alert"


def test_no_inline_script_or_style_anywhere(client: HttpsClient) -> None:
    client.register()
    for path in ("/", "/login", "/register", "/account", "/missing"):
        soup = BeautifulSoup(client.get(path).text, "html.parser")
        for script in soup.find_all("script"):  # external files from /static only
            assert script["src"].startswith("/static/"), path
            assert not script.string, path
        assert soup.find("style") is None, path
        assert soup.find(attrs={"style": True}) is None, path
        assert all(not attr.startswith("on") for tag in soup.find_all(True) for attr in tag.attrs)
        assert all(
            link["href"].startswith("/static/") for link in soup.find_all("link", rel="stylesheet")
        )


def test_c28_every_signed_in_page_has_a_sign_out_form(client: HttpsClient) -> None:
    client.register()
    for path in ("/", "/account"):
        soup = BeautifulSoup(client.get(path).text, "html.parser")
        form = soup.find("form", attrs={"action": "/logout"})
        assert form is not None, path
        assert form["method"] == "post"
        assert form.find("input", attrs={"name": "csrf_token"}) is not None
