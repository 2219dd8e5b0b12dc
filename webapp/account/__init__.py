"""The "account" blueprint: the signed-in person's own pages."""

from webapp.account.routes import bp

__all__ = ["bp"]
