"""Email: messages rendered from templates, sent over SMTP or written to the log."""

from __future__ import annotations

import smtplib
import ssl
import time
from email.message import EmailMessage
from typing import Any

from flask import Flask, current_app, render_template

from webapp.redaction import SHOW_TOKENS

# A failed reachability check is remembered this long, so an outage costs every request
# one quick answer instead of one connection attempt each.
AVAILABILITY_TTL = 30.0


def public_url(endpoint: str, **values: Any) -> str:
    """An absolute link for emails: PUBLIC_URL plus the route's path, never the Host header."""
    path = current_app.url_map.bind("localhost").build(endpoint, values)
    return current_app.config["PUBLIC_URL"].rstrip("/") + path


def build_message(to: str, subject: str, template: str, **context: Any) -> EmailMessage:
    """A text message with an HTML alternative from ``mail/<template>.txt`` and ``.html``."""
    message = EmailMessage()
    message["From"] = current_app.config["MAIL_DEFAULT_SENDER"]
    message["To"] = to
    message["Subject"] = subject
    context.setdefault("site_name", current_app.config["SITE_NAME"])
    message.set_content(render_template(f"mail/{template}.txt", **context))
    message.add_alternative(render_template(f"mail/{template}.html", **context), subtype="html")
    return message


class Mailer:
    """Sends through the configured SMTP server; without MAIL_SERVER, logs the message instead."""

    def __init__(self) -> None:
        self._checked: dict[tuple[str, int], tuple[float, bool]] = {}

    def init_app(self, app: Flask) -> None:
        """Register on the app (settings are read at send time)."""
        app.extensions["mailer"] = self

    def send(self, message: EmailMessage) -> None:
        """Deliver ``message`` or raise an OSError / smtplib.SMTPException."""
        config = current_app.config
        if not config["MAIL_SERVER"]:
            # Local use (make run; production refuses to start without MAIL_SERVER): the flows
            # still work, links are read from the log, unmasked (the decoded text, so that a
            # long link is not broken by quoted-printable).
            body = message.get_body(preferencelist=("plain",))
            text = body.get_content() if body is not None else ""
            current_app.logger.info(
                "mail (no MAIL_SERVER set) to %s: %s\n%s",
                message["To"],
                message["Subject"],
                text,
                extra=SHOW_TOKENS,
            )
            return
        with self._connect() as smtp:
            smtp.send_message(message)

    def forget_availability(self) -> None:
        """Drop the cached reachability answers (tests start each app afresh)."""
        self._checked.clear()

    def is_available(self) -> bool:
        """Whether the SMTP server answers now (cached briefly); always true without one."""
        server = current_app.config["MAIL_SERVER"]
        if not server:
            return True
        key = (server, current_app.config["MAIL_PORT"])
        now = time.monotonic()
        checked_at, answer = self._checked.get(key, (0.0, False))
        if now - checked_at < AVAILABILITY_TTL:
            return answer
        try:
            with self._connect() as smtp:
                answer = smtp.noop()[0] == 250
        except (OSError, smtplib.SMTPException):
            answer = False
        self._checked[key] = (now, answer)
        return answer

    def _connect(self) -> smtplib.SMTP:
        config = current_app.config
        host, port, timeout = config["MAIL_SERVER"], config["MAIL_PORT"], config["MAIL_TIMEOUT"]
        if config["MAIL_USE_SSL"]:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=timeout)
        else:
            smtp = smtplib.SMTP(host, port, timeout=timeout)
            if config["MAIL_USE_TLS"]:
                smtp.starttls(context=ssl.create_default_context())
        if config["MAIL_USERNAME"]:
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
        return smtp
