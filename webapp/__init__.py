"""Signup and login for Flask: ``create_app`` is the only wiring point."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from flask_limiter import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from limits.storage import storage_from_string
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.middleware.proxy_fix import ProxyFix

from webapp import errors, extensions, headers
from webapp.config import is_redis, load_settings
from webapp.forms import require_form_body
from webapp.identity import load_user
from webapp.redaction import mask_log_record

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application; ``config`` overrides settings (``APP_ENV`` picks the base)."""
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(ROOT / "instance"),
    )
    app.config.from_mapping(load_settings(app.instance_path, config))
    # INFO and above reach Flask's handler (stderr, which gunicorn collects): the audit log,
    # and under `make run` the emails, written to the log instead of sent.
    app.logger.setLevel(logging.INFO)
    # Flask logs an unexpected error with the request's path, which may hold a link's token.
    app.logger.addFilter(mask_log_record)

    if app.config["TRUSTED_PROXIES"]:
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]

    # Hooks run in the order registered: https and cross-site checks first, then the body
    # check, before CSRFProtect's hook, which parses the form and would consume the body.
    headers.init_app(app)
    app.before_request(require_form_body)
    extensions.db.init_app(app)
    extensions.migrate.init_app(app, extensions.db, directory=str(MIGRATIONS))
    extensions.csrf.init_app(app)
    extensions.limiter.init_app(app)
    app.extensions["counters"] = storage_from_string(
        app.config["RATELIMIT_STORAGE_URI"], **app.config["RATELIMIT_STORAGE_OPTIONS"]
    )
    extensions.passwords.init_app(app)
    extensions.mailer.init_app(app)
    extensions.jobs.init_app(app)
    extensions.login_manager.init_app(app)
    extensions.login_manager.user_loader(load_user)

    from webapp import account, auth, main

    app.register_blueprint(main.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(account.bp)

    app.register_error_handler(HTTPException, errors.handle_http_error)
    app.register_error_handler(CSRFError, errors.handle_csrf_error)
    app.register_error_handler(RateLimitExceeded, errors.handle_rate_limited)
    app.register_error_handler(OperationalError, errors.handle_service_unavailable)
    if is_redis(app.config["RATELIMIT_STORAGE_URI"]):
        from redis.exceptions import RedisError  # only then: the client costs 6 MB a worker

        app.register_error_handler(RedisError, errors.handle_service_unavailable)
    app.register_error_handler(InternalServerError, errors.handle_unexpected_error)

    from webapp.cli import users

    app.cli.add_command(users)
    return app
