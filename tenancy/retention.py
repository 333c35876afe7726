"""The server's own timers, so that policies hold without cron: retention of every tenant,
the statement partitions of the coming months (PostgreSQL) and planner statistics
(SQLite)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from statements import partitions
from statements.service import StatementHooks
from tenancy.service import Actor, apply_retention, drop_expired_months

logger = logging.getLogger("lrs.retention")
SERVER = Actor(name="server:retention", source="server", tenant=None)
# Months are made MONTHS_AHEAD ahead, so an hourly check leaves weeks to spare.
MAINTENANCE_INTERVAL = 3600.0

Job = Callable[[AsyncSession], Awaitable[Any]]


async def run_retention(
    session: AsyncSession, actor: Actor, hooks: StatementHooks
) -> dict[str, dict[str, int]]:
    """Retention in two transactions: whole expired months first, committed at once to free
    the statement tables they lock, then the rest row by row. For the owner of `session`."""
    dropped = await drop_expired_months(session, actor)
    await session.commit()
    return await apply_retention(session, actor, hooks, dropped=dropped)


async def _partitions(session: AsyncSession) -> None:
    await partitions.ensure_current_months(await session.connection())


async def refresh_statistics(session: AsyncSession) -> None:
    """SQLite gathers no planner statistics by itself (PostgreSQL's autovacuum does): ANALYZE,
    sampling at most 1,000 rows an index, which takes milliseconds at any size, so the
    planner knows which index narrows a query best."""
    connection = await session.connection()
    if connection.dialect.name == "sqlite":
        await connection.exec_driver_sql("PRAGMA analysis_limit = 1000")
        await connection.exec_driver_sql("ANALYZE")


@contextlib.asynccontextmanager
async def retention_loop(
    sessionmaker: async_sessionmaker[AsyncSession],
    interval: float,
    hooks: StatementHooks,
    others: Sequence[tuple[float, Job, str]] = (),
) -> AsyncIterator[None]:
    """While the server is up: retention every `interval` seconds (first after one interval;
    0 disables it), the coming months' partitions and the statistics every hour, and each of
    `others` (seconds, job, name) of other domains. Each run is one transaction; a failed run
    is logged and retried at the next tick. With several workers each runs them; repeating
    what another already did is harmless."""

    async def retention(session: AsyncSession) -> Any:
        return await run_retention(session, SERVER, hooks)

    async def every(seconds: float, job: Job, name: str) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                async with sessionmaker() as session:
                    result = await job(session)
                    await session.commit()
                if result:
                    logger.info("%s: %s", name, result)
            except Exception:
                logger.exception("%s failed; retrying at the next interval", name)

    tasks = [
        asyncio.create_task(every(MAINTENANCE_INTERVAL, _partitions, "partitions")),
        asyncio.create_task(every(MAINTENANCE_INTERVAL, refresh_statistics, "statistics")),
    ]
    if interval > 0:
        tasks.append(asyncio.create_task(every(interval, retention, "retention applied")))
    for seconds, job, name in others:
        if seconds > 0:
            tasks.append(asyncio.create_task(every(seconds, job, name)))
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
