"""The "main" blueprint: the home page and the health check."""

from webapp.main.routes import bp

__all__ = ["bp"]
