"""Routes of the "main" blueprint."""

from __future__ import annotations

from flask import Blueprint, render_template

from webapp.services.health import database_is_up

bp = Blueprint("main", __name__)


@bp.get("/")
def index() -> str:
    """Links to sign up and sign in, or to the account when signed in."""
    return render_template("main/index.html")


@bp.get("/healthz")
def healthz() -> tuple[dict[str, str], int]:
    """200 when the database answers, 503 otherwise; for load balancers."""
    if database_is_up():
        return {"status": "ok"}, 200
    return {"status": "database unavailable"}, 503
