"""A reporting client and statements of the kinds the learner models read."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from analytics import memory, store
from analytics.tables import analytics_states, analytics_totals
from auth import store as auth_store
from auth.models import Role, Scope
from lrs.db import create_sessionmaker
from tenancy.service import Actor, apply_retention
from tests.conftest import client_for, make_credential

ADL = "http://adlnet.gov/expapi/verbs/"
COURSE = "https://courses.example.com/safety"
QUIZ = f"{COURSE}/quiz"
ITEM = f"{QUIZ}/q1"


def learner(name: str) -> dict[str, Any]:
    return {"objectType": "Agent", "mbox": f"mailto:{name}@corp.example.com"}


def key_of(name: str) -> str:
    return f"mbox:mailto:{name}@corp.example.com"


def said(
    name: str,
    verb: str,
    activity: str,
    timestamp: str,
    *,
    result: dict[str, Any] | None = None,
    parents: tuple[str, ...] = (),
    grouping: tuple[str, ...] = (),
    statement_id: str | None = None,
) -> dict[str, Any]:
    """A statement by learner `name`; `verb` is an ADL verb's last segment."""
    made: dict[str, Any] = {
        "id": statement_id or str(uuid.uuid4()),
        "actor": learner(name),
        "verb": {"id": ADL + verb},
        "object": {"objectType": "Activity", "id": activity},
        "timestamp": timestamp,
    }
    context_activities = {}
    if parents:
        context_activities["parent"] = [{"id": parent} for parent in parents]
    if grouping:
        context_activities["grouping"] = [{"id": group} for group in grouping]
    if context_activities:
        made["context"] = {"contextActivities": context_activities}
    if result is not None:
        made["result"] = result
    return made


def answer(name: str, correct: bool, timestamp: str, item: str = ITEM, **extra: Any) -> Any:
    return said(
        name,
        "answered",
        item,
        timestamp,
        result={"success": correct, **extra},
        parents=(QUIZ,),
        grouping=(COURSE,),
    )


def voiding(target: str, name: str = "admin") -> dict[str, Any]:
    return {
        "actor": learner(name),
        "verb": {"id": ADL + "voided"},
        "object": {"objectType": "StatementRef", "id": target},
    }


@pytest.fixture
async def reporter(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Writes statements and reads the views (all + reports/read)."""
    authorization, _ = await make_credential(app, [Scope.ALL, Scope.REPORTS_READ])
    async with client_for(app, authorization, "2.0.0") as client:
        yield client


async def post(client: httpx.AsyncClient, statements: list[dict[str, Any]]) -> None:
    response = await client.post("/xapi/statements", json=statements)
    assert response.status_code == 200, response.text


async def expire_before(app: FastAPI, cutoff: datetime) -> dict[str, Any]:
    """Retention of the reporter's tenant run as if 30 days after `cutoff`, with a 30-day
    policy: statements stored before `cutoff` are deleted."""
    admin, _ = await make_credential(app, [], "acme", role=Role.ADMIN)
    async with client_for(app, admin) as client:
        response = await client.patch("/admin/tenants/acme", json={"retention_days": 30})
    assert response.status_code == 200, response.text
    async with app.state.sessionmaker() as session:
        tenant = await auth_store.tenant_by_name(session, "acme")
        assert tenant is not None
        actor = Actor("test", "test", tenant)
        results = await apply_retention(
            session, actor, app.state.statement_hooks, cutoff + timedelta(days=30)
        )
        await session.commit()
    return results


async def saved_models(app: FastAPI) -> list[dict[str, Any]]:
    """Every saved learner model, as stored, in key order, once every queued statement is
    folded in."""
    await app.state.analytics.drain(app.state.sessionmaker, wait=True)
    async with create_sessionmaker(app.state.engine)() as session:
        rows = await session.execute(
            select(analytics_states).order_by(
                analytics_states.c.tenant_id,
                analytics_states.c.learner,
                analytics_states.c.activity_id,
            )
        )
        return [dict(row._mapping) for row in rows]


async def totals_match_a_recount(app: FastAPI) -> int:
    """The cohort totals kept as models changed equal those counted from the models now
    (sums of seconds and mastery to float rounding); returns how many there are."""
    await app.state.analytics.drain(app.state.sessionmaker, wait=True)
    order = (analytics_totals.c.tenant_id, analytics_totals.c.activity_id)
    async with app.state.sessionmaker() as session:
        kept = [
            dict(row._mapping)
            for row in await session.execute(select(analytics_totals).order_by(*order))
        ]
        tenant_ids = sorted({row["tenant_id"] for row in kept} | await _model_tenants(session))
        await store.recount_totals(session, tenant_ids)
        counted = [
            dict(row._mapping)
            for row in await session.execute(select(analytics_totals).order_by(*order))
        ]
        await session.rollback()
    assert kept == [pytest.approx(row) for row in counted]
    return len(kept)


async def _model_tenants(session: Any) -> set[int]:
    return set(await session.scalars(select(analytics_states.c.tenant_id).distinct()))


# A learner whose memories grow slowly (FSRS's defaults but for w[8], the growth of stability
# at each recall, and a steeper curve): what a tenant's own parameters should learn.
SLOW_GROWTH = memory.Forgetting(
    [*memory.DEFAULT.parameters[:8], 0.6, *memory.DEFAULT.parameters[9:20], 0.5]
)


def simulated_reviews(
    curves: Sequence[memory.Forgetting],
    seed: int,
    *,
    items: int = 110,
    reviews: int = 8,
    switch_day: float | None = None,
) -> list[memory.History]:
    """Recall events drawn from known FSRS curves (seeded): `items` items begun over 120
    days, each reviewed `reviews` times at 0.5-3 times its stability. From `switch_day` on,
    recall follows the second curve (a cohort whose memory changed)."""
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    histories: list[memory.History] = []
    for _ in range(items):
        at = start + timedelta(days=rng.uniform(0, 120))
        remembered: list[memory.Memory | None] = [None] * len(curves)
        history: list[tuple[datetime, bool, float | None]] = []
        for _ in range(reviews):
            late = switch_day is not None and at >= start + timedelta(days=switch_day)
            which = 1 if late else 0
            now = remembered[which]
            recall = 0.8 if now is None else curves[which].retrievability(now, at)
            correct = rng.random() < recall
            history.append((at, correct, None))
            reviewed = [
                curve.review(before, correct, None, at)
                for curve, before in zip(curves, remembered, strict=True)
            ]
            remembered = [*reviewed]
            at += timedelta(days=max(1.0, reviewed[which].stability * rng.uniform(0.5, 3)))
        histories.append(history)
    return histories
