"""Operator commands: ``flask --app wsgi users create | list | deactivate``."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from webapp import audit
from webapp.services import users as user_service
from webapp.services.errors import PasswordRejected, ServiceError

users = AppGroup("users", help="Manage user accounts.")


@users.command("create")
@click.option("--email", prompt=True, help="The account's email address.")
@click.option("--name", prompt=True, help="The person's name.")
@click.password_option(help="The password (prompted for, hidden, when omitted).")
def create(email: str, name: str, password: str) -> None:
    """Create an account."""
    try:
        user = user_service.register_user(email, name, password)
    except (ServiceError, PasswordRejected) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Created user {user.id} <{user.email}>.")


@users.command("list")
def list_() -> None:
    """List every account."""
    for user in user_service.list_users():
        state = "active" if user.is_active else "deactivated"
        click.echo(f"{user.id}\t{user.email}\t{user.name}\t{state}\t{user.created_at:%Y-%m-%d}")


@users.command("deactivate")
@click.argument("email")
def deactivate(email: str) -> None:
    """Stop an account from signing in and end its sessions."""
    try:
        user = user_service.deactivate_user(email)
    except ServiceError as exc:
        raise click.ClickException(f"No account has the address {exc}.") from None
    audit.record("deactivate", "success", user_id=user.id, by="cli")
    click.echo(f"Deactivated user {user.id} <{user.email}>; their sessions are ended.")
