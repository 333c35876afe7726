"""The server's hourly maintenance beside retention: planner statistics."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import text

from auth.models import Scope
from tenancy.retention import refresh_statistics
from tests.conftest import client_for, make_credential
from tests.factories import statement


async def test_sqlite_statistics_are_refreshed(app: FastAPI) -> None:
    """SQLite analyses nothing by itself: the refresh leaves statistics for the statement
    tables' indexes. On PostgreSQL (autovacuum's job) it changes nothing and must not fail."""
    authorization, _ = await make_credential(app, [Scope.ALL])
    async with client_for(app, authorization) as client:
        response = await client.post("/xapi/statements", json=[statement() for _ in range(20)])
        assert response.status_code == 200
    async with app.state.sessionmaker() as session:
        await refresh_statistics(session)
        await session.commit()
        if session.get_bind().dialect.name != "sqlite":
            return
        analysed = await session.scalars(text("SELECT DISTINCT tbl FROM sqlite_stat1"))
        assert {"statements", "statement_agents", "statement_activities"} <= set(analysed)
