"""A database connection the server drops is the client's 503 to retry, never a 500, and the
pool heals: the engine does not pre-ping (three round trips per request), so the first use of
a dead connection is where the loss shows."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from auth.models import Scope
from tests.conftest import POSTGRES_URL, client_for, make_credential


def _query(client: httpx.AsyncClient) -> Awaitable[httpx.Response]:
    return client.get("/xapi/statements")


def _single_post(client: httpx.AsyncClient) -> Awaitable[httpx.Response]:
    """A single statement, which is written by asyncpg itself (`first_row_by_driver`)."""
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
        assert (await send(client)).status_code == 200
        await _drop_connections_to(database_url.rsplit("/", 1)[1])
        responses = [await send(client) for _ in range(12)]
    # Every pooled connection is dead, so the first request meets one; each dead connection
    # fails once, and the pool replaces it.
    first: httpx.Response = responses[0]
    assert first.status_code == 503
    assert first.headers["Retry-After"] == "1"
    assert "retry" in first.json()["error"]["message"]
    assert {response.status_code for response in responses} <= {200, 503}
    assert responses[-1].status_code == 200


async def _drop_connections_to(database: str) -> None:
    admin = await asyncpg.connect(POSTGRES_URL.replace("postgresql+asyncpg", "postgresql"))
    try:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
    finally:
        await admin.close()
