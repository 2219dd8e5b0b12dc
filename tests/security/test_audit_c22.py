"""The audit log: every authentication event, structured, with nothing secret (item 22)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask

from tests.support import STRONG_PASSWORD, HttpsClient, csrf_token_in
from webapp import audit


def _events(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "webapp.audit"]


def test_c22_each_authentication_event_is_one_structured_line(
    client: HttpsClient, app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="webapp.audit")
    client.register()
    client.register()  # the same address again: rejected
    client.logout()
    client.login(password="not the right password at all")
    for _ in range(6):  # the sixth is throttled
        client.login(email="nobody@example.com", password="not the right password at all")
    client.login()
    client.logout()
    app.test_cli_runner().invoke(args=["users", "deactivate", "ann@example.com"])

    events = [(e["event"], e["outcome"]) for e in _events(caplog)]

    assert events == [
        ("sign_up", "success"),
        ("sign_up", "rejected"),
        ("sign_out", "success"),
        ("sign_in", "failure"),
        *[("sign_in", "failure")] * 5,
        ("sign_in", "throttled"),
        ("sign_in", "success"),
        ("sign_out", "success"),
        ("deactivate", "success"),
    ]
    for entry in _events(caplog)[:-1]:
        assert entry["ip"] == "127.0.0.1"
        assert entry["user_agent"].startswith("Werkzeug/")
        assert entry["at"].endswith("+00:00")
        assert (entry["user_id"] is None) != (entry["account"] is None)


def test_c22_failures_name_the_account_by_a_keyed_hash_not_the_address(
    client: HttpsClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="webapp.audit")

    client.login(email="Nobody@Example.com", password="not the right password at all")
    client.login(email="nobody@example.com", password="not the right password at all")

    first, second = _events(caplog)
    assert first["account"] == second["account"]  # one address, one fingerprint, any case
    assert len(first["account"]) == 32
    assert "nobody" not in caplog.text.lower()


def test_c22_no_password_cookie_or_token_is_ever_logged(
    client: HttpsClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    client.register()
    client.logout()
    client.login(remember="y")
    secrets = {
        STRONG_PASSWORD,
        client.get_cookie("__Host-session").value,
        client.get_cookie("__Host-remember").value,
        csrf_token_in(client.get("/account").text),
    }
    client.logout()

    for record in caplog.records:
        message = record.getMessage()
        for secret in secrets:
            assert secret not in message


def test_c22_line_breaks_in_user_input_cannot_forge_a_line(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="webapp.audit")
    forged = 'evil\r\n{"event": "sign_in", "outcome": "success"}'

    with app.test_request_context(environ_base={"HTTP_USER_AGENT": forged}):
        audit.record("sign_in", "failure", email="bob\nINFO fake@example.com")

    [record] = [r for r in caplog.records if r.name == "webapp.audit"]
    assert "\n" not in record.getMessage()
    assert "\r" not in record.getMessage()
    assert json.loads(record.getMessage())["user_agent"] == forged
