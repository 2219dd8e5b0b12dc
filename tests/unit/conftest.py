"""Unit fixtures: the app without tables, so a unit test that reaches the database fails."""

from __future__ import annotations

import pytest
from flask import Flask

from tests.support import HttpsClient
from webapp import create_app


@pytest.fixture
def app() -> Flask:
    """A testing app whose in-memory database has no tables: units talk to a mock instead."""
    app = create_app({"APP_ENV": "testing"})
    app.test_client_class = HttpsClient
    return app
