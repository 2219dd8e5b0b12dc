"""A PNG of each page at 1280x800 (``<name>.png``) and 390x844 (``<name>-mobile.png``).

``make screenshots`` runs this with ``SCREENSHOT_DIR=docs/screenshots`` to refresh the
README's pictures; in the normal suite they go to a temporary folder, so this is also a
check that every page renders at both sizes.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests.e2e.support import DESKTOP, MOBILE
from tests.e2e.tour import BY_NAME

OpenStop = Callable[..., Page]
# The names the README links to.
PAGES = [
    "home",
    "register",
    "register-errors",
    "login",
    "login-failed",
    "account",
    "change-password",
    "sessions",
    "delete",
    "forgot-password",
    "forgot-password-sent",
    "reset-password",
    "link-expired",
    "not-found",
]
SIZES = {"": DESKTOP, "-mobile": MOBILE}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``$SCREENSHOT_DIR`` when set (``make screenshots``), else a temporary folder."""
    configured = os.environ.get("SCREENSHOT_DIR")
    folder = Path(configured) if configured else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


@pytest.mark.parametrize("name", PAGES)
def test_screenshot(open_stop: OpenStop, screenshot_dir: Path, name: str) -> None:
    for suffix, viewport in SIZES.items():
        page = open_stop(BY_NAME[name], viewport=viewport)
        path = screenshot_dir / f"{name}{suffix}.png"

        page.screenshot(path=path, full_page=True, animations="disabled", caret="hide")

        width, height = _png_size(path)
        assert width == viewport["width"], path
        assert height >= viewport["height"], path
        page.context.close()
