"""The "auth" blueprint: sign up, sign in, sign out."""

from webapp.auth.routes import bp

__all__ = ["bp"]
