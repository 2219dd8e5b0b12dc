"""tests/support.HttpsClient sends the Referer and Origin headers Chromium would, and no others."""

from __future__ import annotations

import pytest
from flask import Flask, redirect, request
from werkzeug.wrappers import Response

from tests.support import (
    DEFAULT_REFERRER_POLICY,
    HttpsClient,
    Page,
    new_client,
    origin_for,
    referer_for,
    referrer_policy_of,
)

SITE = "https://localhost"
PAGE = f"{SITE}/page?q=1"

# What a same-origin request from a page carries under each policy: the Referer (the page's
# full address, its origin, or none) and the Origin of a POST.
SAME_ORIGIN: dict[str | None, tuple[str | None, str]] = {
    None: ("address", SITE),  # no header: strict-origin-when-cross-origin
    "no-referrer": (None, "null"),
    "same-origin": ("address", SITE),
    "strict-origin-when-cross-origin": ("address", SITE),
    "origin-when-cross-origin": ("address", SITE),
    "no-referrer-when-downgrade": ("address", SITE),
    "unsafe-url": ("address", SITE),
    "origin": ("origin", SITE),
    "strict-origin": ("origin", SITE),
}


def _browser() -> HttpsClient:
    """A browser on a small app whose /seen answers with the headers it received."""
    app = Flask(__name__)
    app.test_client_class = HttpsClient

    def _with_policy(response: Response) -> Response:
        if (policy := request.args.get("policy")) is not None:
            response.headers["Referrer-Policy"] = policy
        return response

    @app.get("/page")
    def page() -> Response:
        return _with_policy(Response("<p>A page</p>", mimetype="text/html"))

    @app.get("/text")
    def text() -> Response:
        return Response("not a page", mimetype="text/plain")

    @app.route("/seen", methods=["GET", "POST", "PUT"])
    def seen() -> dict[str, str | None]:
        return {name: request.headers.get(name) for name in ("Referer", "Origin")}

    @app.route("/moved/<int:code>", methods=["GET", "POST"])
    def moved(code: int) -> Response:
        return _with_policy(redirect("/seen", code))

    return new_client(app)


def _page_with(policy: str | None) -> str:
    return "/page?q=1" if policy is None else f"/page?q=1&policy={policy}"


def _expected_referer(policy: str | None) -> str | None:
    kind, _ = SAME_ORIGIN[policy]
    return {"address": f"{SITE}{_page_with(policy)}", "origin": f"{SITE}/", None: None}[kind]


def _seen(response: Response) -> tuple[str | None, str | None]:
    data = response.get_json()
    return data["Referer"], data["Origin"]


def test_a_browser_that_loaded_no_page_sends_neither_header() -> None:
    browser = _browser()

    assert _seen(browser.get("/seen")) == (None, None)
    assert _seen(browser.post("/seen")) == (None, None)
    assert browser.page is None


@pytest.mark.parametrize("policy", list(SAME_ORIGIN))
def test_a_post_from_a_page_carries_what_its_policy_allows(policy: str | None) -> None:
    browser = _browser()
    browser.get(_page_with(policy))
    expected = (_expected_referer(policy), SAME_ORIGIN[policy][1])

    assert _seen(browser.post("/seen")) == expected
    assert _seen(browser.put("/seen")) == expected


@pytest.mark.parametrize("policy", list(SAME_ORIGIN))
def test_a_get_from_a_page_carries_the_referer_only(policy: str | None) -> None:
    browser = _browser()
    browser.get(_page_with(policy))

    assert _seen(browser.get("/seen")) == (_expected_referer(policy), None)


def test_a_header_the_test_passes_wins() -> None:
    browser = _browser()
    browser.get(_page_with("no-referrer"))
    mine = {"Referer": "https://elsewhere.example/x", "Origin": "https://elsewhere.example"}

    assert _seen(browser.post("/seen", headers=mine)) == tuple(mine.values())
    assert _seen(browser.post("/seen", headers={"Origin": "garbage"})) == (None, "garbage")


def test_only_a_page_that_was_shown_becomes_the_current_page() -> None:
    browser = _browser()
    browser.get(_page_with("no-referrer"))

    browser.get("/text")  # not HTML: a download, not a page
    browser.post("/moved/303")  # a redirect not followed shows nothing
    assert _seen(browser.post("/seen")) == (None, "null")

    browser.get("/missing")  # Flask's HTML 404 page is shown like any other
    assert browser.page == Page(f"{SITE}/missing", DEFAULT_REFERRER_POLICY)
    assert _seen(browser.post("/seen")) == (f"{SITE}/missing", SITE)


def test_a_redirect_turned_into_a_get_keeps_the_referer_and_drops_the_origin() -> None:
    browser = _browser()
    browser.get(_page_with("same-origin"))
    page = f"{PAGE}&policy=same-origin"

    assert _seen(browser.post("/moved/303", follow_redirects=True)) == (page, None)
    assert _seen(browser.post("/moved/307", follow_redirects=True)) == (page, SITE)
    assert browser.page == Page(page, "same-origin")  # the JSON at the end is not a page


def test_a_redirect_with_a_policy_of_its_own_applies_it() -> None:
    browser = _browser()
    browser.get(_page_with("unsafe-url"))

    moved = browser.post("/moved/303?policy=no-referrer", follow_redirects=True)
    kept = browser.post("/moved/303?policy=origin", follow_redirects=True)

    assert _seen(moved) == (None, None)
    assert _seen(kept) == (f"{SITE}/", None)


def test_a_request_to_another_host_is_cross_origin() -> None:
    browser = _browser()
    browser.get(_page_with("same-origin"))

    response = browser.post("/seen", headers={"Host": "other.example"})

    assert _seen(response) == (None, "null")


@pytest.mark.parametrize(
    ("header", "policy"),
    [
        (None, DEFAULT_REFERRER_POLICY),
        ("", DEFAULT_REFERRER_POLICY),
        ("bogus", DEFAULT_REFERRER_POLICY),
        ("No-Referrer", "no-referrer"),
        ("unsafe-url, no-referrer", "no-referrer"),
        ("no-referrer, bogus", "no-referrer"),
    ],
)
def test_the_policy_is_the_last_token_a_browser_knows(header: str | None, policy: str) -> None:
    assert referrer_policy_of(header) == policy


CROSS_ORIGIN = "https://other.example/form"
DOWNGRADE = "http://other.example/form"


@pytest.mark.parametrize(
    ("policy", "target", "referer", "origin"),
    [
        ("same-origin", CROSS_ORIGIN, None, "null"),
        ("strict-origin-when-cross-origin", CROSS_ORIGIN, f"{SITE}/", SITE),
        ("strict-origin-when-cross-origin", DOWNGRADE, None, "null"),
        ("origin-when-cross-origin", CROSS_ORIGIN, f"{SITE}/", SITE),
        ("no-referrer-when-downgrade", CROSS_ORIGIN, PAGE, SITE),
        ("no-referrer-when-downgrade", DOWNGRADE, None, "null"),
        ("strict-origin", DOWNGRADE, None, "null"),
        ("origin", DOWNGRADE, f"{SITE}/", SITE),
        ("unsafe-url", DOWNGRADE, PAGE, SITE),
        ("no-referrer", CROSS_ORIGIN, None, "null"),
        ("same-origin", "https://localhost:443/other", PAGE, SITE),  # the default port
        ("same-origin", "https://localhost:8443/other", None, "null"),
    ],
)
def test_other_origins_get_what_the_policy_allows(
    policy: str, target: str, referer: str | None, origin: str
) -> None:
    page = Page(PAGE, policy)

    assert (referer_for(page, target), origin_for(page, target)) == (referer, origin)


def test_the_referer_never_carries_credentials_or_a_fragment() -> None:
    page = Page("https://ann:secret@localhost/page?q=1#part", "unsafe-url")

    assert referer_for(page, f"{SITE}/") == PAGE
    assert origin_for(page, f"{SITE}/") == SITE


def test_a_very_long_address_is_cut_to_its_origin() -> None:
    page = Page(f"{SITE}/page?q={'x' * 5000}", "unsafe-url")

    assert referer_for(page, f"{SITE}/") == f"{SITE}/"
