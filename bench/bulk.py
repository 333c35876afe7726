"""The database's own limit: statement rows and their index rows, exactly as the service
would store them, written with the driver's fastest bulk path (COPY on PostgreSQL, one
executemany per table on SQLite), with no HTTP and no validation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from statements.store import StatementRow
from statements.tables import statement_activities, statement_agents, statements

Batch = Sequence[tuple[int, int, StatementRow]]  # (tenant id, credential id, row)


async def next_seq(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int(await connection.scalar(select(func.max(statements.c.seq))) or 0) + 1


def _records(batch: Batch, first_seq: int) -> tuple[list[Any], list[Any], list[Any]]:
    statement_rows: list[Any] = []
    agent_rows: list[Any] = []
    activity_rows: list[Any] = []
    for seq, (tenant_id, credential_id, row) in enumerate(batch, start=first_seq):
        statement_rows.append(
            (
                seq,
                tenant_id,
                row.statement_id,
                row.stored,
                row.verb_id,
                row.registration,
                row.object_ref,
                row.is_voiding,
                False,
                credential_id,
                row.payload,
            )
        )
        agent_rows.extend(
            (seq, agent, tenant_id, direct, row.stored) for agent, direct in row.agents.items()
        )
        activity_rows.extend(
            (seq, activity, tenant_id, direct, row.stored)
            for activity, direct in row.activities.items()
        )
    return statement_rows, agent_rows, activity_rows


STATEMENT_COLUMNS = [
    "seq", "tenant_id", "statement_id", "stored", "verb_id", "registration", "object_ref",
    "is_voiding", "voided", "credential_id", "payload",
]  # fmt: skip
AGENT_COLUMNS = ["statement_seq", "agent", "tenant_id", "direct", "stored"]
ACTIVITY_COLUMNS = ["statement_seq", "activity_id", "tenant_id", "direct", "stored"]


async def write(engine: AsyncEngine, batch: Batch, first_seq: int) -> int:
    """Writes the batch in one transaction with seqs from `first_seq`; returns the rows
    written (statements and index rows)."""
    statement_rows, agent_rows, activity_rows = _records(batch, first_seq)
    tables = (
        (statements, STATEMENT_COLUMNS, statement_rows),
        (statement_agents, AGENT_COLUMNS, agent_rows),
        (statement_activities, ACTIVITY_COLUMNS, activity_rows),
    )
    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            raw = (await connection.get_raw_connection()).driver_connection
            assert raw is not None
            for table, columns, records in tables:
                await raw.copy_records_to_table(table.name, records=records, columns=columns)
        else:
            for table, columns, records in tables:
                await connection.execute(
                    table.insert(), [dict(zip(columns, record, strict=True)) for record in records]
                )
    return len(statement_rows) + len(agent_rows) + len(activity_rows)


async def finish(engine: AsyncEngine) -> None:
    """After bulk loading: the id sequence past the loaded seqs, fresh planner statistics."""
    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            await connection.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence('statements', 'seq'), "
                    "(SELECT max(seq) FROM statements))"
                )
            )
            await connection.execute(text("ANALYZE"))
        else:
            await connection.execute(text("ANALYZE"))
