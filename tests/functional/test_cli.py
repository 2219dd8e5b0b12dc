"""The operator CLI: flask --app wsgi users create | list | deactivate."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from tests.support import STRONG_PASSWORD, HttpsClient
from webapp.models import User


def test_create_list_and_deactivate(
    app: Flask, client: HttpsClient, stored_users: Callable[[], list[User]]
) -> None:
    runner = app.test_cli_runner()

    created = runner.invoke(
        args=["users", "create", "--email", "Op@Example.com", "--name", "Op"],
        input=f"{STRONG_PASSWORD}\n{STRONG_PASSWORD}\n",
    )

    assert created.exit_code == 0, created.output
    assert "<op@example.com>" in created.output
    [user] = stored_users()
    assert user.email == "op@example.com"
    assert client.login(email="op@example.com").status_code == 303

    listed = runner.invoke(args=["users", "list"])
    assert "op@example.com\tOp\tactive" in listed.output

    ended = runner.invoke(args=["users", "deactivate", "OP@example.com"])
    assert ended.exit_code == 0, ended.output
    assert client.get("/account").status_code == 302
    assert "deactivated" in runner.invoke(args=["users", "list"]).output
    assert stored_users()[0].is_active is False


def test_create_reports_policy_and_duplicate_errors(app: Flask) -> None:
    runner = app.test_cli_runner()
    args = ["users", "create", "--email", "op@example.com", "--name", "Op", "--password"]

    weak = runner.invoke(args=[*args, "short"])
    assert weak.exit_code == 1
    assert "15 characters" in weak.output

    assert runner.invoke(args=[*args, STRONG_PASSWORD]).exit_code == 0
    duplicate = runner.invoke(args=[*args, STRONG_PASSWORD])
    assert duplicate.exit_code == 1
    assert "already registered" in duplicate.output


def test_deactivate_an_unknown_address(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["users", "deactivate", "ghost@example.com"])

    assert result.exit_code == 1
    assert "ghost@example.com" in result.output
