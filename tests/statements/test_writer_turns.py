"""On SQLite a process's statement writes take turns before they ask for the database's one
write lock (lrs.db.writer_turn); PostgreSQL writes do not wait for each other."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI

from auth.models import Scope
from tests.conftest import client_for, make_credential
from tests.factories import statement


async def test_a_write_waits_for_its_turn_on_sqlite_only(app: FastAPI) -> None:
    authorization, _ = await make_credential(app, [Scope.ALL])
    async with client_for(app, authorization) as client:
        turns = app.state.writer_turns
        if not app.state.settings.database_url.startswith("sqlite"):
            assert turns is None
            return
        async with turns:  # another write's turn
            waiting = asyncio.create_task(client.post("/xapi/statements", json=statement()))
            await asyncio.sleep(0.5)
            assert not waiting.done()
        response = await waiting
        assert response.status_code == 200, response.text


async def test_a_rejected_write_passes_the_turn_on(app: FastAPI) -> None:
    """Data 2.2 rules reject the batch; the next write still gets its turn."""
    authorization, _ = await make_credential(app, [Scope.ALL])
    async with client_for(app, authorization) as client:
        rejected = await client.post("/xapi/statements", json={"actor": {}})
        assert rejected.status_code == 400
        accepted = await asyncio.wait_for(
            client.post("/xapi/statements", json=statement()), timeout=30
        )
    assert isinstance(accepted, httpx.Response)
    assert accepted.status_code == 200, accepted.text
    if app.state.writer_turns is not None:
        assert not app.state.writer_turns.locked()
