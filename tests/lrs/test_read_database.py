"""LRS_READ_DATABASE_URL: statement, Activity and Agent queries read a replica; writes,
documents and credentials stay on the primary.

The replica here is a second database at the same schema that the test brings up to date by
copying every row, as replication would; a real deployment points it at a streaming standby.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import delete, insert, select

from auth.models import Scope
from lrs.db import all_tables, create_engine, migrate
from lrs.settings import Settings
from statements import routes as statement_routes
from tests.conftest import _empty_database, client_for, make_credential
from tests.factories import ACTIVITY, activity, agent, with_id


@pytest.fixture
async def replica_url(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    backend = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    async for url in _empty_database(backend, tmp_path_factory):
        engine = create_engine(url)
        await migrate(engine)
        await engine.dispose()
        yield url


@pytest.fixture
def settings(database_url: str, replica_url: str) -> Settings:
    """The conftest `app`, with the replica as its read database."""
    return Settings(
        environment="test",
        database_url=database_url,
        read_database_url=replica_url,
        admin_key=None,
    )


async def replicate(app: FastAPI) -> None:
    """Makes the replica an exact copy of the primary."""
    tables = all_tables().sorted_tables
    async with app.state.engine.connect() as source, app.state.read_engine.begin() as target:
        for table in reversed(tables):
            await target.execute(delete(table))
        for table in tables:
            rows = [dict(row._mapping) for row in await source.execute(select(table))]
            if rows:
                await target.execute(insert(table), rows)


async def test_queries_read_the_replica(app: FastAPI) -> None:
    """Statements written go to the primary; GET /statements, /activities and /agents show
    them once the replica has them, and not before."""
    authorization, _ = await make_credential(app, [Scope.ALL])
    learner = agent("replicated")
    lesson = activity(ACTIVITY, name={"en-US": "Lesson"})
    body = with_id(actor=learner, object=lesson)
    async with client_for(app, authorization) as client:
        assert (await client.post("/xapi/statements", json=body)).status_code == 200
        before = await client.get("/xapi/statements", params={"statementId": body["id"]})
        assert before.status_code == 404
        known = await client.get("/xapi/activities", params={"activityId": ACTIVITY})
        assert "definition" not in known.json()
        await replicate(app)
        known = await client.get("/xapi/activities", params={"activityId": ACTIVITY})
        assert known.json()["definition"] == {"name": {"en-US": "Lesson"}}
        after = await client.get("/xapi/statements", params={"statementId": body["id"]})
        assert after.status_code == 200
        assert after.json()["id"] == body["id"]
        listed = await client.get("/xapi/statements", params={"agent": json.dumps(learner)})
        assert [s["id"] for s in listed.json()["statements"]] == [body["id"]]
        person = await client.get("/xapi/agents", params={"agent": json.dumps(learner)})
        assert person.json()["mbox"] == [learner["mbox"]]


async def test_writes_and_documents_stay_on_the_primary(app: FastAPI) -> None:
    """A state document is read back at once (documents never read the replica), and a
    re-sent statement is checked against the primary, not the stale replica."""
    authorization, _ = await make_credential(app, [Scope.ALL])
    params = {
        "activityId": ACTIVITY,
        "agent": json.dumps(agent("doc")),
        "stateId": "bookmark",
    }
    async with client_for(app, authorization) as client:
        put = await client.put("/xapi/activities/state", params=params, json={"page": 3})
        assert put.status_code == 204
        assert (await client.get("/xapi/activities/state", params=params)).json() == {"page": 3}
        body = with_id()
        assert (await client.post("/xapi/statements", json=body)).status_code == 200
        changed = {**body, "verb": {"id": "http://example.com/other"}}
        assert (await client.post("/xapi/statements", json=changed)).status_code == 409


async def test_consistent_through_is_no_later_than_now(app: FastAPI) -> None:
    """Communication 2.1.3.s2.b3: Consistent-Through on every Statement GET; a database that
    is not a standby replays nothing, so the replica read counts as current."""
    authorization, _ = await make_credential(app, [Scope.ALL])
    async with client_for(app, authorization) as client:
        started = datetime.now(UTC)
        response = await client.get("/xapi/statements")
    through = datetime.fromisoformat(
        response.headers["X-Experience-API-Consistent-Through"].replace("Z", "+00:00")
    )
    assert started <= through <= datetime.now(UTC)


async def test_a_404_names_how_far_the_replica_is(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A statement not yet on a lagging replica is a 404 whose Consistent-Through is the
    replica's, not the time of the answer (checked against a real standby with paused
    replay, README); here the replica's position is fixed in the past."""
    replayed = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)

    async def lagging(_request: Any, _session: Any) -> datetime:
        return replayed

    monkeypatch.setattr(statement_routes, "read_through", lagging)
    authorization, _ = await make_credential(app, [Scope.ALL])
    async with client_for(app, authorization) as client:
        body = with_id()
        await client.post("/xapi/statements", json=body)
        missing = await client.get("/xapi/statements", params={"statementId": body["id"]})
        page = await client.get("/xapi/statements")
    for response in (missing, page):
        assert response.headers["X-Experience-API-Consistent-Through"] == (
            "2026-01-02T03:04:05.678901Z"
        )
    assert missing.status_code == 404
