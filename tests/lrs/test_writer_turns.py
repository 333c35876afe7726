"""On SQLite a process's writes of statements and documents take turns before they ask for
the database's one write lock (lrs.db.writer_turn); PostgreSQL writes do not wait for each
other."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from auth.models import Scope
from tests.conftest import client_for, make_credential
from tests.factories import ACTIVITY, agent, statement

STATE = {"activityId": ACTIVITY, "agent": json.dumps(agent()), "stateId": "bookmark"}
STATE_PATH = "/xapi/activities/state"
Write = Callable[[httpx.AsyncClient], Coroutine[Any, Any, httpx.Response]]

WRITES: dict[str, Write] = {
    "statement POST": lambda client: client.post("/xapi/statements", json=statement()),
    "State PUT": lambda client: client.put(STATE_PATH, params=STATE, json={"page": 3}),
    "State DELETE": lambda client: client.delete(STATE_PATH, params=STATE),
}
# Each refused by a rule of its resource, after it has begun to write.
REJECTED: dict[str, tuple[Write, int]] = {
    "statement POST": (lambda client: client.post("/xapi/statements", json={"actor": {}}), 400),
    "State PUT": (
        lambda client: client.put(
            STATE_PATH, params=STATE, json={"page": 3}, headers={"If-Match": '"stale"'}
        ),
        412,
    ),
}


@pytest.mark.parametrize("write", WRITES.values(), ids=WRITES.keys())
async def test_a_write_waits_for_its_turn_on_sqlite_only(app: FastAPI, write: Write) -> None:
    authorization, _ = await make_credential(app, [Scope.ALL])
    async with client_for(app, authorization) as client:
        turns = app.state.writer_turns
        if not app.state.settings.database_url.startswith("sqlite"):
            assert turns is None
            return
        async with turns:  # another write's turn
            waiting = asyncio.create_task(write(client))
            await asyncio.sleep(0.5)
            assert not waiting.done()
        response = await waiting
        assert response.status_code in (200, 204), response.text


@pytest.mark.parametrize(("rejected", "status"), REJECTED.values(), ids=REJECTED.keys())
async def test_a_rejected_write_passes_the_turn_on(
    app: FastAPI, rejected: Write, status: int
) -> None:
    """The request is refused; the next write still gets its turn."""
    authorization, _ = await make_credential(app, [Scope.ALL])
    async with client_for(app, authorization) as client:
        refused = await rejected(client)
        assert refused.status_code == status, refused.text
        accepted = await asyncio.wait_for(WRITES["statement POST"](client), timeout=30)
    assert accepted.status_code == 200, accepted.text
    if app.state.writer_turns is not None:
        assert not app.state.writer_turns.locked()
