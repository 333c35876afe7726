"""How the service talks to its database: the engines' connection settings."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from analytics.tables import analytics_parameters
from lrs.db import write_records


async def test_postgresql_connections_run_without_jit(app: FastAPI) -> None:
    """JIT compiling costs ~10 ms of backend CPU on a statement write that runs in about one
    (measured with log_min_duration_statement while profiling single POSTs)."""
    if app.state.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no JIT")
    async with app.state.engine.connect() as connection:
        assert await connection.scalar(text("SHOW jit")) == "off"


async def test_postgresql_reads_run_outside_a_transaction(app: FastAPI) -> None:
    """A read session's queries on PostgreSQL each commit by themselves (no BEGIN and
    ROLLBACK around a GET: two round trips fewer); a write session's share one transaction,
    so its two queries see one transaction id."""
    if app.state.engine.dialect.name != "postgresql":
        pytest.skip("SQLite begins no transaction for reads by itself")
    transaction_id = text("SELECT txid_current()")
    for sessionmaker, alone in (
        (app.state.read_sessionmaker, True),
        (app.state.sessionmaker, False),
    ):
        async with sessionmaker() as session:
            first = await session.scalar(transaction_id)
            assert (await session.scalar(transaction_id) != first) is alone


async def test_rows_written_by_the_drivers_bulk_path_fail_as_sqlalchemy_errors(
    app: FastAPI,
) -> None:
    """write_records runs COPY on asyncpg itself, past SQLAlchemy: its errors are wrapped as
    SQLAlchemy wraps the rest, so the app answers a taken key with 409 (not 500) and the
    learner models retry a database failure instead of setting their entry aside."""
    now = datetime.now(UTC)
    record = (1, "skill", 0.2, 0.1, 0.1, 0.2, 1, 1, now)
    columns = [column.name for column in analytics_parameters.c]
    async with app.state.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))  # the transaction begins
        with pytest.raises(DBAPIError) as raised:
            await write_records(connection, analytics_parameters, columns, [record, record])
        if app.state.engine.dialect.name == "postgresql":  # the driver's own error, wrapped
            assert getattr(raised.value.orig, "sqlstate", None) == "23505"  # unique_violation
        else:
            assert isinstance(raised.value, IntegrityError)
        await connection.rollback()
