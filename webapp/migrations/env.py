"""Alembic environment: run migrations on the Flask app's engine and models."""

from alembic import context
from flask import current_app

from webapp.extensions import db


def run_migrations_offline() -> None:
    """Emit SQL for ``flask db upgrade --sql`` without connecting."""
    context.configure(
        url=db.engine.url.render_as_string(hide_password=False),
        target_metadata=db.metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Migrate the app's database inside one transaction."""
    with db.engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=db.metadata,
            # Flask-Migrate adds compare_type and render_as_batch (SQLite cannot ALTER).
            **current_app.extensions["migrate"].configure_args,
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
