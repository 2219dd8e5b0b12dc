"""The unit layer's app has no tables (tests/unit/conftest.py): a unit cannot lean on SQLite."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from webapp.extensions import db
from webapp.models import User


@pytest.mark.usefixtures("app_context")
def test_a_unit_test_that_reaches_the_database_fails() -> None:
    with pytest.raises(OperationalError, match="no such table"):
        db.session.scalar(select(User))
