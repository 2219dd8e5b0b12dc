"""The one-time tokens of emailed links, masked wherever a path is logged.

Used by gunicorn's access log (gunicorn.conf.py) and by the app's logger (create_app). This
module imports nothing from the app: gunicorn's master process loads it from its file.
"""

from __future__ import annotations

import logging
import re

# The routes whose last path segment is a token (webapp/auth/routes.py).
TOKEN_ROUTES = ("password/reset", "register/verify")
MASK = "[token]"
# Passed as ``extra`` by the one record meant to show a link: development's mail in the log.
SHOW_TOKENS = {"show_tokens": True}


def _encoded(char: str) -> str:
    """``char`` in either case as sent, or percent-encoded (once or more: ``%61``, ``%2561``)."""
    codes = "|".join(sorted({f"{ord(char.lower()):02x}", f"{ord(char.upper()):02x}"}))
    return f"(?:{re.escape(char)}|%(?:25)*(?:{codes}))"


# gunicorn decodes the request path and Werkzeug merges repeated slashes before routing, so
# /password%2Freset/<token>, /p%61ssword/reset/<token> and //password//reset/<token> all
# reach the same view; masking more than routes (other letter cases) costs nothing.
_SLASHES = f"{_encoded('/')}+"
_ROUTE = "|".join(
    _SLASHES.join("".join(map(_encoded, word)) for word in route.split("/"))
    for route in TOKEN_ROUTES
)
TOKEN_IN_PATH = re.compile(
    rf"({_SLASHES}(?:{_ROUTE}){_SLASHES})[^/?#\s\"']+",
    re.IGNORECASE,
)


def mask_tokens(text: str) -> str:
    """``text`` with the token of every link to a token route replaced by ``[token]``."""
    return TOKEN_IN_PATH.sub(rf"\1{MASK}", text)


def mask_log_record(record: logging.LogRecord) -> bool:
    """A logging filter: mask tokens in the message and traceback; every record passes."""
    if getattr(record, "show_tokens", False):
        return True
    try:
        message = record.getMessage()
    except (TypeError, ValueError):  # arguments that do not fit: the handler reports it
        return True
    masked = mask_tokens(message)
    if masked != message:
        record.msg, record.args = masked, ()
    if record.exc_info and not record.exc_text:
        # Formatted here as the handler's formatter would, which then uses this text.
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = mask_tokens(record.exc_text)
    if record.stack_info:
        record.stack_info = mask_tokens(record.stack_info)
    return True
