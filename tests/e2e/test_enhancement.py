"""Password managers and the show/hide toggle that static/js/app.js adds.

The DOM carries what password managers read (autocomplete, input types, labels); the toggle
is a progressive enhancement: only with JavaScript, loaded from /static under the CSP.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.support import ConsoleWatch, control
from tests.e2e.tour import BY_NAME

OpenStop = Callable[..., Page]
OpenBrowser = Callable[..., Page]

# Each form's controls: id -> (type, autocomplete).
FORMS = {
    "register": {
        "email": ("email", "email"),
        "name": ("text", "name"),
        "password": ("password", "new-password"),
        "confirm_password": ("password", "new-password"),
    },
    "login": {"email": ("email", "email"), "password": ("password", "current-password")},
    "forgot-password": {"email": ("email", "email")},
    "reset-password": {
        "password": ("password", "new-password"),
        "confirm_password": ("password", "new-password"),
    },
    "change-password": {
        "current_password": ("password", "current-password"),
        "new_password": ("password", "new-password"),
        "confirm_password": ("password", "new-password"),
    },
    "delete": {"password": ("password", "current-password")},
    "confirm": {"password": ("password", "current-password")},
}


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
@pytest.mark.parametrize("name", list(FORMS))
def test_password_managers_find_the_right_autocomplete_values(
    open_stop: OpenStop, name: str, javascript: bool
) -> None:
    page = open_stop(BY_NAME[name], javascript=javascript)

    for control_id, (kind, autocomplete) in FORMS[name].items():
        element = page.locator(f"form.form #{control_id}")
        expect(element).to_have_attribute("type", kind)
        expect(element).to_have_attribute("autocomplete", autocomplete)
        expect(page.locator(f"label[for='{control_id}']")).to_have_count(1)
    # Every password field of the page is one of these, inside the form that sends it.
    passwords = page.locator("input[type='password']").evaluate_all("els => els.map(e => e.id)")
    assert passwords == [i for i, (kind, _) in FORMS[name].items() if kind == "password"]


def test_the_toggle_shows_and_hides_the_password(open_stop: OpenStop) -> None:
    page = open_stop(BY_NAME["login"])
    password = control(page, "Password")
    toggle = page.locator("button[aria-controls='password']")

    expect(toggle).to_have_text("Show password")
    expect(toggle).to_have_attribute("type", "button")
    expect(toggle).to_have_attribute("aria-controls", "password")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    password.fill("correct horse battery staple")
    toggle.click()

    expect(password).to_have_attribute("type", "text")
    expect(toggle).to_have_text("Show password")
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(password).to_have_value("correct horse battery staple")
    expect(password).to_have_attribute("autocomplete", "current-password")
    expect(password).to_have_attribute("name", "password")

    toggle.press("Enter")  # the keyboard works too

    expect(password).to_have_attribute("type", "password")
    expect(toggle).to_have_text("Show password")
    expect(toggle).to_have_attribute("aria-pressed", "false")


def test_each_password_field_has_its_own_toggle(open_stop: OpenStop) -> None:
    page = open_stop(BY_NAME["change-password"])
    toggles = page.get_by_role("button", name="Show password", exact=True)

    expect(toggles).to_have_count(3)
    controlled = toggles.evaluate_all("els => els.map(e => e.getAttribute('aria-controls'))")
    assert controlled == ["current_password", "new_password", "confirm_password"]
    toggles.nth(1).click()
    types = page.locator("form.form input:not([type='hidden'])").evaluate_all(
        "els => els.map(e => e.type)"
    )
    assert types == ["password", "text", "password"]


def test_a_shown_password_is_sent_as_a_password_field(open_stop: OpenStop) -> None:
    page = open_stop(BY_NAME["login"])
    control(page, "Email address").fill("nobody-here@example.com")
    control(page, "Password").fill("not the right password")
    page.get_by_role("button", name="Show password", exact=True).click()
    page.evaluate(
        """() => {
            window.typeAtSubmit = null;
            // On the window, so it runs after the form's own listener (submit bubbles).
            window.addEventListener("submit", (event) => {
                window.typeAtSubmit = document.getElementById("password").type;
                event.preventDefault();
            });
        }"""
    )

    page.get_by_role("main").get_by_role("button", name="Sign in").click()

    assert page.evaluate("window.typeAtSubmit") == "password"


def test_without_javascript_there_is_no_toggle(open_stop: OpenStop) -> None:
    page = open_stop(BY_NAME["register"], javascript=False)

    expect(page.get_by_role("button", name="Show password")).to_have_count(0)
    expect(page.locator("input[type='password']")).to_have_count(2)


def test_the_script_loads_under_the_csp_and_violations_would_be_seen(
    new_context: Callable[..., BrowserContext],
) -> None:
    # A page of its own: open_stop's watch would fail the test on the violation made here.
    page = new_context().new_page()
    watch = ConsoleWatch.attach(page)
    page.goto("/register")
    loaded = page.evaluate(
        "[...document.scripts].map(s => ({src: s.getAttribute('src'), inline: !s.src}))"
    )
    assert loaded == [{"src": "/static/js/app.js", "inline": False}]
    expect(page.get_by_role("button", name="Show password")).to_have_count(2)  # it ran
    assert watch.problems == []

    # The watch that fails every browser test on a CSP report does see one.
    page.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "window.injected = true";
            document.body.append(script);
        }"""
    )
    expect(page.locator("body")).to_be_attached()
    page.wait_for_timeout(100)
    assert page.evaluate("window.injected") is None
    assert any("Content Security Policy" in problem for problem in watch.problems)
