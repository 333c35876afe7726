"""A database connection the server drops is the client's 503 to retry, never a 500, and the
pool heals: the engine does not pre-ping (three round trips per request), so the first use of
a dead connection is where the loss shows."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import httpx
import pytest
from fastapi import FastAPI, Request
from sqlalchemy import text

from auth.models import Scope
from lrs.db import close_request_sessions, get_session
from lrs.settings import Settings
from tests.conftest import POSTGRES_URL, client_for, make_credential, running_app


def _query(client: httpx.AsyncClient) -> Awaitable[httpx.Response]:
    return client.get("/xapi/statements")


def _single_post(client: httpx.AsyncClient) -> Awaitable[httpx.Response]:
    """A single statement, written on a pool connection by asyncpg (`pooled_driver_connection`)."""
    statement = {
        "actor": {"mbox": "mailto:a@example.com"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/attended"},
        "object": {"id": f"http://example.com/meetings/{uuid.uuid4()}"},
    }
    return client.post("/xapi/statements", json=statement)


@pytest.mark.parametrize("send", [_query, _single_post])
async def test_dropped_connection_is_503_then_heals(
    app: FastAPI, database_url: str, send: Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no server that can drop a connection")
    authorization, _ = await make_credential(app, [Scope.ALL])
    async with client_for(app, authorization) as client:
        # Concurrent queries, so that the pool holds several connections when they are
        # dropped (single POSTs that arrive together share a write and its connection).
        warm = await asyncio.gather(*(_query(client) for _ in range(4)))
        assert {response.status_code for response in warm} == {200}
        pooled = app.state.engine.pool.checkedin()
        await _drop_connections_to(database_url.rsplit("/", 1)[1])
        first = await send(client)
        # Concurrent queries, each on a connection of its own: the pooled ones, unless the
        # pool was told they are suspect.
        burst = await asyncio.gather(*(_query(client) for _ in range(8)))
        after = [await send(client) for _ in range(4)]
    # Every pooled connection is dead, so the first request meets one; that failure tells
    # the pool that the connections made before it are suspect too, so the requests after
    # it get new ones (telling only of the one, the burst met the others).
    assert pooled >= 3
    assert first.status_code == 503
    assert first.headers["Retry-After"] == "1"
    assert "retry" in first.json()["error"]["message"]
    assert [response.status_code for response in burst] == [200] * 8
    assert [response.status_code for response in after] == [200] * 4


async def _drop_connections_to(database: str) -> None:
    await _admin_execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = $1 AND pid <> pg_backend_pid()",
        database,
    )


async def _terminate(pid: int) -> None:
    await _admin_execute("SELECT pg_terminate_backend($1)", pid)


async def _admin_execute(query: str, argument: object) -> None:
    admin = await asyncpg.connect(POSTGRES_URL.replace("postgresql+asyncpg", "postgresql"))
    try:
        await admin.execute(query, argument)
    finally:
        await admin.close()


async def test_a_session_whose_connection_died_in_a_transaction_is_dropped(
    database_url: str,
) -> None:
    """Closing rolls back, which a dead connection cannot do: the request's end drops the
    connection instead of raising after the answer or leaving it checked out."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no server that can drop a connection")
    settings = Settings(environment="test", database_url=database_url, admin_key=None)
    async with running_app(settings.model_copy(update={"analytics_enabled": False})) as app:
        scope = {"type": "http", "app": app, "headers": []}
        session = await get_session(Request(scope))
        pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        await _terminate(pid)
        await close_request_sessions(scope)
        assert app.state.engine.pool.checkedout() == 0
