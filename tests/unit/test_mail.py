"""webapp/mail.py: links from PUBLIC_URL, messages from templates, SMTP or the log."""

from __future__ import annotations

import logging
import smtplib
from unittest.mock import MagicMock

import pytest
from bs4 import BeautifulSoup
from flask import Flask
from pytest_mock import MockerFixture

from tests.smtp import text_of
from webapp import mail
from webapp.mail import Mailer, build_message, public_url
from webapp.models import User

LINK = "https://localhost/password/reset/abc_DEF-123"


@pytest.fixture
def smtp(mocker: MockerFixture) -> MagicMock:
    """smtplib.SMTP replaced by an autospec: a misspelled call fails, nothing connects."""
    cls = mocker.create_autospec(smtplib.SMTP)
    instance = cls.return_value
    instance.__enter__.return_value = instance  # as smtplib's own: `with SMTP() as s`
    instance.noop.return_value = (250, b"OK")
    mocker.patch.object(mail.smtplib, "SMTP", new=cls)
    return cls


@pytest.fixture
def with_server(app: Flask) -> Flask:
    app.config.update(MAIL_SERVER="smtp.example", MAIL_PORT=2525, MAIL_USE_TLS=False)
    return app


def _user(name: str = "Ann") -> User:
    return User(id=1, email="ann@example.com", name=name, password_hash="x")


def _message() -> object:
    return build_message(
        "ann@example.com",
        "Reset your password",
        "reset_password",
        user=_user(),
        link=LINK,
        minutes=60,
    )


# --- public_url ---------------------------------------------------------------------------------


def test_public_url_ignores_the_request_host(app: Flask) -> None:
    with app.test_request_context("/", base_url="https://evil.example"):
        assert public_url("auth.forgot_password") == "https://localhost/password/forgot"
        assert (
            public_url("auth.reset_password", token="tok_EN-1")
            == "https://localhost/password/reset/tok_EN-1"
        )


def test_public_url_joins_a_base_with_a_trailing_slash(app: Flask) -> None:
    app.config["PUBLIC_URL"] = "https://signup.example/"

    with app.app_context():
        assert public_url("auth.login") == "https://signup.example/login"


# --- build_message ------------------------------------------------------------------------------


def test_build_message_has_headers_a_text_and_an_html_part(app_context: None) -> None:
    message = _message()

    assert message["From"] == "no-reply@localhost"
    assert message["To"] == "ann@example.com"
    assert message["Subject"] == "Reset your password"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert LINK in text
    assert "60 minutes" in text
    soup = BeautifulSoup(html, "html.parser")
    assert [a["href"] for a in soup.find_all("a")] == [LINK]
    assert LINK in soup.get_text()
    assert "Signup Demo" in text
    assert "Signup Demo" in soup.get_text()


@pytest.mark.parametrize(
    ("template", "values"),
    [
        ("reset_password", {"link": LINK, "minutes": 60}),
        ("verify_email", {"link": LINK, "hours": 24}),
        ("already_registered", {"login_link": LINK, "reset_link": LINK}),
        ("password_changed", {"reset_link": LINK}),
    ],
)
def test_every_message_escapes_html_and_keeps_text_plain(
    app_context: None, template: str, values: dict[str, object]
) -> None:
    name = '<b onclick="x()">Ann & "Bo"</b>'

    message = build_message("ann@example.com", "Subject", template, user=_user(name), **values)

    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert name in text  # plain text is not escaped: the link and name arrive as they are
    assert "&lt;b onclick=&#34;x()&#34;&gt;Ann &amp; &#34;Bo&#34;&lt;/b&gt;" in html
    assert "<b " not in html
    assert LINK in text
    assert f'href="{LINK}"' in html


def test_an_ampersand_in_a_link_is_escaped_in_html_only(app_context: None) -> None:
    link = "https://localhost/x?a=1&b=2"

    message = build_message(
        "ann@example.com", "S", "reset_password", user=_user(), link=link, minutes=60
    )

    assert link in message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert 'href="https://localhost/x?a=1&amp;b=2"' in html
    assert BeautifulSoup(html, "html.parser").find("a")["href"] == link


# --- Mailer.send --------------------------------------------------------------------------------


def test_send_without_mail_server_logs_instead_of_connecting(
    app_context: None, smtp: MagicMock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="webapp")
    message = _message()

    Mailer().send(message)

    smtp.assert_not_called()
    [record] = [r for r in caplog.records if "no MAIL_SERVER" in r.getMessage()]
    assert "to ann@example.com: Reset your password" in record.getMessage()
    assert text_of(message) in record.getMessage()


def test_send_with_a_server_connects_and_sends(
    with_server: Flask, smtp: MagicMock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with with_server.app_context():
        message = _message()

        Mailer().send(message)

    smtp.assert_called_once_with("smtp.example", 2525, timeout=10)
    smtp.return_value.send_message.assert_called_once_with(message)
    smtp.return_value.starttls.assert_not_called()
    smtp.return_value.login.assert_not_called()
    assert not any("abc_DEF-123" in r.getMessage() for r in caplog.records)


def test_send_uses_starttls_and_login_when_configured(with_server: Flask, smtp: MagicMock) -> None:
    with_server.config.update(MAIL_USE_TLS=True, MAIL_USERNAME="mailer", MAIL_PASSWORD="pw")
    with with_server.app_context():
        Mailer().send(_message())

    smtp.return_value.starttls.assert_called_once()
    smtp.return_value.login.assert_called_once_with("mailer", "pw")


def test_a_failed_send_raises_for_the_caller(with_server: Flask, smtp: MagicMock) -> None:
    smtp.side_effect = ConnectionRefusedError

    with with_server.app_context(), pytest.raises(ConnectionRefusedError):
        Mailer().send(_message())


# --- Mailer.is_available ------------------------------------------------------------------------


def test_is_available_without_a_server_is_true_without_connecting(
    app_context: None, smtp: MagicMock
) -> None:
    assert Mailer().is_available() is True
    smtp.assert_not_called()


def test_is_available_asks_the_server_once_and_caches_the_answer(
    with_server: Flask, smtp: MagicMock, mocker: MockerFixture
) -> None:
    clock = mocker.patch.object(mail.time, "monotonic", return_value=1000.0)
    mailer = Mailer()

    with with_server.app_context():
        first = mailer.is_available()
        clock.return_value += mail.AVAILABILITY_TTL - 1
        second = mailer.is_available()
        assert smtp.call_count == 1
        clock.return_value += 2  # past the TTL: asked again
        third = mailer.is_available()

    assert (first, second, third) == (True, True, True)
    assert smtp.call_count == 2
    assert smtp.return_value.noop.call_count == 2


def test_is_available_caches_a_refusal_too(
    with_server: Flask, smtp: MagicMock, mocker: MockerFixture
) -> None:
    mocker.patch.object(mail.time, "monotonic", return_value=1000.0)
    smtp.side_effect = ConnectionRefusedError
    mailer = Mailer()

    with with_server.app_context():
        answers = [mailer.is_available() for _ in range(5)]

    assert answers == [False] * 5
    assert smtp.call_count == 1


def test_is_available_is_false_when_the_server_answers_badly(
    with_server: Flask, smtp: MagicMock
) -> None:
    smtp.return_value.noop.return_value = (421, b"closing")

    with with_server.app_context():
        assert Mailer().is_available() is False
