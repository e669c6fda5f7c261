"""Alembic environment for Podium's own tables.

Configured from code (:func:`podium.migrate.alembic_config`): the open connection, or
else the URL, comes from ``config.attributes`` — there is no ``alembic.ini``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import pool

import podium.models  # noqa: F401 - registers every table on Base.metadata
from podium.db import make_engine
from podium.migrate import context_options
from podium.models.base import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database: pass a url or connection to podium.migrate.alembic_config()")
    return url


def run_migrations_offline() -> None:
    """Emit SQL to stdout (``--sql``) instead of running it."""
    url = _url()
    dialect = url.split(":", 1)[0].split("+", 1)[0]
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **context_options("sqlite" if dialect == "sqlite" else dialect),
    )
    with context.begin_transaction():
        context.run_migrations()


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        **context_options(connection.dialect.name),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url(), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            _run(connection)
            connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
