"""All SQL of statements, their index rows, canonical activities and attachments.

Writes are multi-row statements (one round trip per batch on PostgreSQL, a handful on SQLite,
never one per statement); statement ids are kept unique per tenant by `statement_ids`,
registered (upserted in id order, see `_registration`) before the statements themselves are
inserted.
"""

from __future__ import annotations

import asyncio
import functools
import uuid
import weakref
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import orjson
from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Executable,
    FromClause,
    Select,
    Table,
    TextClause,
    and_,
    bindparam,
    case,
    delete,
    exists,
    false,
    func,
    insert,
    select,
    text,
    true,
    tuple_,
    union,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from lrs.db import (
    dialect_insert,
    lift_deadline,
    pooled_driver_connection,
    positional,
    write_records,
)
from statements.models import Cursor, StatementFilter
from statements.tables import (
    activities,
    attachments,
    statement_activities,
    statement_agents,
    statement_attachments,
    statement_ids,
    statements,
)

# Rows per INSERT: stays under SQLite's 32,766 bound parameters and asyncpg's 32,767.
_CHUNK = 500


@dataclass(frozen=True)
class StatementRow:
    """What a statement insert needs; the index rows ride along."""

    statement_id: uuid.UUID
    stored: datetime
    verb_id: str
    registration: uuid.UUID | None
    object_ref: uuid.UUID | None
    is_voiding: bool
    payload: str
    agents: Mapping[str, bool]  # agent IFI key -> direct
    activities: Mapping[str, bool]  # activity id -> direct
    attachments: frozenset[str] = frozenset()  # lower-case sha2 of its Attachments


@dataclass(frozen=True)
class StoredStatement:
    seq: int
    stored: datetime
    payload: str


@dataclass(frozen=True)
class Inserted:
    new_ids: set[uuid.UUID]
    # Canonical definitions stored before the insert, of the Activities asked about.
    definitions: dict[str, str]


async def insert_statements(
    session: AsyncSession,
    tenant_id: int,
    credential_id: int,
    rows: Sequence[StatementRow],
    definitions_of: Collection[str] = (),
    feeds: Sequence[Table] = (),
) -> Inserted:
    """Inserts the statements whose ids are new, with their index rows, and applies voiding
    both ways (xAPI-Data 2.3.2): a new voiding statement voids its stored target, a new
    statement is stored voided when a voiding statement already targets it. A voiding
    statement itself is never voided. Seqs follow the order of `rows`.

    Also reads the tenant's canonical definitions of the Activities `definitions_of`, which
    a write that carries definitions needs next, and adds a row to each of `feeds` naming
    the new statements (`StatementHooks.feeds`); on PostgreSQL all in the same round trip."""
    # Voiding is settled in the batch (a target and its voiding statement both in it), by
    # the ids' rows (a target whose voiding statement was stored first finds its id pending),
    # and last by voiding the stored targets.
    targets = {row.object_ref for row in rows if row.is_voiding and row.object_ref is not None}
    voided_here = {row.statement_id for row in rows if not row.is_voiding} & targets
    pending = sorted(targets - {row.statement_id for row in rows})
    if session.get_bind().dialect.name == "postgresql":
        inserted = await _insert_postgresql(
            session, tenant_id, credential_id, rows, voided_here, pending, definitions_of, feeds
        )
    else:
        inserted = await _insert_sqlite(
            session, tenant_id, credential_id, rows, voided_here, pending
        )
        inserted.definitions.update(await definitions_by_id(session, (tenant_id,), definitions_of))
        new = [str(row.statement_id) for row in rows if row.statement_id in inserted.new_ids]
        if new:
            entry = {"tenant_id": tenant_id, "statement_ids": orjson.dumps(new).decode()}
            for feed in feeds:
                await session.execute(feed.insert(), entry)
    if stored_targets := targets - inserted.new_ids:
        # A statement of its own, after the ids' rows: a target written concurrently has
        # committed once its id row let this write through, and this fresh snapshot sees it.
        await session.execute(
            _VOID_TARGETS, {"b_tenant": tenant_id, "b_targets": sorted(stored_targets)}
        )
    return inserted


async def _insert_sqlite(
    session: AsyncSession,
    tenant_id: int,
    credential_id: int,
    rows: Sequence[StatementRow],
    voided_here: set[uuid.UUID],
    pending: Sequence[uuid.UUID],
) -> Inserted:
    keyed = [(row.statement_id, row.stored, False) for row in rows]
    keyed += [(target, rows[0].stored, True) for target in pending]
    ids = [
        {"tenant_id": tenant_id, "statement_id": key, "stored": stored, "pending": is_pending}
        for key, stored, is_pending in sorted(keyed)
    ]
    voided_early = {
        row.statement_id: row.voided_early
        for row in await session.execute(_SQLITE_REGISTER, ids)
        if not row.pending
    }
    values = [
        {
            "tenant_id": tenant_id,
            "statement_id": row.statement_id,
            "stored": row.stored,
            "verb_id": row.verb_id,
            "registration": row.registration,
            "object_ref": row.object_ref,
            "is_voiding": row.is_voiding,
            "voided": not row.is_voiding
            and (row.statement_id in voided_here or voided_early[row.statement_id]),
            "credential_id": credential_id,
            "payload": row.payload,
        }
        for row in rows
        if row.statement_id in voided_early
    ]
    seq_by_id: dict[uuid.UUID, int] = {}
    if values:
        result = await session.execute(_SQLITE_INSERT, values)
        seq_by_id = {row.statement_id: row.seq for row in result}
    await _insert_index_rows(
        session,
        [
            (tenant_id, seq_by_id[row.statement_id], row)
            for row in rows
            if row.statement_id in seq_by_id
        ],
    )
    return Inserted(set(seq_by_id), {})


def _sqlite_registration() -> Any:
    """Registers a batch's ids and its voiding statements' other targets (`pending`), in id
    order so that concurrent writers lock rows in one order (the PostgreSQL write spells the
    same upsert in SQL). A statement's id that is pending (named by a voiding statement
    first) is new and learns from `voided_early` that it is voided; another id already there
    is a statement sent again. A target's pending row keeps the newest voiding statement's
    stored time, so that it lives as long as that statement; once the target is stored, its
    own (`statement_ids`)."""
    ids = sqlite.insert(statement_ids)
    upsert = ids.on_conflict_do_update(
        index_elements=["tenant_id", "statement_id"],
        set_={
            "stored": case(
                (ids.excluded.pending, func.max(statement_ids.c.stored, ids.excluded.stored)),
                else_=ids.excluded.stored,
            ),
            "pending": ids.excluded.pending,
            "voided_early": ~ids.excluded.pending,
        },
        where=statement_ids.c.pending,
    )
    return upsert.returning(
        statement_ids.c.statement_id, statement_ids.c.pending, statement_ids.c.voided_early
    )


_SQLITE_REGISTER = _sqlite_registration()
_SQLITE_INSERT = statements.insert().returning(statements.c.statement_id, statements.c.seq)
_VOID_TARGETS = (
    update(statements)
    .where(
        statements.c.tenant_id == bindparam("b_tenant"),
        statements.c.statement_id.in_(bindparam("b_targets", expanding=True)),
        statements.c.is_voiding == false(),
        statements.c.voided == false(),
    )
    .values(voided=True)
)


async def _insert_postgresql(
    session: AsyncSession,
    tenant_id: int,
    credential_id: int,
    rows: Sequence[StatementRow],
    voided_here: set[uuid.UUID],
    pending: Sequence[uuid.UUID],
    definitions_of: Collection[str],
    feeds: Sequence[Table],
) -> Inserted:
    values = _write_values(tenant_id, credential_id, rows, voided_here, pending)
    if definitions_of:
        values["defined_ids"] = list(definitions_of)
    write = _postgresql_write(
        "attachment_positions" in values, bool(definitions_of), _feed_names(session, feeds)
    )
    inserted = Inserted(set(), {})
    for statement_id, activity_id, definition in await session.execute(write, values):
        if statement_id is not None:
            inserted.new_ids.add(statement_id)
        else:
            inserted.definitions[activity_id] = definition
    return inserted


def _write_values(
    tenant_id: int,
    credential_id: int,
    rows: Sequence[StatementRow],
    voided_here: set[uuid.UUID],
    pending: Sequence[uuid.UUID],
) -> dict[str, Any]:
    """The parameters of a PostgreSQL write (`_WRITE_BATCH`): the batch as arrays, its index
    rows naming their statement by its position in the batch until it has a seq."""
    positioned = index_records((tenant_id, position, row) for position, row in enumerate(rows, 1))
    agent_rows = positioned[statement_agents]
    activity_rows = positioned[statement_activities]
    attachment_rows = positioned[statement_attachments]
    values: dict[str, Any] = {
        "tenant_id": tenant_id,
        "credential_id": credential_id,
        "statement_ids": [row.statement_id for row in rows],
        "stored": [row.stored for row in rows],
        "verb_ids": [row.verb_id for row in rows],
        "registrations": [row.registration for row in rows],
        "object_refs": [row.object_ref for row in rows],
        "is_voiding": [row.is_voiding for row in rows],
        "voided": [row.statement_id in voided_here for row in rows],
        "payloads": [row.payload for row in rows],
        "pending_ids": list(pending),
        "agent_positions": [record[0] for record in agent_rows],
        "agents": [record[1] for record in agent_rows],
        "agent_direct": [record[3] for record in agent_rows],
        "activity_positions": [record[0] for record in activity_rows],
        "activity_ids": [record[1] for record in activity_rows],
        "activity_direct": [record[3] for record in activity_rows],
    }
    if attachment_rows:
        values["attachment_positions"] = [record[0] for record in attachment_rows]
        values["attachment_sha2s"] = [record[1] for record in attachment_rows]
    return values


def _feed_names(session: AsyncSession, feeds: Sequence[Table]) -> tuple[str, ...]:
    return tuple(session.get_bind().dialect.identifier_preparer.format_table(f) for f in feeds)


async def insert_alone(
    session: AsyncSession,
    tenant_id: int,
    credential_id: int,
    row: StatementRow,
    definitions: Mapping[str, str],
    may_define: bool,
    feeds: Sequence[Table] = (),
) -> bool:
    """PostgreSQL, a session with no transaction begun: one new statement that voids nothing
    written by a single SQL statement that commits by itself, on a pool connection of its
    own (no BEGIN, no COMMIT: one round trip instead of three), with its index rows, its
    feeds' row and the Activities it introduces (`definitions`: its canonical definitions
    as JSON text by Activity id). Statements that arrive while such a write of their tenant
    and credential is on its way are written together after it (`_AloneWrites`).
    Returns False, having written nothing, when its id is stored already or, with
    `may_define`, one of its definitions would change a stored one; or on SQLite, or with a
    transaction begun, or when a write's worth of statements waits already; also when a
    write it waited for failed (one whose connection was lost after its commit may have
    written it). The caller then writes it in the request's transaction (which compares a
    re-sent statement, and merges definitions)."""
    if session.get_bind().dialect.name != "postgresql" or session.in_transaction():
        return False
    engine = session.bind
    assert isinstance(engine, AsyncEngine)
    writes = _ALONE_WRITES.setdefault(engine, _AloneWrites())
    key = _AloneKey(tenant_id, credential_id, may_define, _feed_names(session, feeds))
    return await writes.write(engine, key, _Alone(row, definitions))


class _AloneKey(NamedTuple):
    """What the statements of one write share."""

    tenant_id: int
    credential_id: int
    may_define: bool
    feeds: tuple[str, ...]


@dataclass(frozen=True)
class _Alone:
    row: StatementRow
    definitions: Mapping[str, str]


# Statements per write of statements that waited.
_ALONE_GROUP = 100


class _AloneWrites:
    """Single statements of one engine, written as they come: one that finds no write of its
    key on its way writes at once; the ones that arrive meanwhile wait, and one task writes
    them together when it is done, and so on until none wait. Concurrent single POSTs so
    cost about a batch's database work per statement instead of a statement's each, and a
    lone client waits for nothing. A write of several that fails is left to each request's
    own transaction (`False`), where its error, if it is one of its statements', is its
    own. A waiting statement's request no longer has its deadline (the statement may be in
    a write), so at most one write's worth waits: one that finds as many waiting goes to
    its own transaction, which the deadline bounds, rather than behind writes that a
    stalled database could make last a statement timeout each."""

    def __init__(self) -> None:
        self._waiting: dict[_AloneKey, list[tuple[_Alone, asyncio.Future[bool]]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def write(self, engine: AsyncEngine, key: _AloneKey, alone: _Alone) -> bool:
        # The write commits, so the deadline stops once it is sure to come (for the first,
        # once it has its connection); a wait for a row lock (its id or an Activity written
        # concurrently) is bounded by statement_timeout.
        waiting = self._waiting.get(key)
        if waiting is not None:  # a write of this key is on its way
            if len(waiting) >= _ALONE_GROUP:
                return False  # a write's worth waits already
            restore_deadline = lift_deadline()
            future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
            waiting.append((alone, future))
            # Shielded: the statement may be in a write already, whose result the
            # other statements of the write are owed.
            written = await asyncio.shield(future)
        else:
            self._waiting[key] = []
            try:
                async with pooled_driver_connection(engine, _ALONE_WRITE) as driver:
                    restore_deadline = lift_deadline()
                    written = alone.row.statement_id in await _write_together(
                        driver, engine.dialect, key, [alone]
                    )
            finally:
                self._hand_on(engine, key)
        if not written:
            restore_deadline()
        return written

    def _hand_on(self, engine: AsyncEngine, key: _AloneKey) -> None:
        """After the first write of `key`: a task writes what waited meanwhile, if any."""
        if self._waiting[key]:
            task = asyncio.create_task(self._write_waiting(engine, key))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        else:
            del self._waiting[key]

    async def _write_waiting(self, engine: AsyncEngine, key: _AloneKey) -> None:
        waiting = self._waiting[key]
        try:
            while waiting:
                group = _take_group(waiting)
                written: set[uuid.UUID] = set()
                try:
                    async with pooled_driver_connection(engine, _ALONE_WRITE) as driver:
                        written = await _write_together(
                            driver, engine.dialect, key, [alone for alone, _ in group]
                        )
                except (DBAPIError, PoolTimeout):
                    pass
                finally:  # cancelled, or failed otherwise: to their own transactions
                    for alone, future in group:
                        if not future.done():
                            future.set_result(alone.row.statement_id in written)
        finally:
            del self._waiting[key]
            for _, future in waiting:
                future.set_result(False)


_ALONE_WRITE = "statements written alone"


async def _write_together(
    driver: Any, dialect: Dialect, key: _AloneKey, group: Sequence[_Alone]
) -> set[uuid.UUID]:
    """The statements of `group` written by one SQL statement on `driver`, a pool
    connection of asyncpg's (`pooled_driver_connection`); the ids of those written."""
    values = _write_values(
        key.tenant_id, key.credential_id, [alone.row for alone in group], set(), []
    )
    defined = [
        (activity_id, definition, position)
        for position, alone in enumerate(group, 1)
        for activity_id, definition in alone.definitions.items()
    ]
    values |= {
        "defined_ids": [record[0] for record in defined],
        "definitions": [record[1] for record in defined],
        "defined_positions": [record[2] for record in defined],
        "may_define": key.may_define,
    }
    write = _postgresql_write_alone("attachment_positions" in values, key.feeds)
    sql, names = positional(write, dialect)
    records = await driver.fetch(sql, *[values[name] for name in names])
    return {record[0] for record in records}


_ALONE_WRITES: weakref.WeakKeyDictionary[AsyncEngine, _AloneWrites] = weakref.WeakKeyDictionary()


def _take_group(
    waiting: list[tuple[_Alone, asyncio.Future[bool]]],
) -> list[tuple[_Alone, asyncio.Future[bool]]]:
    """Up to `_ALONE_GROUP` of the waiting statements, oldest first, taken out of `waiting`;
    one that shares its id with a statement taken, or carries another definition of an
    Activity one taken defines, waits for the next write (one SQL statement cannot upsert a
    row twice)."""
    group: list[tuple[_Alone, asyncio.Future[bool]]] = []
    rest: list[tuple[_Alone, asyncio.Future[bool]]] = []
    ids: set[uuid.UUID] = set()
    defined: dict[str, str] = {}
    for entry in waiting:
        alone = entry[0]
        fits = (
            len(group) < _ALONE_GROUP
            and alone.row.statement_id not in ids
            and all(defined.get(a, d) == d for a, d in alone.definitions.items())
        )
        if fits:
            group.append(entry)
            ids.add(alone.row.statement_id)
            defined.update(alone.definitions)
        else:
            rest.append(entry)
    waiting[:] = rest
    return group


# One round trip for a whole batch on PostgreSQL: the batch travels as arrays (one parameter
# set, not one per statement) and the index rows ride along as data-modifying CTEs. Whether
# a new statement is voided is known before the statement: from its batch, or from its id's
# pending row (`registered`, the upsert `_sqlite_registration` describes). Parts a batch does
# not need are left out, which also shortens planning.
_WRITE_BATCH = """
    WITH batch AS (
        SELECT * FROM unnest(
            CAST(:statement_ids AS uuid[]), CAST(:stored AS timestamptz[]),
            CAST(:verb_ids AS text[]), CAST(:registrations AS uuid[]),
            CAST(:object_refs AS uuid[]), CAST(:is_voiding AS boolean[]),
            CAST(:voided AS boolean[]), CAST(:payloads AS text[])
        ) WITH ORDINALITY AS b(statement_id, stored, verb_id, registration, object_ref,
                               is_voiding, voided, payload, position)
    ){checks},
    registered AS (
        INSERT INTO statement_ids (tenant_id, statement_id, stored, pending)
        SELECT :tenant_id, i.statement_id, i.stored, i.pending FROM (
            SELECT b.statement_id, b.stored, false AS pending FROM batch b
            UNION ALL
            SELECT t.statement_id, (SELECT max(b.stored) FROM batch b), true
            FROM unnest(CAST(:pending_ids AS uuid[])) AS t(statement_id)
        ) i{proceed}
        ORDER BY i.statement_id
        ON CONFLICT (tenant_id, statement_id) DO UPDATE
            SET stored = CASE WHEN EXCLUDED.pending
                              THEN GREATEST(statement_ids.stored, EXCLUDED.stored)
                              ELSE EXCLUDED.stored END,
                pending = EXCLUDED.pending, voided_early = NOT EXCLUDED.pending
            WHERE statement_ids.pending
        RETURNING statement_id, pending, voided_early
    ),
    inserted AS (
        INSERT INTO statements (tenant_id, statement_id, stored, verb_id, registration,
                                object_ref, is_voiding, voided, credential_id, payload)
        SELECT :tenant_id, b.statement_id, b.stored, b.verb_id, b.registration, b.object_ref,
               b.is_voiding, NOT b.is_voiding AND (b.voided OR r.voided_early),
               :credential_id, b.payload
        FROM batch b JOIN registered r ON r.statement_id = b.statement_id AND NOT r.pending
        ORDER BY b.position
        RETURNING statement_id, seq, stored
    ),
    numbered AS (
        SELECT i.seq, i.stored, b.position
        FROM inserted i JOIN batch b ON b.statement_id = i.statement_id
    ),
    agent_rows AS (
        INSERT INTO statement_agents (statement_seq, agent, tenant_id, direct, stored)
        SELECT n.seq, a.agent, :tenant_id, a.direct, n.stored
        FROM unnest(CAST(:agent_positions AS bigint[]), CAST(:agents AS text[]),
                    CAST(:agent_direct AS boolean[])) AS a(position, agent, direct)
        JOIN numbered n ON n.position = a.position
    ),
    activity_rows AS (
        INSERT INTO statement_activities (statement_seq, activity_id, tenant_id, direct, stored)
        SELECT n.seq, a.activity_id, :tenant_id, a.direct, n.stored
        FROM unnest(CAST(:activity_positions AS bigint[]), CAST(:activity_ids AS text[]),
                    CAST(:activity_direct AS boolean[])) AS a(position, activity_id, direct)
        JOIN numbered n ON n.position = a.position
    )"""
_WRITE_ATTACHMENTS = """,
    attachment_rows AS (
        INSERT INTO statement_attachments (statement_seq, sha2, tenant_id, stored)
        SELECT n.seq, a.sha2, :tenant_id, n.stored
        FROM unnest(CAST(:attachment_positions AS bigint[]),
                    CAST(:attachment_sha2s AS text[])) AS a(position, sha2)
        JOIN numbered n ON n.position = a.position
    )"""
# A feed's row: the new statements' ids in the order of their seqs, when there are any.
_WRITE_FEED = """,
    feed_{number} AS (
        INSERT INTO {table} (tenant_id, statement_ids)
        SELECT :tenant_id, CAST(json_agg(statement_id ORDER BY seq) AS text) FROM inserted
        HAVING count(*) > 0
    )"""
_WRITE_ANSWER = """
    SELECT statement_id, NULL AS activity_id, NULL AS definition FROM inserted"""
# Each Activity looked up by itself (LATERAL, fenced by OFFSET 0 so that it stays a lookup):
# as `activity_id = ANY(...)`, a plan made while the table was small (a new database, kept
# until the next ANALYZE) read all the tenant's Activities for every write.
_WRITE_DEFINITIONS = """
    UNION ALL
    SELECT NULL, d.activity_id, d.definition
    FROM unnest(CAST(:defined_ids AS text[])) AS k(activity_id)
    CROSS JOIN LATERAL (
        SELECT activity_id, definition FROM activities
        WHERE tenant_id = :tenant_id AND activity_id = k.activity_id OFFSET 0
    ) d"""


# Statements written alone (`insert_alone`) proceed only when the definitions they carry
# change nothing stored (what `merge_definition` would keep as it is: each language of a
# language map or extension, every other property, equal; a map the stored definition
# lacks is a change, even an empty one), or when they may not change them; one that would
# holds back the whole write, and each of its statements goes to its request's transaction.
# Every CTE sees the same snapshot, so this is decided before anything is written.
# Component lists (interactions) are not compared here: such a statement is not sent alone.
_WRITE_ALONE_CHECKS = """,
    defined AS (
        SELECT d.activity_id, d.definition, d.position, CAST(d.definition AS jsonb) AS incoming,
               CAST(s.definition AS jsonb) AS known
        FROM unnest(CAST(:defined_ids AS text[]), CAST(:definitions AS text[]),
                    CAST(:defined_positions AS bigint[])) AS d(activity_id, definition, position)
        LEFT JOIN LATERAL (
            SELECT definition FROM activities
            WHERE tenant_id = :tenant_id AND activity_id = d.activity_id OFFSET 0
        ) s ON true
    ),
    unchanged AS (
        SELECT NOT :may_define OR NOT EXISTS (
            SELECT 1 FROM defined d, jsonb_each(d.incoming) AS p(name, value)
            WHERE d.known IS NOT NULL AND CASE
                WHEN p.name IN ('name', 'description', 'extensions')
                THEN d.known -> p.name IS NULL OR EXISTS (
                    SELECT 1 FROM jsonb_each(p.value) AS m(key, value)
                    WHERE d.known -> p.name -> m.key IS DISTINCT FROM m.value)
                ELSE d.known -> p.name IS DISTINCT FROM p.value
            END
        ) AS proceed
    )"""
_WRITE_ALONE_PROCEED = """
        WHERE (SELECT proceed FROM unchanged)"""
# The Activities the written statements introduce (one definition each: `_take_group`), as
# the usual write would add them: one that a concurrent write introduced meanwhile takes
# this definition when it may define (the later writer's, as there), and stays as it is
# otherwise.
_WRITE_ALONE_ACTIVITIES = """,
    introduced AS (
        INSERT INTO activities (tenant_id, activity_id, definition)
        SELECT DISTINCT ON (d.activity_id) :tenant_id, d.activity_id, d.definition
        FROM defined d JOIN numbered n ON n.position = d.position
        WHERE d.known IS NULL
        ORDER BY d.activity_id
        ON CONFLICT (tenant_id, activity_id) DO UPDATE SET definition = EXCLUDED.definition
            WHERE :may_define
    )"""


def _write_parts(attachments: bool, feeds: tuple[str, ...]) -> str:
    return (_WRITE_ATTACHMENTS if attachments else "") + "".join(
        _WRITE_FEED.format(number=n, table=table) for n, table in enumerate(feeds)
    )


@functools.lru_cache(maxsize=8)
def _postgresql_write(attachments: bool, definitions: bool, feeds: tuple[str, ...]) -> TextClause:
    """The write for a batch with (or without) attachments and Activity definitions to look
    up, and its feeds' rows; the answer lists the new ids, then the stored definitions."""
    return text(
        _WRITE_BATCH.format(checks="", proceed="")
        + _write_parts(attachments, feeds)
        + _WRITE_ANSWER
        + (_WRITE_DEFINITIONS if definitions else "")
    )


@functools.lru_cache(maxsize=8)
def _postgresql_write_alone(attachments: bool, feeds: tuple[str, ...]) -> TextClause:
    """`insert_alone`'s write; the answer is the statement's id when it was written."""
    return text(
        _WRITE_BATCH.format(checks=_WRITE_ALONE_CHECKS, proceed=_WRITE_ALONE_PROCEED)
        + _write_parts(attachments, feeds)
        + _WRITE_ALONE_ACTIVITIES
        + _WRITE_ANSWER
    )


# The index tables and the column order of their records.
INDEX_COLUMNS = {
    statement_agents: ("statement_seq", "agent", "tenant_id", "direct", "stored"),
    statement_activities: ("statement_seq", "activity_id", "tenant_id", "direct", "stored"),
    statement_attachments: ("statement_seq", "sha2", "tenant_id", "stored"),
}


def index_records(rows: Iterable[tuple[int, int, StatementRow]]) -> dict[Table, list[Any]]:
    """The index rows of statements given as (tenant id, seq, row), as records per table."""
    agents: list[Any] = []
    activities: list[Any] = []
    attachments: list[Any] = []
    for tenant_id, seq, row in rows:
        stored = row.stored
        agents.extend((seq, agent, tenant_id, d, stored) for agent, d in row.agents.items())
        activities.extend((seq, a, tenant_id, d, stored) for a, d in row.activities.items())
        attachments.extend((seq, sha2, tenant_id, stored) for sha2 in sorted(row.attachments))
    return {
        statement_agents: agents,
        statement_activities: activities,
        statement_attachments: attachments,
    }


async def _insert_index_rows(
    session: AsyncSession, rows: Sequence[tuple[int, int, StatementRow]]
) -> None:
    """The index rows of statements given as (tenant id, seq, row)."""
    connection = await session.connection()
    for table, records in index_records(rows).items():
        await write_records(connection, table, INDEX_COLUMNS[table], records)


class StoredPayload(NamedTuple):
    statement_id: uuid.UUID
    payload: str
    voided: bool


async def payloads(
    session: AsyncSession, tenant_id: int, statement_ids: Iterable[uuid.UUID]
) -> list[StoredPayload]:
    """The stored statements of `statement_ids` in the tenant, in no order."""
    ids = list(statement_ids)
    if not ids:  # every batch asks for its re-sent statements, usually none
        return []
    if session.get_bind().dialect.name == "postgresql":
        # One array parameter: a list of 1,000 took SQLAlchemy longer to expand than the
        # database to answer.
        result = await session.execute(_PAYLOADS, {"tenant_id": tenant_id, "ids": ids})
        return [StoredPayload(*row) for row in result]
    found: list[StoredPayload] = []
    c = statements.c
    for start in range(0, len(ids), 1000):  # under the drivers' parameter limits
        chunk = ids[start : start + 1000]
        result = await session.execute(
            select(c.statement_id, c.payload, c.voided).where(
                c.tenant_id == tenant_id, c.statement_id.in_(chunk)
            )
        )
        found.extend(StoredPayload(*row) for row in result)
    return found


# Through the ids' rows, which name each statement's month: `statement_id = ANY(...)` on
# `statements` alone probed every month's partition (100 ids, 28 months of 260,000
# statements: 6-9 ms, 0.7-2.3 ms this way). Each id by itself (LATERAL, fenced): a plain
# join could be planned as a hash join over every partition.
_PAYLOADS = text(
    "SELECT s.statement_id, s.payload, s.voided FROM statement_ids i CROSS JOIN LATERAL ("
    " SELECT statement_id, payload, voided FROM statements s WHERE s.tenant_id = i.tenant_id"
    " AND s.statement_id = i.statement_id AND s.stored = i.stored OFFSET 0) s"
    " WHERE i.tenant_id = :tenant_id AND i.statement_id = ANY(CAST(:ids AS uuid[]))"
)


async def live_page(
    session: AsyncSession, tenant_id: int, after: tuple[datetime, int] | None, limit: int
) -> list[StoredStatement]:
    """Statements neither voided nor voiding, in stored order, after the (stored, seq) key."""
    query = select(statements.c.seq, statements.c.stored, statements.c.payload).where(
        statements.c.tenant_id == tenant_id,
        statements.c.voided == false(),
        statements.c.is_voiding == false(),
    )
    if after is not None:
        query = query.where(tuple_(statements.c.stored, statements.c.seq) > tuple_(*after))
    rows = await session.execute(query.order_by(statements.c.stored, statements.c.seq).limit(limit))
    return [StoredStatement(row.seq, row.stored, row.payload) for row in rows]


def in_tenants(column: ColumnElement[int], tenant_ids: Sequence[int]) -> ColumnElement[bool]:
    """The reader's tenants: one (an equality the indexes serve best) or a subtree."""
    return column == tenant_ids[0] if len(tenant_ids) == 1 else column.in_(tenant_ids)


async def get_statement(
    session: AsyncSession,
    tenant_ids: Sequence[int],
    statement_id: uuid.UUID,
    credential_id: int | None,
) -> tuple[StoredStatement, bool] | None:
    """The statement and whether it is voided (the first stored, should tenants of a
    roll-up each hold one with this id). Through the id's row, as `payloads`."""
    ids = statement_ids
    in_its_month = and_(
        statements.c.tenant_id == ids.c.tenant_id,
        statements.c.statement_id == ids.c.statement_id,
        statements.c.stored == ids.c.stored,
    )
    query = (
        select(statements.c.seq, statements.c.stored, statements.c.payload, statements.c.voided)
        .select_from(ids.join(statements, in_its_month))
        .where(
            in_tenants(ids.c.tenant_id, tenant_ids),
            ids.c.statement_id == statement_id,
        )
    )
    if credential_id is not None:
        query = query.where(statements.c.credential_id == credential_id)
    row = (await session.execute(query.order_by(statements.c.seq).limit(1))).first()
    if row is None:
        return None
    return StoredStatement(row.seq, row.stored, row.payload), bool(row.voided)


@dataclass(frozen=True)
class _Shape:
    """What the SQL of a query page depends on. The values (tenants, filters, window, cursor,
    page size) travel as parameters, so each shape is built and compiled once: building the
    expression of a roll-up query cost more (~4 ms) than running it."""

    tenants: int
    agent: bool
    related_agents: bool
    verb: bool
    activity: bool
    related_activities: bool
    registration: bool
    since: bool
    until: bool
    mine: bool  # statements/read/mine: the reader's own statements only
    ascending: bool
    after: bool  # a later page of a `more` chain
    postgresql: bool

    @property
    def has_match_filters(self) -> bool:
        return self.agent or self.verb or self.activity or self.registration


def _tenant_params(column: ColumnElement[int], count: int) -> ColumnElement[bool]:
    """The reader's tenants, as parameters tenant_0 .. tenant_<count - 1>."""
    if count == 1:
        return column == bindparam("tenant_0")
    return column.in_([bindparam(f"tenant_{i}") for i in range(count)])


def _matches(
    target: FromClause, shape: _Shape, *, agent: bool, activity: bool
) -> list[ColumnElement[bool]]:
    """`target` (the statements table or an alias) meets the match filters (xAPI-Communication
    2.1.3 table 1: agent, verb, activity, registration); `agent` / `activity` say whether
    those two are checked here or by the branch's driving index."""
    conditions: list[ColumnElement[bool]] = []
    if shape.verb:
        conditions.append(target.c.verb_id == bindparam("verb"))
    if shape.registration:
        conditions.append(target.c.registration == bindparam("registration"))
    for link, column, wanted, related in (
        (statement_agents, "agent", agent, shape.related_agents),
        (statement_activities, "activity_id", activity, shape.related_activities),
    ):
        if wanted:
            conditions.append(
                exists().where(
                    link.c.statement_seq == target.c.seq,
                    # Always equal (link rows copy it); it confines each probe to one
                    # monthly partition on PostgreSQL.
                    link.c.stored == target.c.stored,
                    link.c[column] == bindparam(column),
                    true() if related else link.c.direct,
                )
            )
    return conditions


def _visible(target: FromClause, shape: _Shape) -> list[ColumnElement[bool]]:
    """Not voided, and the reader's own statements when it may read only those."""
    conditions: list[ColumnElement[bool]] = [target.c.voided == false()]
    if shape.mine:
        conditions.append(target.c.credential_id == bindparam("credential_id"))
    return conditions


def _window(
    shape: _Shape, stored: ColumnElement[Any], seq: ColumnElement[Any]
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    # xAPI-Communication 2.1.3: since is exclusive, until inclusive.
    if shape.since:
        conditions.append(stored > bindparam("since"))
    if shape.until:
        conditions.append(stored <= bindparam("until"))
    if shape.after:
        # Typed as the columns: inside a tuple a bare parameter takes no type from them.
        after_stored = bindparam("after_stored", type_=stored.type)
        after_seq = bindparam("after_seq", type_=seq.type)
        # A row comparison, which PostgreSQL takes as a bound of the (..., stored, seq)
        # indexes and SQLite as one on stored (seq is its rowid): as `stored < s OR
        # (stored = s AND seq < q)` it was a filter, so each page's walk began at the first
        # match and threw away every page before it (4,766 rows at page 100, EXPLAIN
        # ANALYZE at 1M statements).
        keys, cursor = tuple_(stored, seq), tuple_(after_stored, after_seq)
        conditions.append(keys > cursor if shape.ascending else keys < cursor)
    return conditions


def _ordered(
    shape: _Shape, query: Select[Any], stored: ColumnElement[Any], seq: ColumnElement[Any]
) -> Select[Any]:
    order = (stored.asc(), seq.asc()) if shape.ascending else (stored.desc(), seq.desc())
    return query.order_by(*order).limit(bindparam("limit"))


_KEYS = (statements.c.seq, statements.c.stored)
_COLUMNS = (*_KEYS, statements.c.payload)


def _direct_branch(tenant: int, shape: _Shape, payload: bool) -> Select[Any]:
    """One tenant's statements that meet the filters themselves, in page order: their seq and
    stored, and `payload` when asked for. A query by agent or activity walks that link table's
    (tenant, key, stored) index, which hands rows over in order, so the LIMIT stops the walk
    early; otherwise the statements table's own (tenant, verb | registration | -, stored)
    indexes do the same."""
    wanted = _COLUMNS if payload else _KEYS
    tenant_id: BindParameter[Any] = bindparam(f"tenant_{tenant}")
    if shape.agent:
        link, key, related = statement_agents, statement_agents.c.agent, shape.related_agents
    elif shape.activity:
        link, key = statement_activities, statement_activities.c.activity_id
        related = shape.related_activities
    else:
        query = select(*wanted).where(
            statements.c.tenant_id == tenant_id,
            *_matches(statements, shape, agent=False, activity=False),
            *_visible(statements, shape),
        )
        stored, seq = statements.c.stored, statements.c.seq
        return _ordered(shape, query.where(*_window(shape, stored, seq)), stored, seq)
    stored, seq = link.c.stored, link.c.statement_seq
    # The statement of each link row, meeting the other filters.
    conditions = [
        statements.c.seq == seq,
        # Always equal (link rows copy it); on PostgreSQL it confines the probe to one month.
        statements.c.stored == stored,
        *_matches(statements, shape, agent=False, activity=shape.agent and shape.activity),
        *_visible(statements, shape),
    ]
    if shape.postgresql:
        # PostgreSQL: a LATERAL probe (LIMIT 1, so the planner keeps it a per-row probe)
        # rather than a join, whose row estimate, multiplying the seq and stored equalities
        # as if independent, falls to 1 and turns the ordered index walk into a sort of
        # every match.
        probe = select(*wanted).where(*conditions).limit(1).lateral("matched")
        joined = link.join(probe, true())
        columns = tuple(probe.c[column.name] for column in wanted)
    else:
        joined = link.join(statements, and_(*conditions))
        columns = wanted
    query = (
        select(*columns)
        .select_from(joined)
        .where(
            link.c.tenant_id == tenant_id,
            key == bindparam(key.name),
            true() if related else link.c.direct,
        )
    )
    return _ordered(shape, query.where(*_window(shape, stored, seq)), stored, seq)


def _referring(shape: _Shape) -> Select[Any]:
    """Statements that match through a StatementRef object, recursively
    (xAPI-Communication 2.1.3.s3): those whose target meets the filters, then those that
    target them. Only statements with an object_ref take part, a small partial index.
    Voided statements still count as targets here (2.1.4.s1.b2)."""
    referring, target = statements.alias("referring"), statements.alias("target")
    # Driven from the referring side (EXISTS, not a join), so the planner walks the small
    # partial index rather than every statement that meets the filters.
    start = select(referring.c.seq, referring.c.statement_id).where(
        referring.c.object_ref.is_not(None),
        # On SQLite `+ 0` keeps the tenant off any index: with no statistics for an empty
        # partial index it would otherwise walk every statement of the tenant (0.5 s a query
        # at 1M statements, EXPLAIN QUERY PLAN) instead of the few that refer to another.
        _tenant_params(
            referring.c.tenant_id if shape.postgresql else referring.c.tenant_id + 0,
            shape.tenants,
        ),
        exists().where(
            target.c.statement_id == referring.c.object_ref,
            _tenant_params(target.c.tenant_id, shape.tenants),
            *_matches(target, shape, agent=shape.agent, activity=shape.activity),
        ),
    )
    chain = start.cte("chain", recursive=True)
    further = statements.alias("further")
    chain = chain.union(
        select(further.c.seq, further.c.statement_id)
        .join(chain, further.c.object_ref == chain.c.statement_id)
        .where(
            further.c.object_ref.is_not(None),
            _tenant_params(further.c.tenant_id, shape.tenants),
        )
    )
    query = select(*_KEYS).where(
        statements.c.seq.in_(select(chain.c.seq)),
        *_visible(statements, shape),
        *_window(shape, statements.c.stored, statements.c.seq),
    )
    return _ordered(shape, query, statements.c.stored, statements.c.seq)


@functools.lru_cache(maxsize=1024)
def _page_query(shape: _Shape) -> Executable:
    """Each reader tenant is its own index-ordered branch, limited to the page size; so are
    statements matching through StatementRefs. The cost of a page is then a few index walks
    of `limit` rows, however many statements match. With several branches, they yield only
    keys, merged and cut to the page in one round trip before the page's payloads are read:
    every branch's payloads would be several pages of JSON to send and decode."""
    if shape.tenants == 1 and not shape.has_match_filters:
        return _direct_branch(0, shape, payload=True)
    branches = [_direct_branch(tenant, shape, payload=False) for tenant in range(shape.tenants)]
    if shape.has_match_filters:
        branches.append(_referring(shape))
    # UNION, not UNION ALL: a statement can match both itself and through its StatementRef.
    candidates = union(*(select(*branch.subquery().c) for branch in branches)).subquery()
    keys = select(candidates.c.seq, candidates.c.stored)
    page = _ordered(shape, keys, candidates.c.stored, candidates.c.seq).subquery("page")
    query = select(*_COLUMNS).join(
        page, and_(statements.c.seq == page.c.seq, statements.c.stored == page.c.stored)
    )
    return _ordered(shape, query, statements.c.stored, statements.c.seq)


async def query_statements(
    session: AsyncSession,
    tenant_ids: Sequence[int],
    where: StatementFilter,
    *,
    ascending: bool,
    limit: int,
    after: Cursor | None,
) -> list[StoredStatement]:
    """One page of a statement query, in `stored` order (then insertion order)."""
    since, until = where.since, where.until
    # A cursor inside the window is the bound of its side alone: SQLite takes one bound a
    # side for an index range, and it took `until` rather than the cursor.
    if after is not None and ascending and since is not None and after.stored > since:
        since = None
    if after is not None and not ascending and until is not None and after.stored <= until:
        until = None
    shape = _Shape(
        tenants=len(tenant_ids),
        agent=where.agent is not None,
        related_agents=where.related_agents and where.agent is not None,
        verb=where.verb is not None,
        activity=where.activity is not None,
        related_activities=where.related_activities and where.activity is not None,
        registration=where.registration is not None,
        since=since is not None,
        until=until is not None,
        mine=where.credential_id is not None,
        ascending=ascending,
        after=after is not None,
        postgresql=session.get_bind().dialect.name == "postgresql",
    )
    values: dict[str, Any] = {f"tenant_{i}": tenant for i, tenant in enumerate(tenant_ids)}
    values["limit"] = limit
    for name, value in (
        ("agent", where.agent),
        ("verb", where.verb),
        ("activity_id", where.activity),
        ("registration", where.registration),
        ("since", since),
        ("until", until),
        ("credential_id", where.credential_id),
    ):
        if value is not None:
            values[name] = value
    if after is not None:
        values["after_stored"], values["after_seq"] = after.stored, after.seq
    result = await session.execute(_page_query(shape), values)
    return [StoredStatement(seq, stored, payload) for seq, stored, payload in result]


async def definitions_by_id(
    session: AsyncSession, tenant_ids: Sequence[int], activity_ids: Iterable[str]
) -> dict[str, str]:
    """Canonical definitions; where several of the tenants define an Activity, the one of
    the earliest tenant in `tenant_ids` (the reader's own comes first)."""
    ids = list(activity_ids)
    if not ids:
        return {}
    result = await session.execute(
        select(activities.c.tenant_id, activities.c.activity_id, activities.c.definition).where(
            in_tenants(activities.c.tenant_id, tenant_ids), activities.c.activity_id.in_(ids)
        )
    )
    rank = {tenant_id: position for position, tenant_id in enumerate(tenant_ids)}
    found: dict[str, tuple[int, str]] = {}
    for row in result:
        if row.activity_id not in found or rank[row.tenant_id] < found[row.activity_id][0]:
            found[row.activity_id] = (rank[row.tenant_id], row.definition)
    return {activity_id: definition for activity_id, (_, definition) in found.items()}


async def upsert_definitions(
    session: AsyncSession, tenant_id: int, definitions: Mapping[str, str], *, replace: bool
) -> None:
    """Writes canonical definitions; `replace=False` only adds Activities not seen before."""
    rows = [
        {"tenant_id": tenant_id, "activity_id": activity_id, "definition": definition}
        for activity_id, definition in sorted(definitions.items())
    ]
    if rows:
        dialect = session.get_bind().dialect.name
        await session.execute(_DEFINITION_WRITES[dialect, replace], rows)


def _definition_writes() -> dict[tuple[str, bool], Any]:
    writes: dict[tuple[str, bool], Any] = {}
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite)):
        insert = dialect.insert(activities)
        keys = ["tenant_id", "activity_id"]
        writes[name, True] = insert.on_conflict_do_update(
            index_elements=keys, set_={"definition": insert.excluded.definition}
        )
        writes[name, False] = insert.on_conflict_do_nothing(index_elements=keys)
    return writes


# Built once per back end: building an upsert costs more than running it.
_DEFINITION_WRITES = _definition_writes()


async def insert_attachments(
    session: AsyncSession, tenant_id: int, parts: Iterable[tuple[str, str, bytes]]
) -> None:
    """Stores attachment bytes once per (tenant, sha2); parts are (sha2, content type, data)."""
    rows = [
        {"tenant_id": tenant_id, "sha2": sha2, "content_type": content_type, "data": data}
        for sha2, content_type, data in parts
    ]
    if rows:
        await session.execute(
            dialect_insert(session, attachments).on_conflict_do_nothing(
                index_elements=["tenant_id", "sha2"]
            ),
            rows,
        )


async def attachments_by_sha2(
    session: AsyncSession, tenant_ids: Sequence[int], hashes: Iterable[str]
) -> list[tuple[str, str, bytes]]:
    wanted = sorted(set(hashes))
    if not wanted:
        return []
    result = await session.execute(
        select(attachments.c.sha2, attachments.c.content_type, attachments.c.data).where(
            in_tenants(attachments.c.tenant_id, tenant_ids), attachments.c.sha2.in_(wanted)
        )
    )
    unique = {sha2: (content_type, bytes(data)) for sha2, content_type, data in result.all()}
    return [(sha2, content_type, data) for sha2, (content_type, data) in unique.items()]


@dataclass(frozen=True)
class MentioningStatement:
    seq: int
    tenant_id: int
    stored: datetime
    payload: str


async def statements_mentioning(
    session: AsyncSession, tenant_ids: Sequence[int], agent: str
) -> list[MentioningStatement]:
    """Every statement whose agent index rows name this agent (actor, object, context,
    authority, Group member)."""
    link = statement_agents
    query = (
        select(statements.c.seq, statements.c.tenant_id, statements.c.stored, statements.c.payload)
        .join(link, link.c.statement_seq == statements.c.seq)
        .where(in_tenants(link.c.tenant_id, tenant_ids), link.c.agent == agent)
        .order_by(statements.c.seq)
    )
    rows = (await session.execute(query)).all()
    return [MentioningStatement(row.seq, row.tenant_id, row.stored, row.payload) for row in rows]


async def delete_statements(session: AsyncSession, seqs: Sequence[int]) -> None:
    """Deletes statements with their index rows and their ids. Pending ids keep to what
    remains: those only deleted voiding statements named go, and a deleted statement that a
    remaining voiding statement names leaves its id pending (it is voided if sent again)."""
    for start in range(0, len(seqs), _CHUNK):
        chunk = seqs[start : start + _CHUNK]
        deleted = (
            await session.execute(
                select(
                    statements.c.tenant_id,
                    statements.c.statement_id,
                    statements.c.is_voiding,
                    statements.c.object_ref,
                ).where(statements.c.seq.in_(chunk))
            )
        ).all()
        await _delete_index_rows(session, chunk)
        keys = [(row.tenant_id, row.statement_id) for row in deleted]
        await session.execute(
            delete(statement_ids).where(
                tuple_(statement_ids.c.tenant_id, statement_ids.c.statement_id).in_(keys)
            )
        )
        await session.execute(delete(statements).where(statements.c.seq.in_(chunk)))
        named = [(row.tenant_id, row.object_ref) for row in deleted if row.is_voiding]
        if named:
            await _delete_unnamed_pending(session, named)
        await restore_pending(session, keys)


async def _delete_unnamed_pending(
    session: AsyncSession, keys: Sequence[tuple[int, uuid.UUID]]
) -> None:
    voiding = statements.alias("voiding")
    await session.execute(
        delete(statement_ids).where(
            statement_ids.c.pending,
            tuple_(statement_ids.c.tenant_id, statement_ids.c.statement_id).in_(keys),
            ~exists().where(
                voiding.c.object_ref == statement_ids.c.statement_id,
                voiding.c.tenant_id == statement_ids.c.tenant_id,
                voiding.c.is_voiding,
            ),
        )
    )


async def restore_pending(
    session: AsyncSession, keys: Sequence[tuple[int, uuid.UUID]] | None = None
) -> None:
    """A pending id for each target (among `keys`, or any) that a stored voiding statement
    names and that has no id row, stored at its newest voiding statement's time."""
    voiding = statements.alias("voiding")
    targets = select(
        voiding.c.tenant_id, voiding.c.object_ref, func.max(voiding.c.stored), true()
    ).where(
        voiding.c.is_voiding,
        voiding.c.object_ref.is_not(None),
        ~exists().where(
            statement_ids.c.tenant_id == voiding.c.tenant_id,
            statement_ids.c.statement_id == voiding.c.object_ref,
        ),
    )
    if keys is not None:
        targets = targets.where(tuple_(voiding.c.tenant_id, voiding.c.object_ref).in_(keys))
    await session.execute(
        insert(statement_ids).from_select(
            ["tenant_id", "statement_id", "stored", "pending"],
            targets.group_by(voiding.c.tenant_id, voiding.c.object_ref),
        )
    )


async def _delete_index_rows(session: AsyncSession, seqs: Sequence[int]) -> None:
    # Explicit rather than by cascade alone: SQLite connections made outside this service's
    # engine may run without foreign keys.
    for table in (statement_agents, statement_activities, statement_attachments):
        await session.execute(delete(table).where(table.c.statement_seq.in_(seqs)))


_PAYLOAD_UPDATE = (
    update(statements)
    .where(statements.c.seq == bindparam("b_seq"))
    .values(payload=bindparam("b_payload"))
)


async def rewrite_statements(
    session: AsyncSession, rewrites: Sequence[tuple[int, int, StatementRow]]
) -> None:
    """Replaces stored statements' payloads and index rows (pseudonymisation); rewrites are
    (tenant id, seq, new row). A few statements per chunk, not per statement."""
    for start in range(0, len(rewrites), _CHUNK):
        chunk = rewrites[start : start + _CHUNK]
        await _delete_index_rows(session, [seq for _, seq, _ in chunk])
        await session.execute(
            _PAYLOAD_UPDATE, [{"b_seq": seq, "b_payload": row.payload} for _, seq, row in chunk]
        )
        await _insert_index_rows(session, chunk)


async def seqs_stored_before(
    session: AsyncSession, tenant_id: int, cutoff: datetime, limit: int
) -> list[int]:
    query = (
        select(statements.c.seq)
        .where(statements.c.tenant_id == tenant_id, statements.c.stored < cutoff)
        .order_by(statements.c.stored)
        .limit(limit)
    )
    return list((await session.scalars(query)).all())


async def delete_unreferenced_attachments(session: AsyncSession, tenant_ids: Sequence[int]) -> int:
    """Attachment bytes no remaining statement of their tenant references."""
    link = statement_attachments
    result = await session.execute(
        delete(attachments).where(
            in_tenants(attachments.c.tenant_id, tenant_ids),
            ~exists().where(
                link.c.tenant_id == attachments.c.tenant_id, link.c.sha2 == attachments.c.sha2
            ),
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
