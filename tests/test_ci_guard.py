"""tests/ci_guard.py: with CI=true a skipped test fails the run; without CI it does not."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

SUITE = """
import pytest

def test_runs():
    assert True

def test_needs_a_service():
    pytest.skip("no PostgreSQL here")

@pytest.mark.xfail(reason="known bug", strict=True)
def test_known_bug():
    assert False
"""

ALL_GREEN = """
def test_runs():
    assert True
"""


@pytest.fixture(autouse=True)
def _without_installed_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    """The inner runs need no installed plugin (hypothesis, pytest-cov...): 0.8 s each saved."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")


def run(pytester: pytest.Pytester, source: str) -> pytest.RunResult:
    """Run ``source`` as a test module in a fresh in-process pytest with the guard added."""
    pytester.makepyfile(test_suite=source)
    return pytester.runpytest("-p", "tests.ci_guard")


def test_a_skip_fails_the_run_in_ci(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")

    result = run(pytester, SUITE)

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=1, skipped=1, xfailed=1)
    result.stdout.fnmatch_lines(
        [
            "*CI=true: 1 skipped, which fails the run*",
            "SKIPPED test_suite.py::test_needs_a_service: Skipped: no PostgreSQL here",
        ]
    )


def test_a_skipped_module_fails_the_run_in_ci(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")

    result = run(pytester, "import pytest\npytest.skip('no browser', allow_module_level=True)\n")

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["SKIPPED test_suite.py: Skipped: no browser"])


def test_a_skip_is_allowed_outside_ci(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)

    result = run(pytester, SUITE)

    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=1, skipped=1, xfailed=1)
    result.stdout.no_fnmatch_line("*which fails the run*")


@pytest.mark.parametrize("value", ["false", "1", ""])
def test_only_ci_true_turns_it_on(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("CI", value)

    assert run(pytester, SUITE).ret == pytest.ExitCode.OK


def test_a_green_run_stays_green_in_ci(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")

    result = run(pytester, ALL_GREEN)

    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=1)
