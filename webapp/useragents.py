"""A readable name for a browser from its User-Agent header ("Firefox on Linux").

Simple substring checks, enough to tell your own devices apart on the sessions page. Not a
security control: the header is whatever the client chose to send.
"""

from __future__ import annotations

UNKNOWN = "Unknown browser"

# First match wins, so the order matters: Edge and Opera also say "Chrome", Chrome says
# "Safari", and the iOS browsers (all WebKit underneath) carry their own markers.
BROWSERS: tuple[tuple[str, str], ...] = (
    ("Edg/", "Edge"),
    ("EdgA/", "Edge"),
    ("EdgiOS/", "Edge"),
    ("Edge/", "Edge"),
    ("OPR/", "Opera"),
    ("Opera", "Opera"),
    ("SamsungBrowser/", "Samsung Internet"),
    ("Firefox/", "Firefox"),
    ("FxiOS/", "Firefox"),
    ("CriOS/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
)

# iPhone and iPad say "like Mac OS X", Android says "Linux": those come first.
SYSTEMS: tuple[tuple[str, str], ...] = (
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Android", "Android"),
    ("CrOS", "ChromeOS"),
    ("Windows", "Windows"),
    ("Macintosh", "macOS"),
    ("Mac OS X", "macOS"),
    ("Linux", "Linux"),
)


def _first(user_agent: str, table: tuple[tuple[str, str], ...]) -> str | None:
    return next((name for marker, name in table if marker in user_agent), None)


def describe(user_agent: str) -> str:
    """E.g. "Chrome on Android", "Safari on iPhone", "Firefox", or "Unknown browser"."""
    browser = _first(user_agent or "", BROWSERS)
    system = _first(user_agent or "", SYSTEMS)
    if browser and system:
        return f"{browser} on {system}"
    if browser:
        return browser
    if system:
        return f"{UNKNOWN} on {system}"
    return UNKNOWN
