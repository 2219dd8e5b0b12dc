"""Readable browser names for the sessions page, from real User-Agent strings."""

from __future__ import annotations

import pytest

from webapp.useragents import describe

FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
CHROME_ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Mobile Safari/537.36"
)
CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)
CHROME_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)
CHROME_CHROMEOS = (
    "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)
EDGE_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.68"
)
OPERA_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36 OPR/111.0.0.0"
)
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
SAFARI_IPAD = (
    "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
SAFARI_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Safari/605.1.15"
)
CHROME_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1"
)
FIREFOX_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) FxiOS/127.0 Mobile/15E148 Safari/605.1.15"
)
SAMSUNG_ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36"
)


@pytest.mark.parametrize(
    ("user_agent", "expected"),
    [
        (FIREFOX_LINUX, "Firefox on Linux"),
        (FIREFOX_WINDOWS, "Firefox on Windows"),
        (CHROME_ANDROID, "Chrome on Android"),
        (CHROME_WINDOWS, "Chrome on Windows"),
        (CHROME_MAC, "Chrome on macOS"),
        (CHROME_CHROMEOS, "Chrome on ChromeOS"),
        (EDGE_WINDOWS, "Edge on Windows"),
        (OPERA_WINDOWS, "Opera on Windows"),
        (SAFARI_IPHONE, "Safari on iPhone"),
        (SAFARI_IPAD, "Safari on iPad"),
        (SAFARI_MAC, "Safari on macOS"),
        (CHROME_IPHONE, "Chrome on iPhone"),
        (FIREFOX_IPHONE, "Firefox on iPhone"),
        (SAMSUNG_ANDROID, "Samsung Internet on Android"),
    ],
)
def test_describes_common_browsers(user_agent: str, expected: str) -> None:
    assert describe(user_agent) == expected


def test_edge_is_not_mistaken_for_chrome_nor_chrome_for_safari() -> None:
    """Edge's string also says Chrome and Safari; Chrome's also says Safari: order matters."""
    assert "Chrome/" in EDGE_WINDOWS
    assert "Safari/" in EDGE_WINDOWS
    assert "Safari/" in CHROME_WINDOWS

    assert describe(EDGE_WINDOWS).startswith("Edge ")
    assert describe(CHROME_WINDOWS).startswith("Chrome ")


def test_ios_and_android_are_not_mistaken_for_macos_and_linux() -> None:
    assert "Mac OS X" in SAFARI_IPHONE
    assert "Linux" in CHROME_ANDROID

    assert describe(SAFARI_IPHONE).endswith(" on iPhone")
    assert describe(CHROME_ANDROID).endswith(" on Android")


@pytest.mark.parametrize("user_agent", ["", "Werkzeug/3.1.9", "curl/8.5.0", "<script>"])
def test_unknown_agents_are_an_unknown_browser(user_agent: str) -> None:
    assert describe(user_agent) == "Unknown browser"


def test_known_system_with_an_unknown_browser_names_the_system() -> None:
    assert describe("SomeBot/1.0 (Windows NT 10.0)") == "Unknown browser on Windows"


def test_known_browser_on_an_unknown_system_names_the_browser() -> None:
    assert describe("Firefox/128.0") == "Firefox"
