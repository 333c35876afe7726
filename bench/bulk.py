"""The database's own limit: statement rows, their ids and index rows, exactly as the service
would store them, written with the driver's fastest bulk path (COPY on PostgreSQL, one
executemany per table on SQLite), with no HTTP and no validation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from lrs.db import write_records
from statements import partitions
from statements.store import INDEX_COLUMNS, StatementRow, index_records
from statements.tables import statement_ids, statements

Batch = Sequence[tuple[int, int, StatementRow]]  # (tenant id, credential id, row)

STATEMENT_COLUMNS = (
    "seq", "tenant_id", "statement_id", "stored", "verb_id", "registration", "object_ref",
    "is_voiding", "voided", "credential_id", "payload",
)  # fmt: skip
ID_COLUMNS = ("tenant_id", "statement_id", "stored")


async def next_seq(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int(await connection.scalar(select(func.max(statements.c.seq))) or 0) + 1


async def write(engine: AsyncEngine, batch: Batch, first_seq: int) -> int:
    """Writes the batch in one transaction with seqs from `first_seq`; returns the rows
    written (statements, their ids and index rows)."""
    statement_rows: list[Any] = []
    id_rows: list[Any] = []
    for seq, (tenant_id, credential_id, row) in enumerate(batch, start=first_seq):
        statement_rows.append(
            (seq, tenant_id, row.statement_id, row.stored, row.verb_id, row.registration,
             row.object_ref, row.is_voiding, False, credential_id, row.payload)
        )  # fmt: skip
        id_rows.append((tenant_id, row.statement_id, row.stored))
    indexes = index_records(
        (tenant_id, seq, row) for seq, (tenant_id, _, row) in enumerate(batch, start=first_seq)
    )
    async with engine.begin() as connection:
        stored = [row.stored for _, _, row in batch]
        await partitions.ensure_months(connection, min(stored), max(stored))
        await write_records(connection, statements, STATEMENT_COLUMNS, statement_rows)
        await write_records(connection, statement_ids, ID_COLUMNS, id_rows)
        for table, records in indexes.items():
            await write_records(connection, table, INDEX_COLUMNS[table], records)
    return len(statement_rows) * 2 + sum(len(records) for records in indexes.values())


async def finish(engine: AsyncEngine) -> None:
    """After bulk loading: the id sequence past the loaded seqs, and planner statistics (as
    autovacuum on PostgreSQL and the server's hourly refresh on SQLite keep them)."""
    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            await connection.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence('statements', 'seq'), "
                    "(SELECT max(seq) FROM statements))"
                )
            )
        await connection.execute(text("ANALYZE"))
