"""Alembic environment, configured from code (`oaktree.db.upgrade`): no alembic.ini needed.

The caller hands over an open connection in `config.attributes["connection"]`; when Alembic's own
command line is used instead, the URL comes from OakTree's settings.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

import models
from oaktree.config import get_settings
from oaktree.db import engine_for

config = context.config
target_metadata = models.Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on the caller's connection, or on the configured database."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    with engine_for(get_settings().sqlalchemy_url).begin() as own_connection:
        _run(own_connection)


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run `oaktree db upgrade`")
run_migrations_online()
