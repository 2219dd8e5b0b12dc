"""Domain errors raised by the services and translated by the views."""

from __future__ import annotations

from webapp.passwords import PasswordRejected

__all__ = [
    "EmailAlreadyRegistered",
    "EmailNotVerified",
    "InvalidEmail",
    "InvalidToken",
    "LoginThrottled",
    "PasswordRejected",
    "ServiceError",
    "UnknownUser",
    "WrongPassword",
]


class ServiceError(Exception):
    """Base class of the errors a service reports to its caller."""


class InvalidEmail(ServiceError):
    """The address is not a usable email address; the message says why."""


class EmailAlreadyRegistered(ServiceError):
    """An account with this (normalized) email address exists already."""

    def __init__(self, email: str) -> None:
        super().__init__(f"{email} is already registered")
        self.email = email


class UnknownUser(ServiceError):
    """No account has this email address."""


class LoginThrottled(ServiceError):
    """Too many failed sign-ins for this address; try again after ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"retry after {retry_after} s")
        self.retry_after = retry_after


class EmailNotVerified(ServiceError):
    """The password was right, but the address has not been confirmed yet."""

    def __init__(self, email: str) -> None:
        super().__init__(f"{email} is not verified")
        self.email = email


class InvalidToken(ServiceError):
    """An emailed link that is unknown, used, superseded or expired."""


class WrongPassword(ServiceError):
    """The current password given to confirm a change was not right."""
