"""Every state-changing form refuses a missing, foreign or expired CSRF token (checklist c35)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
import time_machine
from flask import Flask
from flask_wtf.csrf import CSRFProtect
from pytest_mock import MockerFixture

from tests.security.checklist_support import T0, stored_users
from tests.support import STRONG_PASSWORD, HttpsClient, csrf_token_in, make_app, new_client

NEW_EMAIL = "newcomer@example.com"
MISSING = "The CSRF token is missing."
FOREIGN = "The CSRF tokens do not match."
EXPIRED = "The CSRF token has expired."
# With the production cookie lifetime (30 min) the whole session, CSRF seed included, has
# gone by the time the token is an hour old.
SESSION_GONE = "The CSRF session token is missing."


@dataclass(frozen=True)
class Endpoint:
    """A state-changing POST, the page whose form carries its token, and its effect."""

    path: str
    form_page: str
    data: dict[str, str]
    prepare: Callable[[Flask, HttpsClient], None]
    took_effect: Callable[[Flask, HttpsClient], bool]


def _nothing(app: Flask, client: HttpsClient) -> None:
    return None


def _someone_registered(app: Flask, client: HttpsClient) -> None:
    assert new_client(app).register().status_code == 303


def _signed_in(app: Flask, client: HttpsClient) -> None:
    assert client.register().status_code == 303


ENDPOINTS = {
    "register": Endpoint(
        path="/register",
        form_page="/register",
        data={
            "email": NEW_EMAIL,
            "name": "Newcomer",
            "password": STRONG_PASSWORD,
            "confirm_password": STRONG_PASSWORD,
        },
        prepare=_nothing,
        took_effect=lambda app, c: NEW_EMAIL in [u.email for u in stored_users(app)],
    ),
    "login": Endpoint(
        path="/login",
        form_page="/login",
        data={"email": "ann@example.com", "password": STRONG_PASSWORD},
        prepare=_someone_registered,
        took_effect=lambda app, c: c.get("/account").status_code == 200,
    ),
    "logout": Endpoint(
        path="/logout",
        form_page="/account",
        data={},
        prepare=_signed_in,
        took_effect=lambda app, c: c.get("/account").status_code == 302,
    ),
}


@pytest.fixture
def refusals(mocker: MockerFixture) -> Callable[[], list[str]]:
    """``refusals()``: the reasons Flask-WTF gave for the tokens it refused so far."""
    spy = mocker.spy(CSRFProtect, "_error_response")
    return lambda: [call.args[1] for call in spy.call_args_list]


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
@pytest.mark.parametrize("case", ["no token", "foreign token", "token 3601 s old", "valid token"])
def test_c35_state_changing_posts_need_this_sessions_fresh_token(
    app: Flask,
    refusals: Callable[[], list[str]],
    endpoint: str,
    case: str,
) -> None:
    target = ENDPOINTS[endpoint]
    with time_machine.travel(T0, tick=False) as traveller:
        client = new_client(app)
        target.prepare(app, client)
        own_token = csrf_token_in(client.get(target.form_page).text)
        if case == "no token":
            data = target.data
        elif case == "foreign token":
            foreign = csrf_token_in(new_client(app).get("/login").text)
            assert foreign != own_token
            data = {"csrf_token": foreign, **target.data}
        else:
            data = {"csrf_token": own_token, **target.data}
        if case == "token 3601 s old":
            traveller.shift(timedelta(seconds=3601))

        response = client.post(target.path, data=data)

        if case == "valid token":
            assert response.status_code == 303
            assert target.took_effect(app, client)
            assert refusals() == []
            return
        assert response.status_code == 400
        assert "The form expired, reload and try again." in response.text
        expected = {
            "no token": {MISSING},
            "foreign token": {FOREIGN},
            "token 3601 s old": {EXPIRED, SESSION_GONE},
        }[case]
        reasons = refusals()
        assert reasons
        assert set(reasons) <= expected, reasons
        if endpoint != "logout" or case != "token 3601 s old":  # by then idle-signed-out anyway
            assert not target.took_effect(app, client)


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
@pytest.mark.parametrize(("age", "status"), [(3599, 303), (3601, 400)])
def test_c35_the_token_itself_expires_after_an_hour_while_the_session_lives(
    refusals: Callable[[], list[str]], endpoint: str, age: int, status: int
) -> None:
    """The session cookie lives 12 hours, so here only WTF_CSRF_TIME_LIMIT can refuse it."""
    app = make_app()
    assert app.config["WTF_CSRF_TIME_LIMIT"] == 3600
    target = ENDPOINTS[endpoint]
    with time_machine.travel(T0, tick=False) as traveller:
        client = new_client(app)
        target.prepare(app, client)
        token = csrf_token_in(client.get(target.form_page).text)
        traveller.shift(timedelta(seconds=age))

        response = client.post(target.path, data={"csrf_token": token, **target.data})

    assert response.status_code == status
    assert refusals() == ([] if status == 303 else [EXPIRED])
