"""The server applies tenants' retention policies on a timer, so a policy holds without cron."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tenancy.service import Actor, apply_retention

logger = logging.getLogger("lrs.retention")
SERVER = Actor(name="server:retention", source="server", tenant=None)


@contextlib.asynccontextmanager
async def retention_loop(
    sessionmaker: async_sessionmaker[AsyncSession], interval: float
) -> AsyncIterator[None]:
    """Runs retention every `interval` seconds (first after one interval) while the server
    is up; 0 disables it. Each run is one transaction; a failed run is logged and retried at
    the next tick. With several workers each runs it; deleting what another already deleted
    is harmless."""
    if interval <= 0:
        yield
        return

    async def loop() -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                async with sessionmaker() as session:
                    results = await apply_retention(session, SERVER)
                    await session.commit()
                logger.info("retention applied: %s", results)
            except Exception:
                logger.exception("retention run failed; retrying at the next interval")

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
