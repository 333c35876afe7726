"""Monthly partitions of the statement tables on PostgreSQL (by `stored`), so that retention
drops a whole month of statements and their index rows at once instead of deleting them row
by row. SQLite has no partitions; every function here leaves it alone.

Each month is a partition of `statements`, `statement_agents` and `statement_activities`,
named `<table>_pYYYYMM`; a DEFAULT partition takes rows of months that have none. Months
are made ahead of time (at migration and by the server's maintenance timer): a month cannot
be made once its rows have landed in the default partition, and those rows then stay there,
deleted by retention row by row.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

logger = logging.getLogger("lrs.partitions")

PARTITIONED = ("statements", "statement_agents", "statement_activities")
# Not partitioned but carrying `stored`: dropping a month deletes their rows of that month.
LINKED_BY_STORED = ("statement_ids", "statement_attachments")
# Months made ahead of the current one.
MONTHS_AHEAD = 2
# Serialises partition changes between instances (any constant no other lock uses).
_PARTITION_LOCK = 0x4C52535041525401
_MONTH_NAME = re.compile(r"^statements_p(\d{4})(\d{2})$")


def is_partition(table: str) -> bool:
    """Whether `table` is a partition (a month or the default) of a partitioned table."""
    parent, _, suffix = table.rpartition("_")
    return parent in PARTITIONED and (
        suffix == "default" or re.fullmatch(r"p\d{6}", suffix) is not None
    )


def month_start(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    return datetime(moment.year, moment.month, 1, tzinfo=UTC)


def next_month(start: datetime) -> datetime:
    return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)


def partition_name(table: str, start: datetime) -> str:
    return f"{table}_p{start:%Y%m}"


def month_ddl(start: datetime) -> list[str]:
    """CREATE statements for one month's partition of each partitioned table."""
    bounds = f"FROM ('{start.isoformat()}') TO ('{next_month(start).isoformat()}')"
    return [
        f"CREATE TABLE {partition_name(table, start)} PARTITION OF {table} FOR VALUES {bounds}"
        for table in PARTITIONED
    ]


def default_ddl() -> list[str]:
    return [f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT" for table in PARTITIONED]


def months_between(first: datetime, last: datetime) -> list[datetime]:
    """Month starts from `first`'s month through `last`'s."""
    months, start = [], month_start(first)
    while start <= last:
        months.append(start)
        start = next_month(start)
    return months


async def existing_months(connection: AsyncConnection) -> list[datetime]:
    """Month starts of the partitions of `statements`, oldest first."""
    names = await connection.scalars(
        text(
            "SELECT child.relname FROM pg_inherits "
            "JOIN pg_class child ON child.oid = pg_inherits.inhrelid "
            "WHERE pg_inherits.inhparent = 'statements'::regclass"
        )
    )
    months = []
    for name in names:
        if match := _MONTH_NAME.match(name):
            months.append(datetime(int(match[1]), int(match[2]), 1, tzinfo=UTC))
    return sorted(months)


async def ensure_months(connection: AsyncConnection, first: datetime, last: datetime) -> None:
    """Makes the missing monthly partitions from `first`'s month through `last`'s. A month
    whose rows already sit in the default partition is left out (with a warning)."""
    if connection.dialect.name != "postgresql":
        return
    await lock_partitions(connection)
    have = set(await existing_months(connection))
    for start in months_between(first, last):
        if start in have:
            continue
        try:
            async with connection.begin_nested():
                for statement in month_ddl(start):
                    await connection.exec_driver_sql(statement)
        except DBAPIError as error:
            # 23514: the default partition holds rows of this month.
            if getattr(error.orig, "sqlstate", None) != "23514":
                raise
            logger.warning("month %s stays in the default partition: %s", f"{start:%Y-%m}", error)


async def ensure_current_months(connection: AsyncConnection) -> None:
    """This month and MONTHS_AHEAD more."""
    now = datetime.now(UTC)
    last = month_start(now)
    for _ in range(MONTHS_AHEAD):
        last = next_month(last)
    await ensure_months(connection, now, last)


async def lock_partitions(connection: AsyncConnection) -> None:
    """Serialises partition changes between instances, for the rest of the transaction."""
    await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PARTITION_LOCK})


async def tenants_in(connection: AsyncConnection, start: datetime) -> list[int]:
    """The tenants with statements in the month starting at `start`: a walk that jumps from
    tenant to tenant along the (tenant, stored) index, not a read of the whole month."""
    partition = partition_name("statements", start)
    result = await connection.scalars(
        text(
            f"""
            WITH RECURSIVE present(tenant_id) AS (
                SELECT min(tenant_id) FROM {partition}
                UNION ALL
                SELECT (SELECT min(tenant_id) FROM {partition} WHERE tenant_id > present.tenant_id)
                FROM present WHERE present.tenant_id IS NOT NULL
            )
            SELECT tenant_id FROM present WHERE tenant_id IS NOT NULL
            """  # noqa: S608 - our partition name
        )
    )
    return [int(tenant_id) for tenant_id in result]


async def tenant_counts(connection: AsyncConnection, start: datetime) -> dict[int, int]:
    """How many statements each tenant has in the month starting at `start`."""
    result = await connection.execute(
        text(
            f"SELECT tenant_id, count(*) FROM {partition_name('statements', start)} "  # noqa: S608 - our name
            "GROUP BY tenant_id"
        )
    )
    return {int(tenant_id): int(count) for tenant_id, count in result}


# The order in which a write locks the statement tables (its CTEs' order); taking the
# exclusive locks a drop needs in the same order cannot deadlock with a write.
_WRITE_LOCK_ORDER = (
    "statement_ids",
    "statements",
    "statement_agents",
    "statement_activities",
    "statement_attachments",
)


async def drop_month(connection: AsyncConnection, start: datetime) -> None:
    """Drops a month's partitions, and the rows of the LINKED_BY_STORED tables stored in
    that month. Dropping a partition locks its
    parent exclusively until the transaction ends; a write waiting longer than five
    seconds for the locks gives up (the drop is retried at the next run)."""
    await connection.exec_driver_sql("SET LOCAL lock_timeout = '5s'")
    await connection.exec_driver_sql(
        f"LOCK TABLE {', '.join(_WRITE_LOCK_ORDER)} IN ACCESS EXCLUSIVE MODE"
    )
    bounds = {"start": start, "end": next_month(start)}
    for table in LINKED_BY_STORED:
        await connection.execute(
            text(f"DELETE FROM {table} WHERE stored >= :start AND stored < :end"),  # noqa: S608
            bounds,
        )
    for table in reversed(PARTITIONED):
        await connection.exec_driver_sql(f"DROP TABLE IF EXISTS {partition_name(table, start)}")
