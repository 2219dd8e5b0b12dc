"""Routes of the "account" blueprint."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required

bp = Blueprint("account", __name__)


@bp.get("/account")
@login_required
def index() -> str:
    """The signed-in person's email address and name, and a sign-out button."""
    return render_template("account/index.html")
