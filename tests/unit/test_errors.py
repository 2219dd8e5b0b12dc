"""The service errors carry their subject, and say it when printed (logs, ``flask users``)."""

from __future__ import annotations

import pytest

from webapp.services.errors import (
    EmailAlreadyRegistered,
    EmailNotVerified,
    LoginThrottled,
    ServiceError,
)


# Built inside the test, not at collection, so that mutation testing links the test to them.
@pytest.mark.parametrize(
    ("error_class", "subject", "message"),
    [
        (EmailAlreadyRegistered, "ann@example.com", "ann@example.com is already registered"),
        (EmailNotVerified, "ann@example.com", "ann@example.com is not verified"),
        (LoginThrottled, 30, "retry after 30 s"),
    ],
)
def test_an_error_says_what_happened(
    error_class: type[ServiceError], subject: str | int, message: str
) -> None:
    assert str(error_class(subject)) == message
