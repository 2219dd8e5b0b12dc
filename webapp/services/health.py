"""Liveness of the services the app depends on."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from webapp.extensions import db


def database_is_up() -> bool:
    """Whether the database answers a trivial query."""
    try:
        db.session.execute(select(1))
    except SQLAlchemyError:
        db.session.rollback()
        return False
    return True
