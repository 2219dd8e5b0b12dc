"""Pytest plugin: in CI (``CI=true``) a skipped test fails the run.

A PostgreSQL or browser test that skips itself because its service is missing would otherwise
leave CI green while proving nothing. Loaded from tests/conftest.py with
``pytest_plugins = ["tests.ci_guard"]``; outside CI it does nothing.
"""

from __future__ import annotations

import os

import pytest


def ci_is_on() -> bool:
    """Whether this run is CI's (the CI runner and .ci/run export CI=true)."""
    return os.environ.get("CI") == "true"


def _skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple):  # (path, line, "Skipped: reason")
        return str(longrepr[2])
    return str(longrepr)


class SkipGuard:
    """Collects skipped tests and modules, lists them and fails the session."""

    def __init__(self) -> None:
        self.skipped: list[tuple[str, str]] = []

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        """A module skipped at import (``pytest.importorskip``, module-level skip)."""
        if report.skipped:
            self.skipped.append((report.nodeid, _skip_reason(report)))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """A test skipped in setup or call; an expected failure (xfail) is not a skip."""
        if report.skipped and not hasattr(report, "wasxfail"):
            self.skipped.append((report.nodeid, _skip_reason(report)))

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """Turn a green (or empty) run with skips into a failed one."""
        ok = (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED)
        if self.skipped and exitstatus in ok:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        """Name every skipped test, so the failure says what to fix."""
        if not self.skipped:
            return
        terminalreporter.write_sep(
            "=", f"CI=true: {len(self.skipped)} skipped, which fails the run", red=True
        )
        for nodeid, reason in self.skipped:
            terminalreporter.write_line(f"SKIPPED {nodeid or '<session>'}: {reason}")


def pytest_configure(config: pytest.Config) -> None:
    """Install the guard only in CI."""
    if ci_is_on():
        config.pluginmanager.register(SkipGuard(), "ci-skip-guard")
