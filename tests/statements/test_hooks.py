"""Later domains plug into statement storage through StatementHooks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from auth.models import Principal
from lrs.errors import BadRequest
from statements.service import AfterStore
from tests.factories import statement, voiding, with_id


async def test_check_rejects_before_anything_is_stored(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    async def refuse_passed(
        _session: AsyncSession, _principal: Principal, statements: Sequence[dict[str, Any]]
    ) -> None:
        if any(s["verb"]["id"].endswith("/passed") for s in statements):
            raise BadRequest("passed needs a score", "statement.result")

    app.state.statement_hooks.checks.append(refuse_passed)
    batch = [with_id(), statement(verb={"id": "http://adlnet.gov/expapi/verbs/passed"})]
    response = await client.post("/xapi/statements", json=batch)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "statement.result"
    assert (await client.get("/xapi/statements")).json()["statements"] == []


async def test_after_store_sees_only_new_statements_in_the_transaction(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    seen: list[str] = []

    async def record(
        session: AsyncSession, _principal: Principal, statements: Sequence[dict[str, Any]]
    ) -> None:
        assert session.in_transaction()
        seen.extend(s["id"] for s in statements)

    app.state.statement_hooks.after_store.append(AfterStore(record))
    first = with_id()
    await client.post("/xapi/statements", json=first)
    second = with_id()
    await client.post("/xapi/statements", json=[first, second])
    assert seen == [first["id"], second["id"]]


async def test_a_batch_with_nothing_new_calls_no_after_store_hook(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    calls: list[int] = []

    async def record(
        _session: AsyncSession, _principal: Principal, statements: Sequence[dict[str, Any]]
    ) -> None:
        calls.append(len(statements))

    app.state.statement_hooks.after_store.append(AfterStore(record))
    batch = [with_id(), with_id()]
    await client.post("/xapi/statements", json=batch)
    assert (await client.post("/xapi/statements", json=batch)).status_code == 200
    assert calls == [2]


async def test_a_failing_after_store_hook_leaves_no_row_behind(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """One transaction per request: statements, their index rows, Activity definitions and
    voiding written before an after-store hook fails are all rolled back."""
    target = with_id()
    assert (await client.post("/xapi/statements", json=target)).status_code == 200
    before = await _row_counts(app)

    async def fail(
        _session: AsyncSession, _principal: Principal, _statements: Sequence[dict[str, Any]]
    ) -> None:
        raise BadRequest("refused after storing", "statement")

    app.state.statement_hooks.after_store.append(AfterStore(fail))
    batch = [
        with_id(object={"id": "http://example.com/new-activity", "definition": {"type": "x:t"}}),
        voiding(target["id"]),
    ]
    assert (await client.post("/xapi/statements", json=batch)).status_code == 400
    assert await _row_counts(app) == before
    stored = await client.get("/xapi/statements", params={"statementId": target["id"]})
    assert stored.status_code == 200  # not voided


async def _row_counts(app: FastAPI) -> dict[str, int]:
    tables = ("statements", "statement_agents", "statement_activities", "activities")
    async with app.state.engine.connect() as connection:
        return {
            table: int(await connection.scalar(text(f"SELECT count(*) FROM {table}")))  # noqa: S608
            for table in tables
        }
