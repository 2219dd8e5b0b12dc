"""Sign-up with REQUIRE_EMAIL_VERIFICATION on, in a real Chromium, with JavaScript on and off.

These tests talk to conftest.py's ``verifying_server`` (the same deployment, on the same
database, with verification on) instead of the session's main server.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.support import (
    Account,
    LiveServer,
    expect_account_of,
    submit_sign_in,
    submit_sign_up,
    wait_for_mail,
)
from tests.smtp import link_in

OpenBrowser = Callable[..., Page]
NewEmail = Callable[[], str]


@pytest.fixture
def browser_context_args(
    browser_context_args: dict[str, Any], verifying_server: LiveServer
) -> dict[str, Any]:
    """Every context of this module opens pages of the verifying server."""
    return {**browser_context_args, "base_url": verifying_server.url}


SUBJECT = "Confirm your email address"


def _sign_up_for_a_link(page: Page, account: Account, server: LiveServer) -> str:
    """Sign up on the verifying server and return the confirmation link it mailed."""
    submit_sign_up(page, account)
    page.wait_for_url("**/register/sent")
    link = link_in(wait_for_mail(server.outbox, account.email, SUBJECT))
    assert link.startswith(f"{server.url}/register/verify/")
    return link


def _confirm_with_the_password(page: Page, link: str, account: Account) -> None:
    page.goto(link)
    password = page.locator("main form input[name='password']")
    expect(password).to_have_attribute("type", "password")
    password.fill(account.password)
    page.locator("main form:has(input[name='password']) [type='submit']").click()


def test_the_confirmation_link_asks_for_the_password_then_confirms_and_signs_in(
    open_browser: OpenBrowser, new_email: NewEmail, verifying_server: LiveServer
) -> None:
    account = Account(new_email())
    page = open_browser()
    link = _sign_up_for_a_link(page, account, verifying_server)

    # A browser with no cookies (a mail scanner, say) opens the link: that confirms nothing.
    open_browser().goto(link)
    submit_sign_in(page, account.email, account.password)
    expect(page.locator(".error-summary")).to_contain_text("Confirm your email address first")

    _confirm_with_the_password(page, link, account)

    page.wait_for_url("**/account")
    expect_account_of(page, account)


def test_a_new_link_can_be_asked_for_and_the_newest_one_confirms(
    open_browser: OpenBrowser, new_email: NewEmail, verifying_server: LiveServer
) -> None:
    account = Account(new_email())
    page = open_browser()
    first = _sign_up_for_a_link(page, account, verifying_server)

    page.goto("/register/resend")
    page.get_by_label("Email address", exact=True).fill(account.email)
    page.locator("main form [type='submit']").click()
    page.wait_for_url("**/register/sent")
    newest = link_in(wait_for_mail(verifying_server.outbox, account.email, SUBJECT, count=2))
    assert newest != first

    page.goto(first)  # superseded by the newer link
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "This link has expired or was already used"
    )
    _confirm_with_the_password(page, newest, account)
    page.wait_for_url("**/account")
    expect_account_of(page, account)
