"""Statements written at the same time: stored once, never lost, not deadlocked, and voiding
holds whichever of a target and its voiding statement is written first."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.models import Principal, Scope
from lrs.versions import XAPIVersion
from statements import service
from statements.tables import statements
from tests.conftest import client_for, make_credential, principal_of
from tests.factories import activity, agent, statement, voiding, with_id

CONCURRENT = 8


async def _store(session: AsyncSession, app: FastAPI, principal: Principal, body: Any) -> None:
    await service.store_statements(
        session,
        principal,
        XAPIVersion.V2,
        app.state.statement_hooks,
        content_type="application/json",
        body=json.dumps(body).encode(),
        max_batch=1000,
        max_attachment_bytes=1024,
    )


async def _stored_count(app: FastAPI) -> int:
    async with app.state.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(statements)) or 0)


@pytest.mark.parametrize("target_first", [True, False])
async def test_target_and_voiding_statement_written_at_once(
    app: FastAPI, target_first: bool
) -> None:
    """Data 2.3.2.s2.b3: a statement is voided when a stored voiding statement targets it,
    also when the two are written by concurrent requests. The second write waits for the
    first (they meet on the target id's row) instead of each missing the other."""
    authorization, _ = await make_credential(app, [Scope.ALL])
    principal = await principal_of(app, authorization)
    target = with_id()
    void = voiding(target["id"])
    first, second = (target, void) if target_first else (void, target)
    async with app.state.sessionmaker() as one, app.state.sessionmaker() as two:
        # Transactions begun (as after a domain's read), so that neither statement is
        # written alone and committed at once (store.insert_alone): the two overlap.
        await one.connection()
        await two.connection()
        await _store(one, app, principal, first)

        async def write_second() -> None:
            await _store(two, app, principal, second)
            await two.commit()

        waiting = asyncio.create_task(write_second())
        await asyncio.sleep(0.3)
        assert not waiting.done()
        await one.commit()
        await waiting
    async with client_for(app, authorization, "2.0.0") as client:
        by_id = await client.get("/xapi/statements", params={"statementId": target["id"]})
        assert by_id.status_code == 404
        voided = await client.get("/xapi/statements", params={"voidedStatementId": target["id"]})
        assert voided.status_code == 200


async def test_identical_concurrent_puts_store_one_statement(client: httpx.AsyncClient) -> None:
    """Communication 2.1.1.s2.b2 / 2.1.2.s2.b5: the same statement sent again is stored once
    and answered as stored, also when the copies arrive at the same time."""
    body = with_id()
    answers = await asyncio.gather(
        *(
            client.put("/xapi/statements", params={"statementId": body["id"]}, json=body)
            for _ in range(CONCURRENT)
        )
    )
    assert [answer.status_code for answer in answers] == [204] * CONCURRENT
    found = await client.get("/xapi/statements", params={"agent": json.dumps(body["actor"])})
    assert [s["id"] for s in found.json()["statements"]] == [body["id"]]


async def test_conflicting_concurrent_puts_store_one_and_refuse_the_rest(
    client: httpx.AsyncClient,
) -> None:
    """Communication 2.1.1.s2.b3: another statement under a stored id is a 409; of requests
    racing with different content under one id exactly one is stored."""
    body = with_id()
    variants = [{**body, "result": {"response": f"answer {index}"}} for index in range(CONCURRENT)]
    answers = await asyncio.gather(
        *(
            client.put("/xapi/statements", params={"statementId": body["id"]}, json=variant)
            for variant in variants
        )
    )
    statuses = [answer.status_code for answer in answers]
    assert sorted(statuses) == [204] + [409] * (CONCURRENT - 1)
    winner = variants[statuses.index(204)]
    stored = (await client.get("/xapi/statements", params={"statementId": body["id"]})).json()
    assert stored["result"] == winner["result"]


async def test_overlapping_concurrent_batches_all_succeed(app: FastAPI) -> None:
    """Batches sharing agents and Activities, each changing the Activities' definitions, are
    all stored at once: no deadlock, no failed request (one transaction each)."""
    authorization, _ = await make_credential(app, [Scope.ALL])
    learners = [agent(f"shared-{index}") for index in range(3)]
    courses = [f"http://example.com/shared/{index}" for index in range(3)]

    def batch(number: int) -> list[dict[str, Any]]:
        return [
            statement(
                actor=learners[index % 3],
                object=activity(courses[(index + number) % 3], name={"en-US": f"v{number}"}),
            )
            for index in range(30)
        ]

    async with client_for(app, authorization, "2.0.0") as client:
        answers = await asyncio.gather(
            *(client.post("/xapi/statements", json=batch(n)) for n in range(CONCURRENT))
        )
    assert [answer.status_code for answer in answers] == [200] * CONCURRENT
    assert await _stored_count(app) == 30 * CONCURRENT


async def test_batches_sent_again_in_any_order_do_not_deadlock(client: httpx.AsyncClient) -> None:
    """Statements sent again lock their id rows (to tell a re-send from a pending id), in id
    order whatever the batch order: batches re-sent concurrently in opposite orders all
    succeed rather than deadlock."""
    batch = [with_id() for _ in range(20)]
    assert (await client.post("/xapi/statements", json=batch)).status_code == 200
    answers = await asyncio.gather(
        *(
            client.post("/xapi/statements", json=batch if n % 2 else batch[::-1])
            for n in range(CONCURRENT)
        )
    )
    assert [answer.status_code for answer in answers] == [200] * CONCURRENT
