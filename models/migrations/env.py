"""Alembic environment for the agentload schema.

Runs both from ``models.migrate`` (which passes the URL, or an open connection, through
``config.attributes`` so that no ``alembic.ini`` is needed and ``%`` in passwords is never
mangled by ConfigParser) and from the ``alembic`` CLI with ``models/alembic.ini``. The URL falls
back to ``sqlalchemy.url`` and then to ``AGENTLOAD_DATABASE_URL`` via the settings.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection

import models
from models.migrate import compare_column_type
from models.session import get_engine, normalize_url

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)
target_metadata = models.Base.metadata


def _url() -> str:
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        from agentload.settings import get_settings

        url = get_settings().database_url
    return normalize_url(str(url))


def _configure(**kwargs: object) -> None:
    url = str(kwargs.get("url") or "")
    connection = kwargs.get("connection")
    dialect = connection.dialect.name if isinstance(connection, Connection) else url.split(":", 1)[0]
    context.configure(
        target_metadata=target_metadata,
        compare_type=compare_column_type,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=dialect.startswith("sqlite"),
        **kwargs,  # type: ignore[arg-type]
    )


def run_migrations_offline() -> None:
    """``alembic upgrade --sql``: emit the DDL as text instead of running it."""
    _configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Migrate over a caller-supplied connection, or one from the process-wide engine.

    The shared engine (not a throwaway one) is used so that an in-memory SQLite database
    migrated here is the same database the application then opens, and so that SQLite gets
    the same pragmas and parent-directory creation as at run time.
    """
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    with get_engine(_url()).connect() as conn:
        _configure(connection=conn)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
