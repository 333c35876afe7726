"""All SQL of the learner models."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    bindparam,
    case,
    delete,
    func,
    select,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from analytics import bkt
from analytics.evidence import Evidence
from analytics.learner import ActivityState
from analytics.memory import Memory
from analytics.tables import analytics_evidence, analytics_parameters, analytics_states
from lrs.db import UTCDateTime, dialect_insert

Key = tuple[str, str]  # (learner, activity id)
_CHUNK = 400  # keys or rows per statement: under both drivers' bound-parameter limits

_EVIDENCE_COLUMNS = (
    "learner", "activity_id", "at", "statement_id", "relation", "verb", "correct", "scaled",
    "progress", "completed", "seconds", "registration",
)  # fmt: skip


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _keys_in(keys: Sequence[Key], table: Any = analytics_states) -> ColumnElement[bool]:
    return tuple_(table.c.learner, table.c.activity_id).in_(keys)


async def insert_evidence(session: AsyncSession, tenant_id: int, items: Sequence[Evidence]) -> None:
    for chunk in _chunks(items):
        await session.execute(
            analytics_evidence.insert(),
            [
                {"tenant_id": tenant_id} | {name: getattr(item, name) for name in _EVIDENCE_COLUMNS}
                for item in chunk
            ],
        )


async def retract_evidence(
    session: AsyncSession, tenant_id: int, statement_ids: Collection[uuid.UUID]
) -> set[Key]:
    """Deletes the evidence of voided statements; returns the models it was part of."""
    touched: set[Key] = set()
    for chunk in _chunks(sorted(statement_ids)):
        result = await session.execute(
            delete(analytics_evidence)
            .where(
                analytics_evidence.c.tenant_id == tenant_id,
                analytics_evidence.c.statement_id.in_(chunk),
            )
            .returning(analytics_evidence.c.learner, analytics_evidence.c.activity_id)
        )
        touched.update((row.learner, row.activity_id) for row in result)
    return touched


def _evidence(row: Row[Any]) -> Evidence:
    return Evidence(**{name: getattr(row, name) for name in _EVIDENCE_COLUMNS})


async def evidence_for(
    session: AsyncSession, tenant_id: int, keys: Collection[Key]
) -> dict[Key, list[Evidence]]:
    """The evidence of each model, in fold order."""
    found: dict[Key, list[Evidence]] = {key: [] for key in keys}
    for chunk in _chunks(sorted(keys)):
        result = await session.execute(
            select(analytics_evidence).where(
                analytics_evidence.c.tenant_id == tenant_id, _keys_in(chunk, analytics_evidence)
            )
        )
        for row in result:
            found[row.learner, row.activity_id].append(_evidence(row))
    for items in found.values():
        items.sort(key=lambda item: item.order)
    return found


async def evidence_in_order(
    session: AsyncSession, tenant_id: int, page: int = 5000
) -> AsyncIterator[list[Evidence]]:
    """A tenant's evidence by model, each model's in fold order (for a rebuild)."""
    c = analytics_evidence.c
    order = (c.learner, c.activity_id, c.at, c.statement_id)
    after: tuple[Any, ...] | None = None
    while True:
        query = select(analytics_evidence).where(c.tenant_id == tenant_id)
        if after is not None:
            query = query.where(tuple_(*order) > tuple_(*after))
        rows = (await session.execute(query.order_by(*order).limit(page))).all()
        if not rows:
            return
        yield [_evidence(row) for row in rows]
        last = rows[-1]
        after = (last.learner, last.activity_id, last.at, last.statement_id)


def _state(row: Row[Any]) -> ActivityState:
    memory = None
    if row.memory_state is not None:
        memory = Memory(
            state=row.memory_state,
            step=row.memory_step,
            stability=row.stability,
            difficulty=row.difficulty,
            due=row.memory_due,
            last_review=row.last_review,
            reviews=row.reviews,
        )
    return ActivityState(
        learner=row.learner,
        activity_id=row.activity_id,
        first_at=row.first_at,
        last_at=row.last_at,
        last_statement=row.last_statement,
        statements=row.statements,
        seconds=row.seconds,
        completed_at=row.completed_at,
        progress=row.progress,
        outcome=row.outcome,
        first_outcome=row.first_outcome,
        attempts=row.attempts,
        best_score=row.best_score,
        answers=row.answers,
        correct=row.correct,
        mastery=row.mastery,
        memory=memory,
    )


def _values(tenant_id: int, state: ActivityState) -> dict[str, Any]:
    memory = state.memory
    return {
        "tenant_id": tenant_id,
        "learner": state.learner,
        "activity_id": state.activity_id,
        "first_at": state.first_at,
        "last_at": state.last_at,
        "last_statement": state.last_statement,
        "statements": state.statements,
        "seconds": state.seconds,
        "completed_at": state.completed_at,
        "progress": state.progress,
        "outcome": state.outcome,
        "first_outcome": state.first_outcome,
        "attempts": state.attempts,
        "best_score": state.best_score,
        "answers": state.answers,
        "correct": state.correct,
        "mastery": state.mastery,
        "memory_state": memory.state if memory else None,
        "memory_step": memory.step if memory else None,
        "stability": memory.stability if memory else None,
        "difficulty": memory.difficulty if memory else None,
        "memory_due": memory.due if memory else None,
        "last_review": memory.last_review if memory else None,
        "reviews": memory.reviews if memory else 0,
    }


async def lock_states(
    session: AsyncSession, tenant_id: int, keys: Collection[Key], placeholder: datetime
) -> dict[Key, ActivityState]:
    """The saved models of `keys`, locked until the transaction ends, so that concurrent
    writers of one learner's Activity take turns (PostgreSQL; SQLite has one writer at a
    time). A model not saved yet gets a placeholder row to lock, which `save_states` or
    `delete_states` replaces; it is not returned."""
    ordered = sorted(keys)
    if session.get_bind().dialect.name == "postgresql":
        empty = {"first_at": placeholder, "last_at": placeholder, "last_statement": ""}
        empty |= {"statements": 0, "seconds": 0.0, "attempts": 0, "answers": 0, "correct": 0}
        empty |= {"reviews": 0}
        for chunk in _chunks(ordered):
            insert = dialect_insert(session, analytics_states).on_conflict_do_nothing()
            await session.execute(
                insert,
                [
                    {"tenant_id": tenant_id, "learner": learner, "activity_id": activity} | empty
                    for learner, activity in chunk
                ],
            )
    found: dict[Key, ActivityState] = {}
    for chunk in _chunks(ordered):
        query = select(analytics_states).where(
            analytics_states.c.tenant_id == tenant_id, _keys_in(chunk)
        )
        result = await session.execute(
            query.order_by(
                analytics_states.c.learner, analytics_states.c.activity_id
            ).with_for_update()
        )
        found.update(
            ((row.learner, row.activity_id), _state(row)) for row in result if row.statements
        )
    return found


async def save_states(
    session: AsyncSession, tenant_id: int, states: Iterable[ActivityState]
) -> None:
    values = [_values(tenant_id, state) for state in states]
    for chunk in _chunks(values):
        insert = dialect_insert(session, analytics_states)
        upsert = insert.on_conflict_do_update(
            index_elements=["tenant_id", "learner", "activity_id"],
            set_={name: insert.excluded[name] for name in chunk[0] if name in _STATE_FIELDS},
        )
        await session.execute(upsert, chunk)


_STATE_FIELDS = frozenset(analytics_states.c.keys()) - {"tenant_id", "learner", "activity_id"}


async def delete_states(session: AsyncSession, tenant_id: int, keys: Collection[Key]) -> None:
    for chunk in _chunks(sorted(keys)):
        await session.execute(
            delete(analytics_states).where(
                analytics_states.c.tenant_id == tenant_id, _keys_in(chunk)
            )
        )


async def erase_learner(
    session: AsyncSession, tenant_ids: Sequence[int], learner: str, pseudonym: str | None
) -> None:
    for table in (analytics_evidence, analytics_states):
        chosen = (table.c.tenant_id.in_(tenant_ids), table.c.learner == learner)
        if pseudonym is None:
            await session.execute(delete(table).where(*chosen))
        else:
            await session.execute(update(table).where(*chosen).values(learner=pseudonym))


async def delete_tenant_models(session: AsyncSession, tenant_id: int) -> None:
    for table in (analytics_evidence, analytics_states):
        await session.execute(delete(table).where(table.c.tenant_id == tenant_id))


async def parameters(session: AsyncSession, tenant_id: int) -> dict[str, bkt.Parameters]:
    """Fitted mastery parameters by skill ("": the tenant's default)."""
    result = await session.execute(
        select(analytics_parameters).where(analytics_parameters.c.tenant_id == tenant_id)
    )
    return {
        row.skill: bkt.Parameters(row.p_init, row.p_learn, row.p_slip, row.p_guess)
        for row in result
    }


async def replace_parameters(
    session: AsyncSession, tenant_id: int, fits: Mapping[str, bkt.Fit], fitted_at: datetime
) -> None:
    await session.execute(
        delete(analytics_parameters).where(analytics_parameters.c.tenant_id == tenant_id)
    )
    if fits:
        await session.execute(
            analytics_parameters.insert(),
            [
                {
                    "tenant_id": tenant_id,
                    "skill": skill,
                    **fit.parameters.as_dict(),
                    "sequences": fit.sequences,
                    "observations": fit.observations,
                    "fitted_at": fitted_at,
                }
                for skill, fit in fits.items()
            ],
        )


@dataclass(frozen=True)
class ModelFilter:
    """Which models a view reads: the reader's tenants (or a subtree of them), optionally one
    learner, one Activity, a directory cohort (a subquery of agent keys) and a window on the
    last activity."""

    tenant_ids: tuple[int, ...]
    learner: str | None = None
    activity: str | None = None
    cohort: Select[Any] | None = None
    since: datetime | None = None
    until: datetime | None = None


def _where(scope: ModelFilter) -> list[ColumnElement[bool]]:
    c = analytics_states.c
    conditions: list[ColumnElement[bool]] = [c.tenant_id.in_(scope.tenant_ids)]
    if scope.learner is not None:
        conditions.append(c.learner == scope.learner)
    if scope.activity is not None:
        conditions.append(c.activity_id == scope.activity)
    if scope.cohort is not None:
        conditions.append(c.learner.in_(scope.cohort.scalar_subquery()))
    if scope.since is not None:
        conditions.append(c.last_at > scope.since)
    if scope.until is not None:
        conditions.append(c.last_at <= scope.until)
    return conditions


def _days_since(session: AsyncSession, column: Any, at: datetime) -> ColumnElement[Any]:
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", bindparam("at_", at, type_=UTCDateTime) - column) / 86400.0
    return func.julianday(bindparam("at_", at, type_=UTCDateTime)) - func.julianday(column)


Page = list[tuple[int, ActivityState]]
Cursor = tuple[int, str, str]  # (tenant id, learner, activity id) of a page's last row


async def states_page(
    session: AsyncSession,
    scope: ModelFilter,
    *,
    after: Cursor | None,
    limit: int,
    answered: bool = False,
    remembered: bool = False,
    due: tuple[datetime, float] | None = None,
) -> Page:
    """Models in (tenant, learner, activity) order after `after`. `answered`: only those with
    recall events; `remembered`: only those with a memory (recall events on the object);
    `due` (at, days per unit of stability): only memories whose recall has fallen to the
    target by then (elapsed days >= stability * factor)."""
    c = analytics_states.c
    query = select(analytics_states).where(*_where(scope))
    if answered:
        query = query.where(c.answers > 0)
    if remembered or due is not None:
        query = query.where(c.stability.is_not(None))
    if due is not None:
        at, per_stability = due
        query = query.where(_days_since(session, c.last_review, at) >= c.stability * per_stability)
    if after is not None:
        query = query.where(tuple_(c.tenant_id, c.learner, c.activity_id) > tuple_(*after))
    query = query.order_by(c.tenant_id, c.learner, c.activity_id).limit(limit)
    return [(row.tenant_id, _state(row)) for row in await session.execute(query)]


async def progress_summary(session: AsyncSession, scope: ModelFilter) -> list[Row[Any]]:
    """Per Activity: learners, completed, with an outcome, passed, passed first time,
    retakes, total seconds."""
    c = analytics_states.c

    def count_if(condition: ColumnElement[bool]) -> Any:
        return func.sum(case((condition, 1), else_=0))

    query = (
        select(
            c.activity_id,
            func.count().label("learners"),
            count_if(c.completed_at.is_not(None)).label("completed"),
            count_if(c.outcome.is_not(None)).label("assessed"),
            count_if(c.outcome == "passed").label("passed"),
            count_if(c.first_outcome == "passed").label("passed_first"),
            func.sum(case((c.attempts > 1, c.attempts - 1), else_=0)).label("retakes"),
            func.sum(c.seconds).label("seconds"),
        )
        .where(*_where(scope))
        .group_by(c.activity_id)
        .order_by(c.activity_id)
    )
    return list((await session.execute(query)).all())


async def mastery_summary(
    session: AsyncSession, scope: ModelFilter, mastered: float
) -> tuple[list[Row[Any]], list[Row[Any]]]:
    """Per skill: learners, mean mastery, learners at or above `mastered`; and per skill the
    learners in each tenth of the probability (0-9; 1.0 counts in the top tenth)."""
    c = analytics_states.c
    answered = [*_where(scope), c.answers > 0]
    totals = (
        select(
            c.activity_id,
            func.count().label("learners"),
            func.avg(c.mastery).label("mean"),
            func.sum(case((c.mastery >= mastered, 1), else_=0)).label("mastered"),
            func.sum(c.answers).label("answers"),
        )
        .where(*answered)
        .group_by(c.activity_id)
        .order_by(c.activity_id)
    )
    # Spelled out: a cast to integer rounds on PostgreSQL and truncates on SQLite.
    tenth = case(*((c.mastery < (i + 1) / 10, i) for i in range(9)), else_=9)
    bins = (
        select(c.activity_id, tenth.label("tenth"), func.count().label("learners"))
        .where(*answered)
        .group_by(c.activity_id, tenth)
    )
    return list((await session.execute(totals)).all()), list((await session.execute(bins)).all())
