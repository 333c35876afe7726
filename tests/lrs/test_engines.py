"""How the service talks to its database: the engines' connection settings and which engine
each kind of request uses."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


async def _setting(engine: AsyncEngine, name: str) -> str:
    async with engine.connect() as connection:
        return str(await connection.scalar(text(f"SHOW {name}")))


async def test_postgresql_writes_plan_once_and_queries_per_execution(app: FastAPI) -> None:
    """The primary (writes, documents, credentials) keeps one plan per prepared statement;
    statement queries, whose best plan depends on the values, are planned each time on an
    engine of their own; neither compiles with JIT (~10 ms for a statement that runs in one).
    SQLite has one engine and no such settings."""
    if app.state.engine.dialect.name != "postgresql":
        assert app.state.read_engine is app.state.engine
        return
    assert app.state.read_engine is not app.state.engine
    assert await _setting(app.state.engine, "plan_cache_mode") == "force_generic_plan"
    assert await _setting(app.state.read_engine, "plan_cache_mode") == "auto"
    for engine in (app.state.engine, app.state.read_engine):
        assert await _setting(engine, "jit") == "off"
