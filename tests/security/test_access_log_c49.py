"""No log holds the one-time token of an emailed link, however its path is spelled (item 49)."""

from __future__ import annotations

import logging
from datetime import timedelta
from types import SimpleNamespace
from urllib.parse import unquote, urlsplit

import pytest
from gunicorn.config import Config
from pytest_mock import MockerFixture
from werkzeug.routing import RequestRedirect

from tests.support import STRONG_PASSWORD, csrf_token_in, load_gunicorn_conf, make_app
from webapp.mail import Mailer, build_message
from webapp.models import User
from webapp.redaction import mask_log_record, mask_tokens
from webapp.services import accounts

TOKEN = "AbC-123_xyz"
TOKEN_ENDPOINTS = {"auth.reset_password", "auth.verify_email"}

# How a client may spell a link's path; each reaches a token route once gunicorn has decoded
# the path and Werkzeug has merged repeated slashes (test_c49_each_spelling_reaches_a_token_route).
SPELLINGS = [
    ("/password/reset/AbC-123_xyz", "/password/reset/[token]"),
    ("/register/verify/AbC-123_xyz", "/register/verify/[token]"),
    ("/password%2Freset/AbC-123_xyz", "/password%2Freset/[token]"),
    ("/password%2freset/AbC-123_xyz", "/password%2freset/[token]"),
    ("/register%2Fverify%2FAbC-123_xyz", "/register%2Fverify%2F[token]"),
    ("/p%61ssword/reset/AbC-123_xyz", "/p%61ssword/reset/[token]"),
    ("/register/v%65rify/AbC-123_xyz", "/register/v%65rify/[token]"),
    ("/%70%61%73%73%77%6f%72%64%2f%72%65%73%65%74%2fAbC-123_xyz", None),
    ("//password//reset/AbC-123_xyz", "//password//reset/[token]"),
    ("/password/reset/%41bC-123_xyz", "/password/reset/[token]"),
    ("/password/reset/AbC-123_xyz?next=/account", "/password/reset/[token]?next=/account"),
]
HARMLESS = ["/password/reset", "/login?next=/account", "/register/verified/x"]


def _access_atoms(raw_uri: str) -> dict[str, object]:
    """gunicorn's access-log atoms for a GET of ``raw_uri``, with a referrer to the same URL."""
    logger = load_gunicorn_conf().RedactingLogger(Config())
    path, _, query = raw_uri.partition("?")
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": raw_uri,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "PATH_INFO": unquote(path),  # as gunicorn decodes it
        "QUERY_STRING": query,
        "HTTP_REFERER": f"https://signup.example{raw_uri}",
    }
    response = SimpleNamespace(status="200 OK", sent=10, headers=[])
    return logger.atoms(response, [], environ, timedelta(milliseconds=5))


@pytest.mark.parametrize(("raw_uri", "shown"), SPELLINGS)
def test_c49_access_log_lines_hide_link_tokens(raw_uri: str, shown: str | None) -> None:
    atoms = _access_atoms(raw_uri)

    assert TOKEN not in " ".join(str(v) for v in atoms.values())
    assert "[token]" in str(atoms["r"])
    assert "[token]" in str(atoms["U"])
    if shown is not None:
        assert atoms["r"] == f"GET {shown} HTTP/1.1"
        assert atoms["f"] == f"https://signup.example{shown}"


@pytest.mark.parametrize(
    "query",
    [
        "next=/password/reset/AbC-123_xyz",
        "next=%2Fpassword%2Freset%2FAbC-123_xyz&x=1",
        "next=%252Fregister%252Fverify%252FAbC-123_xyz",
    ],
)
def test_c49_access_log_hides_link_tokens_in_the_query(query: str) -> None:
    atoms = _access_atoms(f"/login?{query}")

    assert TOKEN not in " ".join(str(v) for v in atoms.values())
    assert "[token]" in str(atoms["q"])


@pytest.mark.parametrize("raw_uri", HARMLESS)
def test_c49_access_log_keeps_other_paths(raw_uri: str) -> None:
    atoms = _access_atoms(raw_uri)

    assert atoms["r"] == f"GET {raw_uri} HTTP/1.1"
    assert mask_tokens(raw_uri) == raw_uri


@pytest.mark.parametrize("raw_uri", [raw for raw, _ in SPELLINGS])
def test_c49_each_spelling_reaches_a_token_route(raw_uri: str) -> None:
    urls = make_app(tables=False).url_map.bind("localhost")
    path = unquote(raw_uri.partition("?")[0])

    try:
        endpoint, arguments = urls.match(path)
    except RequestRedirect as redirect:  # repeated slashes: redirected, token and all
        endpoint, arguments = urls.match(urlsplit(redirect.new_url).path)

    assert endpoint in TOKEN_ENDPOINTS
    assert unquote(arguments["token"]) == TOKEN


def test_c49_gunicorn_uses_the_redacting_logger() -> None:
    conf = load_gunicorn_conf()

    assert conf.logger_class is conf.RedactingLogger


def test_c49_an_unexpected_error_on_a_link_logs_no_token(
    mocker: MockerFixture, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(PROPAGATE_EXCEPTIONS=False)
    client = app.test_client()
    mocker.patch.object(
        accounts,
        "reset_password",
        autospec=True,
        side_effect=RuntimeError(f"no row for /password/reset/{TOKEN}"),
    )
    csrf = csrf_token_in(client.get("/password/forgot").get_data(as_text=True))
    caplog.set_level(logging.INFO)

    response = client.post(
        f"/password/reset/{TOKEN}",
        data={"csrf_token": csrf, "password": STRONG_PASSWORD, "confirm_password": STRONG_PASSWORD},
    )

    assert response.status_code == 500
    assert TOKEN not in caplog.text
    assert "Exception on /password/reset/[token] [POST]" in caplog.text
    assert "RuntimeError: no row for /password/reset/[token]" in caplog.text


def test_c49_development_mail_in_the_log_keeps_its_link(caplog: pytest.LogCaptureFixture) -> None:
    app = make_app(tables=False, MAIL_SERVER="")
    link = f"https://localhost/password/reset/{TOKEN}"
    caplog.set_level(logging.INFO)

    with app.app_context():
        user = User(id=1, email="ann@example.com", name="Ann", password_hash="x")
        message = build_message(
            "ann@example.com", "Reset", "reset_password", user=user, link=link, minutes=60
        )
        Mailer().send(message)

    assert link in caplog.text


def test_a_record_whose_arguments_do_not_fit_is_left_to_the_handler() -> None:
    record = logging.LogRecord("webapp", logging.ERROR, __file__, 1, "%s and %s", ("one",), None)

    assert mask_log_record(record) is True
    assert (record.msg, record.args) == ("%s and %s", ("one",))
