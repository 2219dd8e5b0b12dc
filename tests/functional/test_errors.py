"""Every error status has its own page, and none shows a traceback."""

from __future__ import annotations

from collections.abc import Callable
from unittest.mock import NonCallableMagicMock

import pytest
from flask import Flask, abort
from pytest_mock import MockerFixture
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, scoped_session

from tests.support import HttpsClient, csrf_token_in
from webapp.errors import CSRF_ADVICE, PAGES
from webapp.extensions import db
from webapp.models import User

LEAKS = ("Traceback", "werkzeug", "sqlalchemy", "SELECT", 'File "')


def _assert_error_page(text: str, code: int) -> None:
    assert PAGES[code][0] in text
    assert f"Error {code}" in text
    for leak in LEAKS:
        assert leak not in text


@pytest.mark.parametrize("path", ["/", "/login", "/register", "/static/css/app.css"])
def test_every_page_renders(client: HttpsClient, path: str) -> None:
    response = client.get(path)
    response.close()

    assert response.status_code == 200


def test_healthz_says_ok_when_the_database_answers(client: HttpsClient) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_404_page(client: HttpsClient) -> None:
    response = client.get("/no-such-page")

    assert response.status_code == 404
    _assert_error_page(response.text, 404)


def test_405_page(client: HttpsClient) -> None:
    response = client.delete("/login")

    assert response.status_code == 405
    _assert_error_page(response.text, 405)


def test_a_client_error_without_a_page_of_its_own_keeps_its_status(client: HttpsClient) -> None:
    response = client.get("/static/css/app.css", headers={"Range": "bytes=99999999-"})
    response.close()

    assert response.status_code == 416
    assert PAGES[400][0] in response.text
    assert "Error 416" in response.text


def test_csrf_failure_says_how_to_recover(client: HttpsClient) -> None:
    client.get("/login")  # posted from the page, so only the missing token is wrong
    response = client.post("/login", data={"email": "a@example.com", "password": "x"})

    assert response.status_code == 400
    assert CSRF_ADVICE in response.text
    _assert_error_page(response.text, 400)


def test_c35_a_token_from_another_browser_is_refused(
    client: HttpsClient, app_client_factory: Callable[[], HttpsClient]
) -> None:
    other = app_client_factory()
    other.get("/login")
    foreign = other.get("/login").text
    client.get("/login")  # posted from the page, so only the token is wrong

    response = client.post("/login", data={"csrf_token": csrf_token_in(foreign)})

    assert response.status_code == 400


def test_c43_413_page_for_a_10_mb_body(client: HttpsClient) -> None:
    response = client.post("/register", data={"email": "a@example.com", "name": "x" * 10_000_000})

    assert response.status_code == 413
    _assert_error_page(response.text, 413)


def test_429_page_with_retry_after(client: HttpsClient, app: Flask) -> None:
    app.config["LOGIN_RATE_LIMIT"] = "2 per minute"
    for _ in range(2):
        client.login(email="nobody@example.com")

    response = client.login(email="nobody@example.com")

    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    _assert_error_page(response.text, 429)


def test_c40_500_page_hides_the_exception(app: Flask) -> None:
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("SELECT secret FROM internals")

    response = app.test_client().get("/boom")

    assert response.status_code == 500
    _assert_error_page(response.text, 500)
    assert "secret" not in response.text


@pytest.mark.twin("test_after_a_failed_commit_nothing_is_half_saved_and_a_retry_works")
def test_503_when_the_database_fails_at_commit(
    client: HttpsClient, app: Flask, session_mock: NonCallableMagicMock
) -> None:
    session_mock.commit.side_effect = OperationalError("COMMIT", {}, Exception("gone"))
    app.config["PROPAGATE_EXCEPTIONS"] = False

    response = client.register()

    assert response.status_code == 503
    _assert_error_page(response.text, 503)
    session_mock.add.assert_called_once()
    session_mock.rollback.assert_called_once_with()


def test_after_a_failed_commit_nothing_is_half_saved_and_a_retry_works(
    client: HttpsClient,
    app: Flask,
    mocker: MockerFixture,
    stored_users: Callable[[], list[User]],
) -> None:
    """The real-database twin: the failed sign-up left nothing behind; repeating it works."""
    real_commit = Session.commit
    failures = iter([OperationalError("COMMIT", {}, Exception("connection lost"))])

    def commit_once_failing(session: Session) -> None:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        real_commit(session)

    mocker.patch.object(Session, "commit", autospec=True, side_effect=commit_once_failing)
    app.config["PROPAGATE_EXCEPTIONS"] = False

    assert client.register().status_code == 503
    assert stored_users() == []

    assert client.register().status_code == 303
    assert [user.email for user in stored_users()] == ["ann@example.com"]


def test_503_page_renders_for_a_signed_in_visitor_when_the_database_is_down(
    client: HttpsClient, app: Flask, mocker: MockerFixture
) -> None:
    client.register()
    down = mocker.create_autospec(scoped_session, instance=True)
    down.scalar.side_effect = OperationalError("SELECT", {}, Exception("gone"))
    mocker.patch.object(db, "session", new=down)

    response = client.get("/account")

    assert response.status_code == 503
    _assert_error_page(response.text, 503)


@pytest.mark.twin("test_database_refusing_connections_answers_503_promptly")
def test_healthz_is_503_when_the_database_does_not_answer(
    client: HttpsClient, session_mock: NonCallableMagicMock
) -> None:
    session_mock.execute.side_effect = OperationalError("SELECT 1", {}, Exception("gone"))

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json == {"status": "database unavailable"}


def test_403_page(app: Flask) -> None:
    @app.get("/forbidden")
    def forbidden() -> str:
        abort(403)

    response = app.test_client().get("/forbidden")

    assert response.status_code == 403
    _assert_error_page(response.text, 403)
