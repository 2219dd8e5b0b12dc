"""Every page of the site in each state worth looking at: the accessibility audit, the layout
checks and the screenshots all walk this one list.

A stop says which cookie jar the browser starts with (none, the shared account's signed-in
session, or only its "keep me signed in" cookie, as after a browser restart) and how to get
from there to the page. Stops never change the shared account: forms are sent empty, and
the failed sign-in uses an address that has no account (so the account is never throttled).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from playwright.sync_api import Page

from tests.e2e.support import button, control, submit_sign_in

Jar = Literal["anonymous", "signed-in", "remembered"]

_strangers = itertools.count(1)


@dataclass(frozen=True)
class Stop:
    """A page in a state: where to start, how to get there, what it answers."""

    name: str
    jar: Jar
    visit: Callable[[Page, str], None]  # (page, the shared account's reset link)
    status: int = 200
    form: bool = False  # shows a form that was sent empty: an error summary is expected

    def __str__(self) -> str:
        return self.name


def _goto(path: str) -> Callable[[Page, str], None]:
    def visit(page: Page, reset_link: str) -> None:
        page.goto(path)

    return visit


def _send_empty(path: str, submit: str) -> Callable[[Page, str], None]:
    def visit(page: Page, reset_link: str) -> None:
        page.goto(path)
        button(page, submit).click()
        page.wait_for_load_state()

    return visit


def _reset_form(page: Page, reset_link: str) -> None:
    page.goto(reset_link)  # the link moves its token into the session: /password/reset
    page.wait_for_url("**/password/reset")


def _reset_form_empty(page: Page, reset_link: str) -> None:
    _reset_form(page, reset_link)
    button(page, "Change password").click()
    page.wait_for_load_state()


def _login_failed(page: Page, reset_link: str) -> None:
    page.goto("/login")
    submit_sign_in(page, f"ada.{next(_strangers)}@example.com", "not the right password")


def _confirm(page: Page, reset_link: str) -> None:
    # Back through "keep me signed in": a sensitive page first asks for the password.
    page.goto("/account/password")
    page.wait_for_url("**/account/confirm?**")


def _confirm_empty(page: Page, reset_link: str) -> None:
    _confirm(page, reset_link)
    control(page, "Password").press("Enter")
    page.wait_for_load_state()


STOPS = [
    Stop("home", "anonymous", _goto("/")),
    Stop("register", "anonymous", _goto("/register")),
    Stop("register-errors", "anonymous", _send_empty("/register", "Create account"), 422, True),
    Stop("login", "anonymous", _goto("/login")),
    Stop("login-errors", "anonymous", _send_empty("/login", "Sign in"), 422, True),
    Stop("login-failed", "anonymous", _login_failed, 422, True),
    Stop("forgot-password", "anonymous", _goto("/password/forgot")),
    Stop(
        "forgot-password-errors",
        "anonymous",
        _send_empty("/password/forgot", "Send the link"),
        422,
        True,
    ),
    # /register/sent is only reached with REQUIRE_EMAIL_VERIFICATION on: not in this tour.
    Stop("forgot-password-sent", "anonymous", _goto("/password/forgot/sent")),
    Stop("reset-password", "anonymous", _reset_form),
    Stop("reset-password-errors", "anonymous", _reset_form_empty, 422, True),
    Stop("link-expired", "anonymous", _goto("/password/reset/not-a-token"), 400),
    Stop("not-found", "anonymous", _goto("/no-such-page"), 404),
    Stop("account", "signed-in", _goto("/account")),
    Stop("change-password", "signed-in", _goto("/account/password")),
    Stop(
        "change-password-errors",
        "signed-in",
        _send_empty("/account/password", "Change password"),
        422,
        True,
    ),
    Stop("sessions", "signed-in", _goto("/account/sessions")),
    Stop("delete", "signed-in", _goto("/account/delete")),
    Stop(
        "delete-errors", "signed-in", _send_empty("/account/delete", "Delete my account"), 422, True
    ),
    Stop("confirm", "remembered", _confirm),
    Stop("confirm-errors", "remembered", _confirm_empty, 422, True),
]
BY_NAME = {stop.name: stop for stop in STOPS}


def storage_for(stop: Stop, signed_in: dict[str, Any], remembered: dict[str, Any]) -> Any:
    """The cookie jar a stop starts from."""
    return {"anonymous": None, "signed-in": signed_in, "remembered": remembered}[stop.jar]
