"""Layout: every page fits a phone without sideways scrolling, reads well on a laptop, and
shows where the keyboard focus is."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page

from tests.e2e.support import DESKTOP, MOBILE
from tests.e2e.tour import BY_NAME, STOPS, Stop

OpenStop = Callable[..., Page]
# Long lines are hard to read: the text column stays well under this on a wide screen.
MAX_COLUMN_PX = 800
MIN_FONT_PX = 16

FOCUS_STYLE = """() => {
    const el = document.activeElement;
    const style = getComputedStyle(el);
    return {
        element: el.outerHTML.slice(0, 120),
        outlineStyle: style.outlineStyle,
        outlineWidth: parseFloat(style.outlineWidth) || 0,
        boxShadow: style.boxShadow,
    };
}"""


@pytest.mark.parametrize("stop", STOPS, ids=str)
def test_fits_a_phone_and_reads_well_on_a_laptop(open_stop: OpenStop, stop: Stop) -> None:
    page = open_stop(stop, viewport=MOBILE)

    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= MOBILE["width"], f"{stop} scrolls sideways at 390 px: {scroll_width}"

    page.set_viewport_size(DESKTOP)
    column = page.locator("main .narrow").bounding_box()
    assert column is not None
    assert 300 <= column["width"] <= MAX_COLUMN_PX, f"{stop}: text column {column['width']} px"
    assert page.evaluate("document.documentElement.scrollWidth") <= DESKTOP["width"]
    font_size = page.evaluate(
        "parseFloat(getComputedStyle(document.querySelector('main')).fontSize)"
    )
    assert font_size >= MIN_FONT_PX


def _visible_focus(style: dict[str, Any]) -> bool:
    outlined = style["outlineStyle"] != "none" and style["outlineWidth"] > 0
    return outlined or style["boxShadow"] not in ("", "none")


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
@pytest.mark.parametrize("name", ["login", "register-errors", "account", "sessions"])
def test_keyboard_focus_is_always_visible(open_stop: OpenStop, name: str, javascript: bool) -> None:
    page = open_stop(BY_NAME[name], javascript=javascript)
    page.evaluate("document.activeElement && document.activeElement.blur()")

    seen = []
    for _ in range(40):
        page.keyboard.press("Tab")
        style = page.evaluate(FOCUS_STYLE)
        if style["element"].startswith("<body"):
            break
        if style["element"] in seen:  # wrapped around
            break
        seen.append(style["element"])
        assert _visible_focus(style), f"no visible focus on {style['element']}: {style}"
    kinds = " ".join(seen)
    assert "<a " in kinds, seen
    assert "<button " in kinds, seen
    if name in ("login", "register-errors"):
        assert "<input " in kinds, seen
