"""All SQL of the learner models."""

from __future__ import annotations

import operator
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Collection, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Float,
    Row,
    Select,
    Table,
    TextualSelect,
    Uuid,
    and_,
    bindparam,
    case,
    cast,
    column,
    delete,
    false,
    func,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from analytics import bkt, memory
from analytics.evidence import FOLD_ORDER, Evidence
from analytics.learner import ActivityState, completion
from analytics.tables import (
    analytics_evidence,
    analytics_memory_parameters,
    analytics_parameters,
    analytics_queue,
    analytics_states,
    analytics_totals,
)
from analytics.totals import FIELDS, MASTERED, TENTHS, Totals
from lrs.db import UTCDateTime, write_records

Key = tuple[str, str]  # (learner, activity id)
_CHUNK = 400  # keys or rows per statement: under both drivers' bound-parameter limits

_EVIDENCE_COLUMNS = (
    "learner", "activity_id", "at", "statement_id", "relation", "verb", "correct", "scaled",
    "progress", "completed", "seconds", "registration", "phase", "value", "stored",
)  # fmt: skip
_EVIDENCE_RECORD = operator.attrgetter(*_EVIDENCE_COLUMNS)  # its values in column order


# The advisory lock space of the models' writers (the second key is the tenant's id).
_MODELS_LOCK = 0x414E4C  # "ANL"


async def lock_tenant(session: AsyncSession, tenant_id: int, *, wait: bool) -> bool:
    """Makes this transaction the only writer of the tenant's models until it ends: on
    PostgreSQL an advisory lock (without `wait`, False when another holds it); SQLite has
    one writer at a time, so this takes the database's write lock before anything is read
    (the driver would begin the transaction only at the first change)."""
    if session.get_bind().dialect.name == "postgresql":
        if wait:
            await session.execute(
                text("SELECT pg_advisory_xact_lock(:space, :tenant)"),
                {"space": _MODELS_LOCK, "tenant": tenant_id},
            )
            return True
        taken = await session.scalar(
            text("SELECT pg_try_advisory_xact_lock(:space, :tenant)"),
            {"space": _MODELS_LOCK, "tenant": tenant_id},
        )
        return bool(taken)
    # A change of no rows still takes the write lock; in a transaction already writing it
    # does nothing.
    await session.execute(
        update(analytics_queue).where(false()).values(tenant_id=analytics_queue.c.tenant_id)
    )
    return True


async def queued_tenants(session: AsyncSession, tenant_ids: Sequence[int] | None) -> dict[int, int]:
    """Each tenant with statements waiting, and its newest queue entry."""
    query = select(analytics_queue.c.tenant_id, func.max(analytics_queue.c.id)).where(
        analytics_queue.c.failed_at.is_(None)
    )
    if tenant_ids is not None:
        query = query.where(analytics_queue.c.tenant_id.in_(tenant_ids))
    rows = await session.execute(query.group_by(analytics_queue.c.tenant_id))
    return dict(rows.all())


async def take_queued(
    session: AsyncSession, tenant_id: int, newest: int | None, statements: int
) -> list[str]:
    """Deletes the tenant's oldest queue entries (none past `newest`) that hold up to
    `statements` statements, and at least one entry; returns their statement ids, oldest
    entry first. The caller folds them in the same transaction."""
    c = analytics_queue.c
    chosen = [c.tenant_id == tenant_id, c.failed_at.is_(None)]
    if newest is not None:
        chosen.append(c.id <= newest)
    size = _entry_size(session)
    upto = func.sum(size).over(order_by=c.id)  # statements in this entry and older ones
    oldest = (
        select(c.id, upto.label("upto"), size.label("size"))
        .where(*chosen)
        .order_by(c.id)
        .limit(statements)
    ).subquery()
    taken = select(oldest.c.id).where(
        or_(oldest.c.upto <= statements, oldest.c.upto == oldest.c.size)  # or the first
    )
    rows = await session.execute(
        delete(analytics_queue).where(c.id.in_(taken)).returning(c.id, c.statement_ids)
    )
    return [statement_id for _, entry in sorted(rows) for statement_id in orjson.loads(entry)]


def _entry_size(session: AsyncSession) -> Any:
    """How many statements a queue entry holds (its JSON array's length)."""
    ids: Any = analytics_queue.c.statement_ids
    if session.get_bind().dialect.name == "postgresql":
        ids = cast(ids, postgresql.JSON)
    return func.json_array_length(ids)


async def oldest_queued(session: AsyncSession, tenant_id: int) -> int | None:
    c = analytics_queue.c
    oldest = await session.scalar(
        select(func.min(c.id)).where(c.tenant_id == tenant_id, c.failed_at.is_(None))
    )
    return None if oldest is None else int(oldest)


async def set_aside(session: AsyncSession, entry_id: int, error: str, now: datetime) -> None:
    c = analytics_queue.c
    await session.execute(
        update(analytics_queue)
        .where(c.id == entry_id, c.failed_at.is_(None))
        .values(failed_at=now, error=error[:500])
    )


@dataclass(frozen=True)
class Backlog:
    pending: int  # statements queued, not folded yet
    set_aside: int  # queue entries set aside, waiting for a rebuild


async def backlog(session: AsyncSession, tenant_ids: Sequence[int]) -> Backlog:
    c = analytics_queue.c
    query = select(
        func.sum(case((c.failed_at.is_(None), _entry_size(session)), else_=0)),
        func.count(c.failed_at),
    ).where(c.tenant_id.in_(tenant_ids))
    pending, set_aside = (await session.execute(query)).one()
    return Backlog(int(pending or 0), int(set_aside))


async def with_evidence(
    session: AsyncSession, tenant_id: int, statement_ids: Collection[uuid.UUID]
) -> set[uuid.UUID]:
    """Which of the statements gave evidence already (a rebuild may have read a statement
    that was still queued)."""
    if session.get_bind().dialect.name == "postgresql":
        params = {"tenant_id": tenant_id, "ids": list(statement_ids)}
        return set(await session.scalars(_WITH_EVIDENCE, params))
    found: set[uuid.UUID] = set()
    for among in _among_statements(statement_ids):
        query = select(analytics_evidence.c.statement_id).where(
            analytics_evidence.c.tenant_id == tenant_id, among
        )
        found.update(await session.scalars(query.distinct()))
    return found


# Each statement looked up by itself, for the reason _by_keys gives (`= ANY` of them
# all let the planner read all the tenant's evidence for every round).
_WITH_EVIDENCE = text(
    "SELECT k.id FROM unnest(CAST(:ids AS uuid[])) AS k(id) CROSS JOIN LATERAL (SELECT 1"
    " FROM analytics_evidence WHERE tenant_id = :tenant_id AND statement_id = k.id LIMIT 1) e"
).columns(column("id", Uuid))


def _among_statements(statement_ids: Collection[uuid.UUID]) -> list[ColumnElement[bool]]:
    """SQLite: conditions that together choose the evidence of `statement_ids`, lists short
    enough for its parameter limit."""
    column = analytics_evidence.c.statement_id
    return [column.in_(chunk) for chunk in _chunks(sorted(statement_ids))]


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _keys_in(
    session: AsyncSession, keys: Sequence[Key], table: Any = analytics_states
) -> ColumnElement[bool]:
    """The rows of `keys`. SQLite answers a list of row values by scanning the table, so
    there the keys travel as one JSON array, which it reads row by row through the primary
    key."""
    chosen = tuple_(table.c.learner, table.c.activity_id)
    if session.get_bind().dialect.name == "postgresql":
        return chosen.in_(keys)
    listed = func.json_each(bindparam(None, orjson.dumps(keys).decode())).table_valued("value")
    pairs = select(
        func.json_extract(listed.c.value, "$[0]"), func.json_extract(listed.c.value, "$[1]")
    )
    return chosen.in_(pairs)


async def insert_evidence(session: AsyncSession, tenant_id: int, items: Sequence[Evidence]) -> None:
    records = [(tenant_id, *_EVIDENCE_RECORD(item)) for item in items]
    connection = await session.connection()
    await write_records(connection, analytics_evidence, ("tenant_id", *_EVIDENCE_COLUMNS), records)


async def retract_evidence(
    session: AsyncSession, tenant_id: int, statement_ids: Collection[uuid.UUID]
) -> set[Key]:
    """Deletes the evidence of voided statements; returns the models it was part of."""
    if session.get_bind().dialect.name == "postgresql":
        params = {"tenant_id": tenant_id, "ids": list(statement_ids)}
        return {(row.learner, row.activity_id) for row in await session.execute(_RETRACT, params)}
    touched: set[Key] = set()
    for among in _among_statements(statement_ids):
        result = await session.execute(
            delete(analytics_evidence)
            .where(analytics_evidence.c.tenant_id == tenant_id, among)
            .returning(analytics_evidence.c.learner, analytics_evidence.c.activity_id)
        )
        touched.update((row.learner, row.activity_id) for row in result)
    return touched


# The rows found statement by statement (LATERAL, as _WITH_EVIDENCE), then deleted by their
# row ids (a TID scan): `statement_id = ANY(...)` was open to a plan that reads all of the
# tenant's evidence for every round with a voiding statement.
_RETRACT = text(
    "DELETE FROM analytics_evidence WHERE ctid = ANY(ARRAY("
    "SELECT e.ctid FROM unnest(CAST(:ids AS uuid[])) AS k(id) CROSS JOIN LATERAL (SELECT ctid"
    " FROM analytics_evidence WHERE tenant_id = :tenant_id AND statement_id = k.id OFFSET 0) e"
    ")) RETURNING learner, activity_id"
)


async def expire_evidence(session: AsyncSession, tenant_id: int, cutoff: datetime) -> set[Key]:
    """Deletes the evidence of statements stored before `cutoff` (retention deleted them);
    returns the models it was part of."""
    c = analytics_evidence.c
    result = await session.execute(
        delete(analytics_evidence)
        .where(c.tenant_id == tenant_id, c.stored < cutoff)
        .returning(c.learner, c.activity_id)
    )
    return {(row.learner, row.activity_id) for row in result}


def _evidence(row: Row[Any]) -> Evidence:
    return Evidence(**{name: getattr(row, name) for name in _EVIDENCE_COLUMNS})


async def evidence_for(
    session: AsyncSession, tenant_id: int, keys: Collection[Key]
) -> dict[Key, list[Evidence]]:
    """The evidence of each model, in fold order."""
    found: dict[Key, list[Evidence]] = {key: [] for key in keys}
    for row in await _rows_of_keys(session, analytics_evidence, tenant_id, keys):
        found[row.learner, row.activity_id].append(_evidence(row))
    for items in found.values():
        items.sort(key=FOLD_ORDER)
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
    remembered = None
    if row.memory_state is not None:
        remembered = memory.Memory(
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
        memory=remembered,
    )


class _NoMemory:
    """A model's memory columns when it has none (nothing was recalled)."""

    state = step = stability = difficulty = due = last_review = None
    reviews = 0


_NO_MEMORY = _NoMemory()


def _record(tenant_id: int, state: ActivityState) -> tuple[Any, ...]:
    """A model's row in _STATE_COLUMNS order, made at once (0.4 against 3.4 us for a dict
    of its columns picked into a tuple, timeit)."""
    remembered = state.memory or _NO_MEMORY
    return (
        tenant_id,
        state.learner,
        state.activity_id,
        state.first_at,
        state.last_at,
        state.last_statement,
        state.statements,
        state.seconds,
        state.completed_at,
        state.progress,
        state.outcome,
        state.first_outcome,
        state.attempts,
        state.best_score,
        state.answers,
        state.correct,
        state.mastery,
        remembered.state,
        remembered.step,
        remembered.stability,
        remembered.difficulty,
        remembered.due,
        remembered.last_review,
        remembered.reviews,
    )


async def states_of(
    session: AsyncSession, tenant_id: int, keys: Collection[Key]
) -> dict[Key, ActivityState]:
    """The saved models of `keys` (a writer holds the tenant's lock before reading them)."""
    rows = await _rows_of_keys(session, analytics_states, tenant_id, keys)
    return {(row.learner, row.activity_id): _state(row) for row in rows}


async def _rows_of_keys(
    session: AsyncSession, table: Table, tenant_id: int, keys: Collection[Key]
) -> list[Row[Any]]:
    """A tenant's rows of `table` for (learner, Activity) keys, each key read once."""
    ordered = sorted(set(keys))
    if not ordered:
        return []
    if session.get_bind().dialect.name == "postgresql":
        learners, activities = zip(*ordered, strict=True)
        params = {"tenant_id": tenant_id, "learners": learners, "activities": activities}
        return list(await session.execute(_BY_KEYS[table.name], params))
    rows: list[Row[Any]] = []
    for chunk in _chunks(ordered):
        chosen = (table.c.tenant_id == tenant_id, _keys_in(session, chunk, table))
        rows.extend(await session.execute(select(table).where(*chosen)))
    return rows


def _by_keys(table: Table) -> TextualSelect:
    """PostgreSQL: the keys travel as two arrays (one statement, one plan, whatever their
    number) and each is looked up by itself (LATERAL, fenced by OFFSET 0 so that it is not
    merged into a join): as a join, with statistics from when the table was small, the
    planner read all the tenant's rows once per key (360 ms a fold round at 60,000 models
    instead of 5)."""
    return text(
        "SELECT t.* FROM unnest(CAST(:learners AS text[]), CAST(:activities AS text[]))"  # noqa: S608 - our table names
        f" AS k(l, a) CROSS JOIN LATERAL (SELECT * FROM {table.name}"
        " WHERE tenant_id = :tenant_id AND learner = k.l AND activity_id = k.a OFFSET 0) AS t"
    ).columns(*table.c)


_BY_KEYS = {table.name: _by_keys(table) for table in (analytics_states, analytics_evidence)}


async def save_states(
    session: AsyncSession,
    tenant_id: int,
    states: Iterable[ActivityState],
    saved: Container[Key] | None = None,
) -> None:
    """`saved`: the keys of these models that have a saved row (None: any may have). The
    others are written plainly, with no merge on PostgreSQL: nothing else writes a key of
    the tenant while the caller holds its lock (a quarter of a fold's time had gone to
    merging models that were nearly all new)."""
    fresh: list[tuple[Any, ...]] = []
    replacing: list[tuple[Any, ...]] = []
    for state in states:
        known = saved is None or (state.learner, state.activity_id) in saved
        (replacing if known else fresh).append(_record(tenant_id, state))
    connection = await session.connection()
    await write_records(connection, analytics_states, _STATE_COLUMNS, fresh)
    await write_records(connection, analytics_states, _STATE_COLUMNS, replacing, key=_STATE_KEY)


_STATE_COLUMNS = tuple(c.name for c in analytics_states.c)
_STATE_KEY = ("tenant_id", "learner", "activity_id")


async def delete_states(session: AsyncSession, tenant_id: int, keys: Collection[Key]) -> None:
    for chunk in _chunks(sorted(keys)):
        await session.execute(
            delete(analytics_states).where(
                analytics_states.c.tenant_id == tenant_id, _keys_in(session, chunk)
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
    """And the entries set aside: a rebuild reads their statements again."""
    for table in (analytics_evidence, analytics_states, analytics_totals):
        await session.execute(delete(table).where(table.c.tenant_id == tenant_id))
    c = analytics_queue.c
    await session.execute(
        delete(analytics_queue).where(c.tenant_id == tenant_id, c.failed_at.is_not(None))
    )


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


async def forgetting(
    session: AsyncSession, tenant_ids: Sequence[int]
) -> dict[int, memory.Forgetting]:
    """Each tenant's forgetting curve: its fitted FSRS parameters, else the defaults."""
    c = analytics_memory_parameters.c
    rows = await session.execute(
        select(c.tenant_id, c.parameters).where(c.tenant_id.in_(tenant_ids))
    )
    fitted = {row.tenant_id: memory.Forgetting(orjson.loads(row.parameters)) for row in rows}
    return {tenant_id: fitted.get(tenant_id, memory.DEFAULT) for tenant_id in tenant_ids}


async def replace_forgetting(
    session: AsyncSession, tenant_id: int, fit: memory.Fit, fitted_at: datetime
) -> None:
    """The fit's parameters become the tenant's; a fit that kept the defaults removes any
    the tenant had (its newer reviews no longer bear them out)."""
    table = analytics_memory_parameters
    await session.execute(delete(table).where(table.c.tenant_id == tenant_id))
    if fit.parameters is not None:
        await session.execute(
            table.insert().values(
                tenant_id=tenant_id,
                parameters=orjson.dumps(fit.parameters).decode(),
                reviews=fit.reviews,
                held_out=fit.held_out,
                log_loss=fit.log_loss,
                default_log_loss=fit.default_log_loss,
                fitted_at=fitted_at,
            )
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


def _where(scope: ModelFilter, table: Table = analytics_states) -> list[ColumnElement[bool]]:
    """The scope's conditions on models (their last activity in the window) or on evidence
    (its own time)."""
    c = table.c
    moment = c.last_at if table is analytics_states else c.at
    conditions: list[ColumnElement[bool]] = [c.tenant_id.in_(scope.tenant_ids)]
    if scope.learner is not None:
        conditions.append(c.learner == scope.learner)
    if scope.activity is not None:
        conditions.append(c.activity_id == scope.activity)
    if scope.cohort is not None:
        conditions.append(c.learner.in_(scope.cohort.scalar_subquery()))
    if scope.since is not None:
        conditions.append(moment > scope.since)
    if scope.until is not None:
        conditions.append(moment <= scope.until)
    return conditions


def _days_since(session: AsyncSession, column: Any, at: datetime) -> ColumnElement[Any]:
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", bindparam("at_", at, type_=UTCDateTime) - column) / 86400.0
    return func.julianday(bindparam("at_", at, type_=UTCDateTime)) - func.julianday(column)


# A model's statements, seconds and completion: what a course summary adds up.
Effort = tuple[int, float, float]


async def efforts(
    session: AsyncSession, tenant_id: int, activity_ids: Collection[str], scope: ModelFilter
) -> dict[str, dict[str, Effort]]:
    """Per Activity and learner in scope, the effort in their model (three columns, not the
    whole model)."""
    c = analytics_states.c
    found: dict[str, dict[str, Effort]] = defaultdict(dict)
    for chunk in _chunks(sorted(activity_ids)):
        query = select(
            c.activity_id,
            c.learner,
            c.statements,
            c.seconds,
            c.completed_at.is_not(None),
            c.progress,
        ).where(*_where(replace(scope, tenant_ids=(tenant_id,))), c.activity_id.in_(chunk))
        for activity, learner, statements, seconds, completed, progress in await session.execute(
            query
        ):
            found[activity][learner] = (statements, seconds, completion(completed, progress))
    return found


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
    due: tuple[datetime, Mapping[int, float]] | None = None,
) -> Page:
    """Models in (tenant, learner, activity) order after `after`. `answered`: only those with
    recall events; `remembered`: only those with a memory (recall events on the object);
    `due` (at, each tenant's days per unit of stability): only memories whose recall has
    fallen to the target by then (elapsed days >= stability * factor)."""
    c = analytics_states.c
    query = select(analytics_states).where(*_where(scope))
    if answered:
        query = query.where(c.answers > 0)
    if remembered or due is not None:
        query = query.where(c.stability.is_not(None))
    if due is not None:
        at, per_stability = due
        factor: Any = next(iter(per_stability.values()))
        if len(set(per_stability.values())) > 1:  # tenants with curves of their own
            factor = case(per_stability, value=c.tenant_id)
        query = query.where(_days_since(session, c.last_review, at) >= c.stability * factor)
    if after is not None:
        query = query.where(tuple_(c.tenant_id, c.learner, c.activity_id) > tuple_(*after))
    query = query.order_by(c.tenant_id, c.learner, c.activity_id).limit(limit)
    return [(row.tenant_id, _state(row)) for row in await session.execute(query)]


async def memory_ages(
    session: AsyncSession, scope: ModelFilter, at: datetime
) -> tuple[list[float], list[float]]:
    """Days since the last review at `at`, and stability, of every memory in scope (two
    columns, in the same order)."""
    c = analytics_states.c
    days = _days_since(session, c.last_review, at)
    chosen = (*_where(scope), c.stability.is_not(None))
    if session.get_bind().dialect.name == "postgresql":
        # Two arrays in one row: a cohort's 100,000s of memories without a row object each.
        query = select(func.array_agg(cast(days, Float)), func.array_agg(c.stability)).where(
            *chosen
        )
        ages, stabilities = (await session.execute(query)).one()
        return list(ages or []), list(stabilities or [])
    rows = (await session.execute(select(days, c.stability).where(*chosen))).all()
    return [float(row[0]) for row in rows], [float(row[1]) for row in rows]


async def evaluation_evidence(session: AsyncSession, scope: ModelFilter) -> list[Row[Any]]:
    """The evaluation phases' evidence in scope (pre / post-test, survey, indicator), by
    Activity, learner and time."""
    c = analytics_evidence.c
    query: Select[Any] = (
        select(c.tenant_id, c.activity_id, c.learner, c.relation, c.phase, c.at, c.scaled, c.value)
        .where(*_where(scope, analytics_evidence), c.phase.is_not(None))
        .order_by(c.activity_id, c.tenant_id, c.learner, c.at, c.statement_id)
    )
    return list((await session.execute(query)).all())


def _aggregates() -> list[Any]:
    """The cohort totals (analytics.totals) as SQL over models, labelled by field."""
    c = analytics_states.c
    answered = c.answers > 0

    def count_if(*conditions: ColumnElement[bool]) -> Any:
        return func.sum(case((and_(*conditions), 1), else_=0))

    # Spelled out: a cast to integer rounds on PostgreSQL and truncates on SQLite.
    tenth = case(*((c.mastery < (i + 1) / 10, i) for i in range(9)), else_=9)
    expressions: dict[str, Any] = {
        "learners": func.count(),
        "completed": count_if(c.completed_at.is_not(None)),
        "assessed": count_if(c.outcome.is_not(None)),
        "passed": count_if(c.outcome == "passed"),
        "passed_first": count_if(c.first_outcome == "passed"),
        "retakes": func.sum(case((c.attempts > 1, c.attempts - 1), else_=0)),
        "seconds": func.sum(c.seconds),
        "answered": count_if(answered),
        "mastery_sum": func.sum(case((answered, c.mastery), else_=0.0)),
        "mastered": count_if(answered, c.mastery >= MASTERED),
        "answers": func.sum(c.answers),
    }
    expressions |= {name: count_if(answered, tenth == i) for i, name in enumerate(TENTHS)}
    return [expressions[name].label(name) for name in FIELDS]


async def activity_totals(
    session: AsyncSession, scope: ModelFilter, activities: Collection[str] | None = None
) -> list[Row[Any]]:
    """The cohort totals (analytics.totals.FIELDS) per Activity (of `activities`, or all)
    over the models in scope: from the kept totals when the scope is whole tenants, else
    summed over the models."""
    whole_tenants = scope.learner is None and scope.cohort is None
    if whole_tenants and scope.since is None and scope.until is None:
        t = analytics_totals.c
        query: Select[Any] = select(
            t.activity_id, *(func.sum(t[name]).label(name) for name in FIELDS)
        ).where(t.tenant_id.in_(scope.tenant_ids))
        if scope.activity is not None:
            query = query.where(t.activity_id == scope.activity)
        column = t.activity_id
    else:
        c = analytics_states.c
        query = select(c.activity_id, *_aggregates()).where(*_where(scope))
        column = c.activity_id
    if activities is not None:
        query = query.where(column.in_(sorted(activities)))
    return list((await session.execute(query.group_by(column).order_by(column))).all())


async def add_to_totals(
    session: AsyncSession, tenant_id: int, changes: Mapping[str, Totals]
) -> None:
    """Adds each Activity's changes to its totals; an Activity left without models goes."""
    if not changes:
        return
    records = [
        (tenant_id, activity, *(totals[name] for name in FIELDS))
        for activity, totals in sorted(changes.items())
    ]
    connection = await session.connection()
    await write_records(
        connection,
        analytics_totals,
        ("tenant_id", "activity_id", *FIELDS),
        records,
        key=("tenant_id", "activity_id"),
        adding=True,
    )
    if any(totals["learners"] < 0 for totals in changes.values()):
        await session.execute(
            delete(analytics_totals).where(
                analytics_totals.c.tenant_id == tenant_id, analytics_totals.c.learners <= 0
            )
        )


async def recount_totals(session: AsyncSession, tenant_ids: Sequence[int]) -> None:
    """The tenants' totals counted again from their models (after a rebuild, a fit, an
    erasure)."""
    await session.execute(
        delete(analytics_totals).where(analytics_totals.c.tenant_id.in_(tenant_ids))
    )
    c = analytics_states.c
    counted = (
        select(c.tenant_id, c.activity_id, *_aggregates())
        .where(c.tenant_id.in_(tenant_ids))
        .group_by(c.tenant_id, c.activity_id)
    )
    await session.execute(
        analytics_totals.insert().from_select(["tenant_id", "activity_id", *FIELDS], counted)
    )
