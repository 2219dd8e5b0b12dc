"""The ``next`` check: only paths on this site survive."""

from __future__ import annotations

import pytest

from webapp.redirects import safe_next

HOSTILE = [
    "https://evil.example",
    "http://localhost/account",
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "https:evil.example",
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "/%2F%2Fevil.example",
    "/%5Cevil.example",
    "%2F%2Fevil.example",
    " //evil.example",
    "%20//evil.example",
    "/\t/evil.example",
    "/\r\n/evil.example",
    "/\x00/evil.example",
    "/account\x1f",
    "/account\x7f",
    "/account%7F",
    "https://localhost.evil.example/",
    "evil.example",
    "account",
    "",
    None,
]


@pytest.mark.parametrize("target", HOSTILE)
def test_c37_hostile_targets_are_refused(target: str | None) -> None:
    assert safe_next(target) is None


@pytest.mark.parametrize(
    "target",
    [
        "/account",
        "/account?tab=1",
        "/",
        "/a/b#c",
        "/caf%C3%A9",
        "/search?q=two%20words",  # a space is not a control character
    ],
)
def test_c37_local_paths_are_kept(target: str) -> None:
    assert safe_next(target) == target
