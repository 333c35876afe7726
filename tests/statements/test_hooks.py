"""Later domains plug into statement storage through StatementHooks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from auth.models import Principal
from lrs.errors import BadRequest
from tests.factories import statement, with_id


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

    app.state.statement_hooks.after_store.append(record)
    first = with_id()
    await client.post("/xapi/statements", json=first)
    second = with_id()
    await client.post("/xapi/statements", json=[first, second])
    assert seen == [first["id"], second["id"]]
