"""Accessibility: an axe-core audit of every page, and errors that are announced and linked.

axe-core (through axe-playwright-python) audits the rendered page with its default rule set
(WCAG 2.x A and AA, and best practices); a violation of "serious" or "critical" impact fails
the test, and the failure lists every violation found, whatever its impact.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from tests.e2e.tour import STOPS, Stop

OpenStop = Callable[..., Page]
BLOCKING = frozenset({"serious", "critical"})
FORM_STOPS = [stop for stop in STOPS if stop.form]

axe = Axe()


def describe(violations: list[dict[str, Any]]) -> str:
    """One paragraph per violation: rule, impact, what it means, and each element it hit."""
    lines = []
    for violation in violations:
        lines.append(
            f"- {violation['id']} ({violation['impact']}): {violation['help']}"
            f" <{violation['helpUrl']}>"
        )
        for node in violation["nodes"]:
            target = " ".join(str(part) for part in node["target"])
            summary = (node.get("failureSummary") or "").replace("\n", " ")
            lines.append(f"    {target}: {node['html'][:160]}")
            if summary:
                lines.append(f"      {summary}")
    return "\n".join(lines)


def audit(page: Page) -> list[dict[str, Any]]:
    """The axe-core violations on the page as it is now."""
    return list(axe.run(page).response["violations"])


@pytest.mark.parametrize("stop", STOPS, ids=str)
def test_no_serious_or_critical_axe_violations(open_stop: OpenStop, stop: Stop) -> None:
    page = open_stop(stop)

    violations = audit(page)

    blocking = [v for v in violations if v["impact"] in BLOCKING]
    assert not blocking, f"{stop} ({page.url}):\n{describe(violations)}"


@pytest.mark.parametrize("stop", FORM_STOPS, ids=str)
def test_no_serious_or_critical_axe_violations_without_javascript(
    open_stop: OpenStop, stop: Stop
) -> None:
    # The site's script is blocked instead of switching JavaScript off: axe-core itself
    # needs it. The pages differ only in the forms the script enhances.
    page = open_stop(stop, site_scripts=False)
    expect(page.locator(".password-input__toggle")).to_have_count(0)

    violations = audit(page)

    blocking = [v for v in violations if v["impact"] in BLOCKING]
    assert not blocking, f"{stop} ({page.url}):\n{describe(violations)}"


def _linked_fields(page: Page) -> list[str]:
    hrefs = page.locator(".error-summary a").evaluate_all(
        "links => links.map(link => link.getAttribute('href'))"
    )
    assert all(href.startswith("#") for href in hrefs), hrefs
    return [href[1:] for href in hrefs]


def _active(page: Page) -> dict[str, str]:
    return page.evaluate(
        "({tag: document.activeElement.tagName, id: document.activeElement.id,"
        " cls: document.activeElement.className})"
    )


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
@pytest.mark.parametrize("stop", FORM_STOPS, ids=str)
def test_errors_are_summarised_announced_and_linked_to_their_fields(
    open_stop: OpenStop, stop: Stop, javascript: bool
) -> None:
    page = open_stop(stop, javascript=javascript)

    summary = page.locator(".error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_have_attribute("role", "alert")  # announced with or without script
    expect(summary.locator("li").first).not_to_be_empty()
    active = _active(page)
    if javascript:
        assert "error-summary" in active["cls"], f"focus is on {active}"
    else:
        assert active["tag"] == "BODY", f"focus is on {active}"

    linked = _linked_fields(page)
    invalid = page.locator("[aria-invalid='true']").evaluate_all("els => els.map(e => e.id)")
    assert set(linked) == set(invalid)
    for field_id in set(linked):
        control = page.locator(f"#{field_id}")
        expect(control).to_have_count(1)
        assert control.evaluate("el => el.tagName") in {"INPUT", "SELECT", "TEXTAREA"}
        # The message beside the field is part of its description.
        described = (control.get_attribute("aria-describedby") or "").split()
        assert f"{field_id}-error" in described, field_id
        expect(page.locator(f"#{field_id}-error")).not_to_be_empty()


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_an_error_summary_link_takes_you_to_its_field(
    open_stop: OpenStop, javascript: bool
) -> None:
    stop = next(s for s in FORM_STOPS if s.name == "register-errors")
    page = open_stop(stop, javascript=javascript)

    page.locator(".error-summary").get_by_role("link", name="Choose a password.").click()

    expect(page.locator("#password")).to_be_focused()
    expect(page.locator("#password")).to_be_in_viewport()


def test_the_audit_does_find_a_violation(open_stop: OpenStop) -> None:
    # A guard against an audit that silently checks nothing: an unlabelled field is caught.
    page = open_stop(next(s for s in STOPS if s.name == "home"))
    page.evaluate("document.querySelector('main').append(document.createElement('input'))")

    violations = audit(page)

    assert "label" in {v["id"] for v in violations if v["impact"] in BLOCKING}, describe(violations)
