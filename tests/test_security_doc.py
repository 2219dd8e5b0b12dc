"""SECURITY.md and the test names agree: every item's tests are listed, every listed test exists."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROW = re.compile(r"^\| (\d+) \|(.*)$", re.MULTILINE)
TEST_NAME = re.compile(r"\btest_c\d\d\w*")
DEFINED = re.compile(r"^\s*def (test_((?:c\d\d_)+)\w*)\(", re.MULTILINE)


def _documented() -> dict[int, set[str]]:
    text = (ROOT / "SECURITY.md").read_text()
    return {int(n): set(TEST_NAME.findall(rest)) for n, rest in ROW.findall(text)}


def _defined() -> dict[int, set[str]]:
    found: dict[int, set[str]] = defaultdict(set)
    for path in (ROOT / "tests").rglob("test_*.py"):
        for name, items in DEFINED.findall(path.read_text()):
            for item in re.findall(r"c(\d\d)", items):
                found[int(item)].add(name)
    return found


def test_every_checklist_item_has_a_row() -> None:
    assert sorted(_documented()) == list(range(1, 51))


def test_every_item_test_is_listed_under_its_item() -> None:
    documented = _documented()
    for item, names in _defined().items():
        assert names <= documented[item], f"item {item}: {sorted(names - documented[item])}"


def test_every_listed_test_exists() -> None:
    defined = _defined()
    for item, names in _documented().items():
        assert names <= defined[item], f"item {item}: {sorted(names - defined[item])}"


def test_every_item_has_at_least_one_test() -> None:
    documented = _documented()
    assert [n for n in range(1, 51) if not documented[n]] == []
