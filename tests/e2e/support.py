"""What a person does in the browser, as functions the flows share, and checks on the page.

Fields are found the way a person finds them, by their label; buttons by their role and name.
Every step waits for the page it leads to, so a step that lands elsewhere fails right there.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import (
    ConsoleMessage,
    Error,
    Locator,
    Page,
    Response,
    ViewportSize,
    expect,
)

from tests.smtp import Outbox
from tests.support import STRONG_PASSWORD

PASSWORD = STRONG_PASSWORD
NEW_PASSWORD = "purple elephant juggles seven lanterns"
MAIL_TIMEOUT = 10.0
# The two sizes every page is checked and photographed at: a laptop, and a phone.
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
MOBILE: ViewportSize = {"width": 390, "height": 844}
# Production's cookie names: the __Host- prefix makes the browser insist on Secure and the host.
SESSION_COOKIE = "__Host-session"
REMEMBER_COOKIE = "__Host-remember"
DEVICE_COOKIE = "__Host-device"


@dataclass(frozen=True)
class LiveServer:
    """The app under test: where it listens, the mailbox its mail goes to, its environment."""

    url: str
    outbox: Outbox
    env: dict[str, str]


@dataclass(frozen=True)
class Account:
    """Who signs up: an address, a name and a password."""

    email: str
    name: str = "Ann Example"
    password: str = PASSWORD


def control(page: Page, label: str) -> Locator:
    """The control with exactly this label ("Password" is not "Confirm password")."""
    return page.get_by_label(label, exact=True)


def button(page: Page, name: str) -> Locator:
    """The button with exactly this name, inside the page's main content."""
    return page.get_by_role("main").get_by_role("button", name=name, exact=True)


def flashes(page: Page) -> list[str]:
    """The flashed messages on the page."""
    return [text.strip() for text in page.locator(".flash").all_inner_texts()]


def path_of(page: Page) -> str:
    """The current path and query, without the origin."""
    return re.sub(r"^https?://[^/]+", "", page.url)


def submit_sign_up(page: Page, account: Account) -> None:
    """Fill in and send the sign-up form (wherever it leads)."""
    page.goto("/register")
    control(page, "Email address").fill(account.email)
    control(page, "Name").fill(account.name)
    control(page, "Password").fill(account.password)
    control(page, "Confirm password").fill(account.password)
    button(page, "Create account").click()
    page.wait_for_load_state()


def expect_account_of(page: Page, account: Account) -> None:
    """The page is this account's own page: signed in as it."""
    assert path_of(page) == "/account"
    expect(page.get_by_role("heading", level=1)).to_have_text("Your account")
    expect(page.get_by_role("main")).to_contain_text(account.email)
    expect(page.get_by_role("main")).to_contain_text(account.name)


def sign_up(page: Page, account: Account) -> None:
    """Create the account through the form; it ends on /account, signed in."""
    submit_sign_up(page, account)
    page.wait_for_url("**/account")


def submit_sign_in(page: Page, email: str, password: str, *, remember: bool = False) -> None:
    """Fill in and send the sign-in form (wherever it leads)."""
    if "/login" not in page.url:
        page.goto("/login")
    control(page, "Email address").fill(email)
    control(page, "Password").fill(password)
    if remember:
        control(page, "Keep me signed in on this device").check()
    button(page, "Sign in").click()
    page.wait_for_load_state()


def sign_in(page: Page, account: Account, *, remember: bool = False) -> None:
    """Sign in through the form; it ends on /account."""
    page.goto("/login")
    submit_sign_in(page, account.email, account.password, remember=remember)
    page.wait_for_url("**/account")


def sign_out(page: Page) -> None:
    """Press "Sign out" on the account page; it ends on /login (with or without a query)."""
    if not path_of(page).startswith("/account"):
        page.goto("/account")
    button(page, "Sign out").click()
    page.wait_for_url(lambda url: urlsplit(url).path == "/login")


def request_reset_link(page: Page, email: str) -> None:
    """Ask for a password-reset link from the sign-in page's "Forgot your password?"."""
    page.goto("/login")
    page.get_by_role("link", name="Forgot your password?").click()
    page.wait_for_url("**/password/forgot")
    control(page, "Email address").fill(email)
    button(page, "Send the link").click()
    page.wait_for_url("**/password/forgot/sent")


def wait_for_mail(
    outbox: Outbox, address: str, subject: str, timeout: float = MAIL_TIMEOUT, *, count: int = 1
) -> EmailMessage:
    """The newest message to ``address`` whose subject contains ``subject``, once ``count`` are in.

    Mail is sent by a background job after the reply, so it may arrive a moment later.
    """
    deadline = time.monotonic() + timeout
    while True:
        found = [m for m in outbox.to(address) if subject in str(m["Subject"])]
        if len(found) >= count:
            return found[-1]
        if time.monotonic() > deadline:
            subjects = [str(m["Subject"]) for m in outbox.to(address)]
            raise AssertionError(f"no {subject!r} mail to {address} in {timeout} s: {subjects}")
        time.sleep(0.02)


def persistent_cookies(state: Any) -> dict[str, Any]:
    """A storage state with only the cookies that outlive the browser (those with an expiry).

    What a browser keeps when it is closed and opened again: the session cookie is gone,
    the remember-me cookie stays.
    """
    cookies = [cookie for cookie in state["cookies"] if cookie["expires"] > 0]
    return {"cookies": cookies, "origins": []}


def cookie_names(state: Any) -> set[str]:
    """The names of the cookies in a storage state."""
    return {cookie["name"] for cookie in state["cookies"]}


@dataclass
class ConsoleWatch:
    """Collects Content-Security-Policy violations and uncaught script errors of a page."""

    problems: list[str] = field(default_factory=list)

    @classmethod
    def attach(cls, page: Page) -> ConsoleWatch:
        watch = cls()
        page.on("console", watch._console)
        page.on("pageerror", watch._page_error)
        return watch

    def _console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.problems.append(f"{message.type}: {message.text}")

    def _page_error(self, error: Error) -> None:
        self.problems.append(f"uncaught: {error}")

    def assert_clean(self) -> None:
        assert not self.problems, "the page reported:\n" + "\n".join(self.problems)


@dataclass
class Navigations:
    """The status of each document the page's main frame loaded, in order."""

    statuses: list[int] = field(default_factory=list)

    @classmethod
    def attach(cls, page: Page) -> Navigations:
        navigations = cls()

        def record(response: Response) -> None:
            request = response.request
            if request.is_navigation_request() and request.frame == page.main_frame:
                navigations.statuses.append(response.status)

        page.on("response", record)
        return navigations

    @property
    def last(self) -> int:
        assert self.statuses, "no page was loaded"
        return self.statuses[-1]
