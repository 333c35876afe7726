"""A single statement written alone (store.insert_alone): on PostgreSQL one SQL statement
that commits by itself, shared by the single statements that arrived while the one before
it was written; anything it cannot settle (a re-sent id, a definition that changes a stored
one, components to merge, voiding) is left to the request's transaction, which ends exactly
as it would have without it. SQLite always writes in the transaction."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from auth.models import Principal, Scope
from lrs.errors import Conflict
from lrs.versions import XAPIVersion
from statements import service, store
from statements.tables import activities, statements
from tests.conftest import client_for, id_row, make_credential, principal_of
from tests.factories import ACTIVITY, activity, agent, voiding, with_id

LESSON: dict[str, Any] = {
    "name": {"en-US": "Lesson"},
    "type": "http://adlnet.gov/expapi/activities/lesson",
}


async def _principal(app: FastAPI, scopes: list[Scope]) -> Principal:
    authorization, _ = await make_credential(app, scopes)
    return await principal_of(app, authorization)


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


async def _stored(app: FastAPI) -> int:
    """Statements another session sees: committed ones."""
    async with app.state.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(statements)) or 0)


async def _definition(app: FastAPI, activity_id: str = ACTIVITY) -> Any:
    async with app.state.sessionmaker() as session:
        text = await session.scalar(
            select(activities.c.definition).where(activities.c.activity_id == activity_id)
        )
    return None if text is None else json.loads(text)


async def _written_alone(app: FastAPI, principal: Principal, body: Any) -> bool:
    """Stores `body` in a request's session and tells whether it was committed before the
    request's commit (written alone); commits after."""
    before = await _stored(app)
    async with app.state.sessionmaker() as session:
        await _store(session, app, principal, body)
        alone = await _stored(app) > before
        await session.commit()
    assert await _stored(app) > before
    return alone


def _on_postgresql(app: FastAPI) -> bool:
    return bool(app.state.engine.dialect.name == "postgresql")


async def test_a_new_statement_is_written_alone_on_postgresql(app: FastAPI) -> None:
    """Communication 2.1.2: the statement is stored, with the Activity it introduces
    (Communication 2.5), before any COMMIT of the request on PostgreSQL."""
    principal = await _principal(app, [Scope.ALL])
    body = with_id(object=activity(**LESSON))
    assert await _written_alone(app, principal, body) == _on_postgresql(app)
    assert await _definition(app) == LESSON


@pytest.mark.parametrize(
    "sent",
    [
        {"name": {"en-US": "Lesson"}},  # part of what is known
        {"name": {"en-US": "Lesson"}, "type": "http://adlnet.gov/expapi/activities/lesson"},
    ],
)
async def test_a_definition_that_changes_nothing_goes_alone(
    app: FastAPI, sent: dict[str, Any]
) -> None:
    principal = await _principal(app, [Scope.ALL])
    known: dict[str, Any] = {**LESSON, "description": {"en-US": "About it"}}
    await _written_alone(app, principal, with_id(object=activity(**known)))
    assert await _written_alone(app, principal, with_id(object=activity(**sent))) == (
        _on_postgresql(app)
    )
    assert await _definition(app) == known


@pytest.mark.parametrize(
    ("sent", "merged"),
    [
        ({"name": {"de-DE": "Lektion"}}, {"name": {"en-US": "Lesson", "de-DE": "Lektion"}}),
        ({"name": {"en-US": "Lesson 2"}}, {"name": {"en-US": "Lesson 2"}}),
        ({"type": "http://adlnet.gov/expapi/activities/module"}, {}),
        ({"moreInfo": "https://example.com/lesson"}, {}),
        ({"extensions": {"https://example.com/x": {"a": [1, 2]}}}, {}),
        ({"description": {}}, {}),  # merging adds the empty map
    ],
)
async def test_a_definition_that_changes_a_stored_one_is_merged_in_the_transaction(
    app: FastAPI, sent: dict[str, Any], merged: dict[str, Any]
) -> None:
    """Communication 2.5: the canonical definition takes what is new; the write that changes
    it is the request's transaction, as every write was before."""
    principal = await _principal(app, [Scope.ALL])
    known: dict[str, Any] = {**LESSON, "extensions": {"https://example.com/x": {"a": [1]}}}
    await _written_alone(app, principal, with_id(object=activity(**known)))
    assert not await _written_alone(app, principal, with_id(object=activity(**sent)))
    assert await _definition(app) == {**known, **sent, **merged}


async def test_without_define_a_changed_definition_goes_alone_and_changes_nothing(
    app: FastAPI,
) -> None:
    """Communication 4.2 table 1: without `define` a statement only introduces Activities."""
    principal = await _principal(app, [Scope.STATEMENTS_WRITE, Scope.STATEMENTS_READ])
    await _written_alone(app, principal, with_id(object=activity(**LESSON)))
    changed = with_id(object=activity(name={"en-US": "Renamed"}))
    assert await _written_alone(app, principal, changed) == _on_postgresql(app)
    assert await _definition(app) == LESSON


async def test_interaction_components_are_merged_in_the_transaction(app: FastAPI) -> None:
    principal = await _principal(app, [Scope.ALL])
    choices: dict[str, Any] = {
        "interactionType": "choice",
        "choices": [{"id": "a", "description": {"en-US": "A"}}],
    }
    assert not await _written_alone(app, principal, with_id(object=activity(**choices)))
    again: dict[str, Any] = {
        **choices,
        "choices": [{"id": "a", "description": {"de-DE": "A (de)"}}],
    }
    assert not await _written_alone(app, principal, with_id(object=activity(**again)))
    assert (await _definition(app))["choices"] == [
        {"id": "a", "description": {"en-US": "A", "de-DE": "A (de)"}}
    ]


async def test_a_voiding_statement_is_written_in_the_transaction(app: FastAPI) -> None:
    principal = await _principal(app, [Scope.ALL])
    target = with_id()
    await _written_alone(app, principal, target)
    assert not await _written_alone(app, principal, voiding(target["id"]))


async def test_a_resent_statement_is_compared_in_the_transaction(app: FastAPI) -> None:
    """Communication 2.1.1.s2.b2 / 2.1.2.s2.b5: the same statement again changes nothing;
    other content under its id is a 409, and the request writes nothing."""
    principal = await _principal(app, [Scope.ALL])
    body = with_id(object=activity(**LESSON))
    await _written_alone(app, principal, body)
    async with app.state.sessionmaker() as session:
        await _store(session, app, principal, body)
        await session.commit()
    assert await _stored(app) == 1
    changed = {**body, "object": activity("http://example.com/activities/other", **LESSON)}
    async with app.state.sessionmaker() as session:
        with pytest.raises(Conflict):
            await _store(session, app, principal, changed)
    assert await _stored(app) == 1
    assert await _definition(app, "http://example.com/activities/other") is None


async def test_a_connection_that_wrote_alone_is_transactional_again(app: FastAPI) -> None:
    """One transaction per request, a rejected batch writing nothing (Communication
    2.1.2.s2.b5), also on the pooled connection a statement was just written alone on."""
    principal = await _principal(app, [Scope.ALL])
    first = with_id()
    await _written_alone(app, principal, first)
    changed = {**first, "object": activity("http://example.com/activities/other")}
    async with app.state.sessionmaker() as session:
        with pytest.raises(Conflict):
            await _store(session, app, principal, [with_id(), changed])
    assert await _stored(app) == 1


async def test_an_activity_introduced_concurrently_takes_the_later_definition(
    app: FastAPI,
) -> None:
    """Communication 2.5: a statement introducing an Activity that a concurrent, not yet
    committed request introduces too changes the definition as the later writer (or, where
    it waited to read the other's, merges with it); the other's is not kept over it."""
    principal = await _principal(app, [Scope.ALL])
    async with app.state.sessionmaker() as one, app.state.sessionmaker() as two:
        await one.connection()  # a transaction begun: this one is not written alone
        await _store(one, app, principal, with_id(object=activity(name={"en-US": "One"})))
        later = with_id(object=activity(name={"de-DE": "Zwei"}))
        waiting = asyncio.create_task(_store(two, app, principal, later))
        await asyncio.sleep(0.3)
        await one.commit()
        await waiting
        await two.commit()
    assert await _definition(app) in (
        {"name": {"de-DE": "Zwei"}},
        {"name": {"en-US": "One", "de-DE": "Zwei"}},
    )


async def _request(app: FastAPI, principal: Principal, body: Any) -> None:
    async with app.state.sessionmaker() as session:
        await _store(session, app, principal, body)
        await session.commit()


async def _sent_while_one_is_written(
    app: FastAPI,
    principal: Principal,
    bodies: list[Any],
    done_while_held: list[bool] | None = None,
) -> list[BaseException | None]:
    """Stores each of `bodies` in a request of its own while a single statement's write is
    on its way, held there by a row lock (its id registered by a transaction that ends
    later), so that they wait and are written after it; returns each one's error, if any.
    `done_while_held` receives whether each request had finished while the write was held."""
    first = with_id()
    async with app.state.sessionmaker() as holder:
        await holder.execute(id_row(principal.tenant_id, first, pending=True))
        held = asyncio.create_task(_request(app, principal, first))
        await asyncio.sleep(0.2)
        waiting = [asyncio.create_task(_request(app, principal, body)) for body in bodies]
        await asyncio.sleep(0.2)
        assert not held.done()
        if done_while_held is not None:  # time enough for those not held to finish
            await asyncio.wait(waiting, timeout=2)
            done_while_held.extend(request.done() for request in waiting)
        await holder.rollback()
    await held
    return await asyncio.gather(*waiting, return_exceptions=True)


async def _writes(app: FastAPI, bodies: list[Any]) -> int:
    """How many transactions wrote the statements of `bodies` (PostgreSQL's xmin)."""
    ids = [uuid.UUID(body["id"]) for body in bodies]
    async with app.state.sessionmaker() as session:
        query = text(
            "SELECT count(DISTINCT CAST(xmin AS text)) FROM statements"
            " WHERE statement_id = ANY(:ids)"
        )
        return int(await session.scalar(query, {"ids": ids}) or 0)


def _postgresql_only(app: FastAPI) -> None:
    if not _on_postgresql(app):
        pytest.skip("SQLite writes every statement in its request's transaction")


async def test_statements_that_arrive_during_a_write_are_written_together(
    app: FastAPI,
) -> None:
    """Communication 2.1.2: each is stored, once, with its index rows (found by its agent and
    by its Activity, Communication 2.1.3); one SQL statement wrote them all."""
    _postgresql_only(app)
    authorization, _ = await make_credential(app, [Scope.ALL])
    principal = await principal_of(app, authorization)
    bodies = [with_id(actor=agent(f"learner-{n}")) for n in range(10)]
    assert await _sent_while_one_is_written(app, principal, bodies) == [None] * 10
    assert await _writes(app, bodies) == 1
    async with client_for(app, authorization) as client:
        found = (await client.get("/xapi/statements", params={"activity": ACTIVITY})).json()
        by_agent = await client.get(
            "/xapi/statements", params={"agent": json.dumps(agent("learner-7"))}
        )
    assert len(found["statements"]) == 11
    assert [s["id"] for s in by_agent.json()["statements"]] == [bodies[7]["id"]]


async def test_in_a_shared_write_a_resent_id_is_compared_in_its_own_transaction(
    app: FastAPI,
) -> None:
    """Communication 2.1.2.s2.b5: the same statement again changes nothing; other content
    under its id is a 409 whose request writes nothing (not the Activity it would have
    introduced), while the new statement beside it is stored."""
    _postgresql_only(app)
    principal = await _principal(app, [Scope.ALL])
    stored = with_id()
    await _request(app, principal, stored)
    other = "http://example.com/activities/other"
    changed = {**stored, "object": activity(other, name={"en-US": "Other"})}
    new = with_id()
    errors = await _sent_while_one_is_written(app, principal, [changed, new, stored])
    assert [type(error) for error in errors] == [Conflict, type(None), type(None)]
    assert await _stored(app) == 3
    assert await _definition(app, other) is None


async def test_in_a_shared_write_an_activity_is_introduced_once(app: FastAPI) -> None:
    """Communication 2.5: statements that introduce the same Activity with the same
    definition share a write; one with another definition of it goes after them and is
    merged, as a statement sent after them would be."""
    _postgresql_only(app)
    principal = await _principal(app, [Scope.ALL])
    same = [with_id(object=activity(**LESSON)) for _ in range(2)]
    other = with_id(object=activity(name={"de-DE": "Lektion"}))
    assert await _sent_while_one_is_written(app, principal, [*same, other]) == [None] * 3
    assert await _writes(app, same) == 1
    assert await _definition(app) == {**LESSON, "name": {"en-US": "Lesson", "de-DE": "Lektion"}}


async def test_in_a_shared_write_the_same_id_twice_is_stored_once(app: FastAPI) -> None:
    """Communication 2.1.2.s2.b5 between two requests that wait together: the same statement
    twice is stored once; the same id with other content is one request's 409."""
    _postgresql_only(app)
    principal = await _principal(app, [Scope.ALL])
    twice = with_id()
    once = with_id()
    changed = {**once, "verb": {"id": "http://adlnet.gov/expapi/verbs/attended"}}
    errors = await _sent_while_one_is_written(app, principal, [twice, twice, once, changed])
    assert [type(error) for error in errors] == [type(None)] * 3 + [Conflict]
    assert await _stored(app) == 3
    assert await _writes(app, [twice, once]) == 1  # the second of each went after them


async def test_one_that_finds_a_full_write_waiting_goes_to_its_own_transaction(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Communication 2.1.2: a statement that finds a whole write's worth waiting (here two)
    is stored by its own request's transaction, which its deadline bounds, not held behind
    a write that waits: those two finish while the write before them is still held."""
    _postgresql_only(app)
    monkeypatch.setattr(store, "_ALONE_GROUP", 2)
    principal = await _principal(app, [Scope.ALL])
    bodies = [with_id() for _ in range(4)]
    finished: list[bool] = []
    assert await _sent_while_one_is_written(app, principal, bodies, finished) == [None] * 4
    assert finished == [False, False, True, True]
    assert await _writes(app, bodies[:2]) == 1
    assert await _stored(app) == 5


async def test_a_shared_write_that_fails_leaves_each_statement_to_its_own_request(
    app: FastAPI,
) -> None:
    """One transaction per request: a statement the database refuses (a verb id past its
    column, which the app answers 400) fails its own request, not the others it waited with."""
    _postgresql_only(app)
    principal = await _principal(app, [Scope.ALL])
    refused = with_id(verb={"id": "http://example.com/verbs/" + "v" * 2048})
    bodies = [with_id(), refused, with_id()]
    errors = await _sent_while_one_is_written(app, principal, bodies)
    assert [type(error) for error in errors] == [type(None), DBAPIError, type(None)]
    assert await _stored(app) == 3
