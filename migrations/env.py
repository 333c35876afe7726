"""Alembic environment: runs on the connection `lrs.db.migrate` hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from lrs.db import all_tables


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=all_tables(),
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `lrs migrate`, which opens the connection")
run_migrations(connection)
