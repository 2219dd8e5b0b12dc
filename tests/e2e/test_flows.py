"""The flows of the README in a real Chromium, each with JavaScript on and off.

Every form is posted by the browser itself to the app as deployed (gunicorn over https,
production settings: see conftest.py). Each ``open_browser()`` is another browser with a
cookie jar of its own (a Playwright context); the ``javascript`` parameter switches script
execution for all of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlsplit

from playwright.sync_api import Page, expect

from tests.e2e.support import (
    DEVICE_COOKIE,
    NEW_PASSWORD,
    REMEMBER_COOKIE,
    SESSION_COOKIE,
    Account,
    LiveServer,
    button,
    control,
    cookie_names,
    expect_account_of,
    flashes,
    path_of,
    persistent_cookies,
    request_reset_link,
    sign_in,
    sign_out,
    sign_up,
    submit_sign_in,
    wait_for_mail,
)
from tests.smtp import link_in

OpenBrowser = Callable[..., Page]
NewEmail = Callable[[], str]
SIGN_IN_AGAIN = "/login?next=%2Faccount"
LOGIN_FAILED = "Incorrect email address or password."


def _expect_signed_out(page: Page) -> None:
    """The account page sends this browser to sign in."""
    page.goto("/account")
    page.wait_for_url(f"**{SIGN_IN_AGAIN}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")


def test_sign_up_lands_on_the_account_page(open_browser: OpenBrowser, new_email: NewEmail) -> None:
    page = open_browser()
    account = Account(new_email(), name="Grace Hopper")

    sign_up(page, account)

    expect_account_of(page, account)
    assert flashes(page) == ["Welcome! Your account is ready."]
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("button", name="Sign out")).to_be_visible()


def test_sign_out_ends_the_session(open_browser: OpenBrowser, new_email: NewEmail) -> None:
    page = open_browser()
    sign_up(page, Account(new_email()))

    sign_out(page)

    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Sign in")).to_be_visible()
    _expect_signed_out(page)


def test_sign_out_says_so(open_browser: OpenBrowser, new_email: NewEmail) -> None:
    page = open_browser()
    sign_up(page, Account(new_email()))

    sign_out(page)

    assert "You have been signed out." in flashes(page)


def test_a_wrong_password_shows_the_message(open_browser: OpenBrowser, account: Account) -> None:
    page = open_browser()

    submit_sign_in(page, account.email, "not the right password at all")

    assert path_of(page) == "/login"
    summary = page.locator(".error-summary")
    expect(summary).to_contain_text(LOGIN_FAILED)
    expect(control(page, "Email address")).to_have_value(account.email)
    expect(control(page, "Password")).to_have_value("")
    _expect_signed_out(page)


def test_sign_in_lands_on_the_account_page(open_browser: OpenBrowser, account: Account) -> None:
    page = open_browser()

    sign_in(page, account)

    expect_account_of(page, account)


def test_sign_in_follows_next_back_to_the_page_asked_for(
    open_browser: OpenBrowser, account: Account
) -> None:
    page = open_browser()

    page.goto("/account/sessions")
    page.wait_for_url("**/login?next=%2Faccount%2Fsessions")
    submit_sign_in(page, account.email, account.password)

    page.wait_for_url("**/account/sessions")


def test_keep_me_signed_in_survives_a_restart_and_ends_with_sign_out(
    open_browser: OpenBrowser, account: Account
) -> None:
    first = open_browser()
    sign_in(first, account, remember=True)
    state = first.context.storage_state()
    first.context.close()
    # What survives closing the browser: the persistent cookies, not the session cookie.
    kept = persistent_cookies(state)
    assert cookie_names(state) == {SESSION_COOKIE, REMEMBER_COOKIE, DEVICE_COOKIE}
    assert cookie_names(kept) == {REMEMBER_COOKIE, DEVICE_COOKIE}

    restarted = open_browser(storage_state=kept)
    restarted.goto("/account")

    expect_account_of(restarted, account)
    sign_out(restarted)
    assert REMEMBER_COOKIE not in {cookie["name"] for cookie in restarted.context.cookies()}
    # The same cookie, restored again, no longer works: the session ended on the server.
    _expect_signed_out(open_browser(storage_state=kept))


def test_a_remembered_browser_confirms_the_password_before_changing_it(
    open_browser: OpenBrowser, account: Account
) -> None:
    first = open_browser()
    sign_in(first, account, remember=True)
    kept = persistent_cookies(first.context.storage_state())
    first.context.close()
    restarted = open_browser(storage_state=kept)

    restarted.goto("/account/password")
    restarted.wait_for_url("**/account/confirm?next=%2Faccount%2Fpassword")
    control(restarted, "Password").fill(account.password)
    button(restarted, "Continue").click()
    restarted.wait_for_url("**/account/password")
    _change_password(restarted, account)
    # The browser is still remembered, under its new token: another restart keeps it in.
    again = open_browser(storage_state=persistent_cookies(restarted.context.storage_state()))
    again.goto("/account")
    expect_account_of(again, account)


def test_signing_in_over_a_kept_session_ends_it_for_good(
    open_browser: OpenBrowser, account: Account, make_account: Callable[[], Account]
) -> None:
    other = make_account()
    shared = open_browser()
    sign_in(shared, account, remember=True)

    sign_in(shared, other)  # someone else on the same browser, without "keep me signed in"

    expect_account_of(shared, other)
    state = shared.context.storage_state()
    # The first person's remember cookie is gone from the browser.
    assert cookie_names(state) == {SESSION_COOKIE, DEVICE_COOKIE}
    shared.context.close()
    _expect_signed_out(open_browser(storage_state=persistent_cookies(state)))


def test_forgot_password_link_from_the_mail_sets_a_new_password(
    open_browser: OpenBrowser, account: Account, live_server: LiveServer
) -> None:
    page = open_browser()

    request_reset_link(page, account.email)
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
    link = link_in(wait_for_mail(live_server.outbox, account.email, "Reset your password"))
    assert link.startswith(f"{live_server.url}/password/reset/")
    page.goto(link)
    page.wait_for_url("**/password/reset")  # the token is out of the address bar
    control(page, "New password").fill(NEW_PASSWORD)
    control(page, "Confirm new password").fill(NEW_PASSWORD)
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        button(page, "Change password").click()

    assert answer.value.status == 303, f"the reset form was answered {answer.value.status}"
    page.wait_for_url("**/login")
    assert flashes(page) == ["Your password has been changed. Sign in with your new password."]
    submit_sign_in(page, account.email, account.password)
    expect(page.locator(".error-summary")).to_contain_text(LOGIN_FAILED)
    submit_sign_in(page, account.email, NEW_PASSWORD)
    page.wait_for_url("**/account")
    wait_for_mail(live_server.outbox, account.email, "Your password was changed")
    # The link worked once.
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "This link has expired or was already used"
    )


def _signed_in_twice(open_browser: OpenBrowser, new_email: NewEmail) -> tuple[Account, Page, Page]:
    """A new account, signed up in one browser ("here") and signed in in another ("there")."""
    account = Account(new_email())
    here, there = open_browser(), open_browser()
    sign_up(here, account)
    sign_in(there, account)
    return account, here, there


def _change_password(page: Page, account: Account) -> None:
    """Fill in the change-password form on ``page`` and land on the account page."""
    control(page, "Current password").fill(account.password)
    control(page, "New password").fill(NEW_PASSWORD)
    control(page, "Confirm new password").fill(NEW_PASSWORD)
    button(page, "Change password").click()
    page.wait_for_url("**/account")
    assert flashes(page) == ["Your password has been changed. Other devices have been signed out."]


def _expect_signed_in_here_only(here: Page, there: Page) -> None:
    _expect_signed_out(there)
    here.goto("/account")  # this browser stays signed in
    assert path_of(here) == "/account"


def test_changing_the_password_signs_the_other_browser_out(
    open_browser: OpenBrowser, new_email: NewEmail
) -> None:
    account, here, there = _signed_in_twice(open_browser, new_email)

    here.get_by_role("link", name="Change password").click()
    here.wait_for_url("**/account/password")
    _change_password(here, account)

    _expect_signed_in_here_only(here, there)


def test_ending_a_session_from_the_sessions_page(
    open_browser: OpenBrowser, new_email: NewEmail
) -> None:
    _account, here, there = _signed_in_twice(open_browser, new_email)

    here.get_by_role("link", name="Signed-in devices").click()
    here.wait_for_url("**/account/sessions")
    devices = here.locator(".sessions__item")
    expect(devices).to_have_count(2)
    expect(devices.first).to_contain_text("This browser")
    button(here, "Sign out this device").click()

    here.wait_for_url("**/account/sessions")
    assert flashes(here) == ["That device has been signed out."]
    expect(devices).to_have_count(1)
    expect(here.get_by_role("main")).to_contain_text("No other device is signed in.")
    _expect_signed_in_here_only(here, there)


def test_deleting_the_account_signs_out_everywhere_and_its_password_stops_working(
    open_browser: OpenBrowser, new_email: NewEmail
) -> None:
    account, here, there = _signed_in_twice(open_browser, new_email)

    here.get_by_role("link", name="Delete account").click()
    here.wait_for_url("**/account/delete")
    control(here, "Password").fill(account.password)
    button(here, "Delete my account").click()

    here.wait_for_url(lambda url: urlsplit(url).path == "/")
    assert flashes(here) == ["Your account has been deleted."]
    _expect_signed_out(here)
    _expect_signed_out(there)
    submit_sign_in(here, account.email, account.password)
    expect(here.locator(".error-summary")).to_contain_text(LOGIN_FAILED)


def test_repeated_failures_are_throttled_with_the_wait_shown(
    open_browser: OpenBrowser, account: Account
) -> None:
    page = open_browser()
    page.goto("/login")

    for attempt in range(1, 6):  # five failures are answered normally
        with page.expect_response(lambda r: r.request.method == "POST") as answer:
            submit_sign_in(page, account.email, f"wrong password number {attempt}")
        assert answer.value.status == 422, attempt
        expect(page.locator(".error-summary")).to_contain_text("Incorrect email address")

    # The sixth, even with the right password, waits.
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        submit_sign_in(page, account.email, account.password)

    assert answer.value.status == 429
    retry_after = int(answer.value.headers["retry-after"])
    assert 1 <= retry_after <= 30
    expect(page.get_by_role("heading", level=1)).to_have_text("Too many attempts")
    expect(page.get_by_role("main")).to_contain_text(
        re.compile(r"Please wait \d+ seconds, then try again\.")
    )


def _tab_to(page: Page, element_id: str, limit: int = 20) -> int:
    """Press Tab until the element has focus; the number of presses it took."""
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            return presses
    raise AssertionError(f"#{element_id} not reached with {limit} presses of Tab")


def test_sign_up_with_the_keyboard_only(
    open_browser: OpenBrowser, new_email: NewEmail, javascript: bool
) -> None:
    page = open_browser()
    account = Account(new_email(), name="Alan Turing")
    page.goto("/register")

    _tab_to(page, "email")
    page.keyboard.type(account.email)
    assert _tab_to(page, "name") == 1
    page.keyboard.type(account.name)
    assert _tab_to(page, "password") == 1
    page.keyboard.type(account.password)
    # With JavaScript, the password's Show button comes between the two fields.
    assert _tab_to(page, "confirm_password") == (2 if javascript else 1)
    page.keyboard.type(account.password)
    page.keyboard.press("Enter")

    page.wait_for_url("**/account")
    expect_account_of(page, account)
