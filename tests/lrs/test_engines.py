"""How the service talks to its database: the engines' connection settings."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from sqlalchemy import text


async def test_postgresql_connections_run_without_jit(app: FastAPI) -> None:
    """JIT compiling costs ~10 ms of backend CPU on a statement write that runs in about one
    (measured with log_min_duration_statement while profiling single POSTs)."""
    if app.state.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no JIT")
    async with app.state.engine.connect() as connection:
        assert await connection.scalar(text("SHOW jit")) == "off"
