"""Every mocked database test has a twin on a real database.

A test that replaces ``db.session`` with a mock (the ``session_mock`` fixture) assumes how
the database behaves: that a duplicate raises at commit, that ``scalar`` returns None for no
row, that an UPDATE matched a row. Each such test must be proven again on a real database:
by a test of the same name under tests/integration, or by the tests named in its
``@pytest.mark.twin(...)``, which must exist in a real-database layer.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
MOCKED_LAYERS = ("unit", "functional", "security")
REAL_LAYERS = ("integration", "functional", "security", "production")


def _test_functions(layers: tuple[str, ...]) -> list[tuple[Path, ast.FunctionDef]]:
    found = []
    for layer in layers:
        for path in sorted((TESTS / layer).rglob("test_*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                    found.append((path, node))
    return found


def _uses_the_session_mock(node: ast.FunctionDef) -> bool:
    return any(arg.arg == "session_mock" for arg in node.args.args)


def _twins_named(node: ast.FunctionDef) -> list[str]:
    for decorator in node.decorator_list:
        if (
            isinstance(decorator, ast.Call)
            and isinstance(decorator.func, ast.Attribute)
            and decorator.func.attr == "twin"
        ):
            return [arg.value for arg in decorator.args if isinstance(arg, ast.Constant)]
    return []


def _real_database_tests() -> set[str]:
    return {
        node.name for path, node in _test_functions(REAL_LAYERS) if not _uses_the_session_mock(node)
    }


def test_every_mocked_test_has_a_real_database_twin() -> None:
    real = _real_database_tests()
    orphans = []
    for path, node in _test_functions(MOCKED_LAYERS):
        if not _uses_the_session_mock(node):
            continue
        twins = _twins_named(node) or [node.name]
        missing = [name for name in twins if name not in real]
        if missing:
            orphans.append(f"{path.relative_to(TESTS)}::{node.name} -> {missing}")
    assert orphans == [], "mocked tests without a real-database twin:\n" + "\n".join(orphans)


def test_the_check_sees_the_mocked_tests() -> None:
    mocked = [n for _, n in _test_functions(MOCKED_LAYERS) if _uses_the_session_mock(n)]
    # If the fixture were renamed, the check above would silently pass over everything.
    assert len(mocked) >= 50
    assert any(_twins_named(n) for n in mocked)
