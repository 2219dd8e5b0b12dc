"""Unit fixtures: the app without tables, so a unit test that reaches the database fails."""

from __future__ import annotations

import pytest
from flask import Flask

from tests.support import make_app


@pytest.fixture
def app() -> Flask:
    """A testing app whose in-memory database has no tables: units talk to a mock instead."""
    return make_app(tables=False)
