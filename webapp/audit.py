"""The audit log: one structured line per authentication event, and nothing secret in it."""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import has_request_context, request

from webapp.models import utcnow
from webapp.services.users import account_key

logger = logging.getLogger("webapp.audit")


def record(
    event: str,
    outcome: str,
    *,
    user_id: int | None = None,
    email: str | None = None,
    **details: Any,
) -> None:
    """Log ``event`` with its outcome, who (a user id, else a keyed hash of the email) and whence.

    JSON escapes CR, LF and every other control character, so user input cannot forge
    a line; passwords, cookies and tokens are never passed in.
    """
    entry: dict[str, Any] = {
        "at": utcnow().isoformat(timespec="seconds"),
        "event": event,
        "outcome": outcome,
        "user_id": user_id,
        "account": account_key(email) if email and user_id is None else None,
        **details,
    }
    if has_request_context():
        entry["ip"] = request.remote_addr
        entry["user_agent"] = request.user_agent.string[:200]
    logger.info(json.dumps(entry, ensure_ascii=True, sort_keys=True))
