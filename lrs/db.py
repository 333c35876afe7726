"""Database engines, sessions, shared column types and the migration entry point."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import importlib
from collections.abc import AsyncIterator, Callable, MutableMapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import asyncpg
from alembic import command
from alembic.config import Config
from fastapi import Depends, Request
from sqlalchemy import BigInteger, Connection, DateTime, Integer, MetaData, Table, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import Pool, PoolProxiedConnection
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.types import TypeDecorator

from lrs.settings import MAX_OVERFLOW, POOL_SIZE
from statements import partitions

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)

# SQLite only makes INTEGER PRIMARY KEY an auto-incrementing rowid alias.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on both back ends (SQLite keeps no zone, so it is stored as UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def dialect_insert(session: AsyncSession, table: Table) -> Any:
    """INSERT with the back end's ON CONFLICT clauses (both dialects spell them alike)."""
    name = session.get_bind().dialect.name
    return (postgresql.insert if name == "postgresql" else sqlite.insert)(table)


def create_engine(
    database_url: str,
    statement_timeout: float = 0,
    pool_size: int = POOL_SIZE,
    max_overflow: int = MAX_OVERFLOW,
) -> AsyncEngine:
    """An engine; on PostgreSQL `statement_timeout` seconds (0: none) bound each statement,
    so a request the service gave up on does not keep the database busy."""
    # hide_parameters: a database error's text (which may reach a log) never holds values
    # of statements or credentials.
    if database_url.startswith("sqlite"):
        engine = create_async_engine(
            database_url, connect_args={"timeout": 30}, hide_parameters=True
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    # No JIT: it compiles every statement whose estimated cost passes jit_above_cost, as the
    # statement write's does: ~10 ms of backend CPU for a statement that runs in one.
    # plan_cache_mode stays auto (PostgreSQL keeps a prepared statement's plan only when it
    # costs no more than planning each time): forcing a kept plan, made while a table was
    # small, left a sequential scan of it as it grew, until the next ANALYZE.
    # No pre-ping: it costs three round trips per request. A connection the server dropped
    # fails its request once (503, see lrs.app) and the pool replaces it.
    # Last in, first out: under light load the same few connections serve, warm. Taken in
    # turn, every connection a busy spell opened met each query shape cold (its first plan
    # over the statement partitions: 100-250 ms at 1M statements, against 10-20 ms).
    # The pool is sized past a worker's usual share of clients: at 10, 16 clients spread
    # 11 to 5 over two workers kept opening connections beyond it and closing them again
    # (160 new connections in nine rounds of 2,000 single POSTs, 25 at 20).
    return create_async_engine(
        database_url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_use_lifo=True,
        hide_parameters=True,
        connect_args={
            "server_settings": {
                "jit": "off",
                "statement_timeout": str(round(statement_timeout * 1000)),
            }
        },
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the single writer; synchronous=NORMAL is durable in WAL mode
    # across process crashes (only an OS crash can lose the last commits).
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def reads_only(engine: AsyncEngine) -> AsyncEngine:
    """The engine for sessions that only read. On PostgreSQL their queries run outside a
    transaction: a READ COMMITTED transaction gives each query its own snapshot anyway, so
    its BEGIN and ROLLBACK were two round trips that changed no answer (a GET of one
    Activity: three round trips, now one)."""
    if engine.dialect.name != "postgresql":
        return engine  # SQLite begins no transaction for a read by itself either
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


# The request's deadline (set by lrs.middleware.RequestMiddleware); a commit lifts it.
DEADLINE = contextvars.ContextVar[asyncio.Timeout | None]("deadline", default=None)


def lift_deadline() -> Callable[[], None]:
    """From here the request's deadline no longer applies: what follows commits, and a COMMIT
    cut short could have reached the database while the request answered 503. A request
    whose deadline passed before commits nothing. Returns what puts the deadline back, for a
    write that turned out not to commit."""
    deadline = DEADLINE.get()
    if deadline is None:
        return lambda: None
    if deadline.expired():
        raise asyncio.CancelledError
    due = deadline.when()
    deadline.reschedule(None)
    return lambda: deadline.reschedule(due)


async def commit(session: AsyncSession) -> None:
    """Commits a request's transaction, past its deadline (`lift_deadline`)."""
    lift_deadline()
    await session.commit()


# The sessions a request opened (`get_session`, `get_read_session`), in its ASGI scope.
_REQUEST_SESSIONS = "lrs.sessions"


def _request_session(
    request: Request, sessionmaker: async_sessionmaker[AsyncSession]
) -> AsyncSession:
    # Not a dependency that yields: FastAPI runs each of those in an exit stack and an anyio
    # cancel scope, about a tenth of a single POST's CPU. RequestMiddleware closes it instead.
    session = sessionmaker()
    request.scope.setdefault(_REQUEST_SESSIONS, []).append(session)
    return session


async def close_request_sessions(scope: MutableMapping[str, Any]) -> None:
    """Closes what the request opened (rolling back what it did not commit), once it ends."""
    for session in scope.pop(_REQUEST_SESSIONS, ()):
        try:
            await session.close()
        except DBAPIError:
            # Its connection died inside a transaction, which cannot roll back: the pool
            # drops the connection instead (the database rolled back when it went).
            await session.invalidate()


async def get_session(request: Request) -> AsyncSession:
    """The request's one transaction. Routes commit it explicitly before answering."""
    return _request_session(request, request.app.state.sessionmaker)


DbSession = Annotated[AsyncSession, Depends(get_session)]


async def get_read_session(request: Request) -> AsyncSession:
    """A session for queries only, on LRS_READ_DATABASE_URL (a replica) when it is set,
    else on the primary. Nothing is written through it."""
    return _request_session(request, request.app.state.read_sessionmaker)


ReadSession = Annotated[AsyncSession, Depends(get_read_session)]


@contextlib.asynccontextmanager
async def writer_turn(request: Request, session: AsyncSession) -> AsyncIterator[None]:
    """On SQLite, this process's statement writes take turns, first come first served,
    before they ask for the database's one write lock: SQLite serves its waiters in no
    order, and under 16 concurrent writers a batch waited past the request deadline. The
    turn ends with the transaction (a write that fails rolls back before it passes the
    turn on). PostgreSQL needs no turns (`writer_turns` is None)."""
    turns: asyncio.Lock | None = request.app.state.writer_turns
    if turns is None:
        yield
        return
    async with turns:
        try:
            yield
        except BaseException:
            await session.rollback()
            raise


async def read_through(request: Request, session: AsyncSession) -> datetime:
    """Up to when a query on `session` sees every write (X-Experience-API-Consistent-Through):
    now on the primary; on a PostgreSQL standby, the commit time of the last transaction it
    has replayed, so a lagging replica says so instead of claiming to be current."""
    now = datetime.now(UTC)
    if not request.app.state.settings.read_database_url:
        return now
    if session.get_bind().dialect.name != "postgresql":
        return now
    replayed = await session.scalar(text("SELECT pg_last_xact_replay_timestamp()"))
    return now if replayed is None else min(now, replayed)


# Every module that declares tables on `metadata`; importing them completes it.
TABLE_MODULES = (
    "auth.tables",
    "statements.tables",
    "documents.tables",
    "tenancy.tables",
    "cmi5.tables",
    "analytics.tables",
)


def all_tables() -> MetaData:
    for module in TABLE_MODULES:
        importlib.import_module(module)
    return metadata


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent.parent / "migrations"))
    return config


_MIGRATION_LOCK = 0x4C5253  # "LRS": the advisory lock key of migrations


async def migrate(engine: AsyncEngine) -> None:
    """Bring the database to the newest schema (`lrs migrate`, `lrs serve`, tests).

    Instances started together (`--workers`, several hosts) migrate one at a time; the later
    ones find the schema at head and change nothing."""

    def upgrade(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")

    if engine.dialect.name == "postgresql":
        async with engine.begin() as connection:
            await connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK}
            )
            await connection.run_sync(upgrade)
            await partitions.ensure_current_months(connection)
        return
    for attempt in range(_SQLITE_MIGRATION_ATTEMPTS):
        try:
            async with engine.begin() as connection:
                # The driver opens a transaction only at the first data change: take the
                # write lock before Alembic reads the schema version.
                await connection.exec_driver_sql("BEGIN IMMEDIATE")
                await connection.run_sync(upgrade)
            return
        except OperationalError as error:
            # Another process switching a new file to WAL answers "locked" at once rather
            # than through the busy timeout.
            if "locked" not in str(error) or attempt == _SQLITE_MIGRATION_ATTEMPTS - 1:
                raise
            await asyncio.sleep(0.2 * (attempt + 1))


_SQLITE_MIGRATION_ATTEMPTS = 5


async def write_records(
    connection: AsyncConnection,
    table: Table,
    columns: Sequence[str],
    records: list[Any],
    *,
    key: Sequence[str] = (),
    adding: bool = False,
) -> None:
    """Plain rows, the fastest way the driver has: COPY on PostgreSQL (inside the caller's
    transaction), one executemany of tuples on SQLite. With `key`, a row whose key is
    stored already replaces its other columns, or with `adding` adds to them; on
    PostgreSQL, which cannot COPY into an upsert, the rows are copied to a temporary table
    and merged from it in one statement (no two records may share a key)."""
    if not records:
        return
    dialect = connection.dialect
    upsert = ""
    if key:
        changed = [name for name in columns if name not in key]
        values = (
            f"{table.name}.{name} + excluded.{name}" if adding else f"excluded.{name}"
            for name in changed
        )
        updates = ", ".join(
            f"{name} = {value}" for name, value in zip(changed, values, strict=True)
        )
        upsert = f" ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
    if dialect.name == "postgresql":
        proxied = await connection.get_raw_connection()
        raw = proxied.driver_connection
        if raw is None or not raw.is_in_transaction():
            raise RuntimeError("COPY outside a transaction would not roll back with it")
        pool = connection.sync_engine.pool
        async with _driver_errors(proxied, pool, f"COPY into {table.name}", connection):
            await _copy_postgresql(raw, table.name, columns, records, upsert)
        return
    processors = [table.c[name].type.bind_processor(dialect) for name in columns]
    if any(processors):
        records = [
            tuple(p(v) if p else v for p, v in zip(processors, record, strict=True))
            for record in records
        ]
    listed = ", ".join(columns)
    marks = ", ".join("?" * len(columns))
    insert = f"INSERT INTO {table.name} ({listed}) VALUES ({marks}){upsert}"  # noqa: S608 - our names
    await connection.exec_driver_sql(insert, records)


@contextlib.asynccontextmanager
async def _driver_errors(
    proxied: PoolProxiedConnection,
    pool: Pool,
    what: str,
    connection: AsyncConnection | None = None,
) -> AsyncIterator[None]:
    """Errors raised by asyncpg past SQLAlchemy, which wraps what it runs itself, wrapped as
    a DBAPIError with the driver's error (and its sqlstate) as `orig`: a caller meets one
    kind of database error (the app's 503 / 409 / 400, the learner models' retry) whichever
    way the statement went. When the error closed the connection, the pool is told as
    SQLAlchemy tells it of a disconnect it meets itself: this connection is invalidated,
    and those made before it are replaced at their next checkout (a server that dropped one
    has usually dropped them all); so is `connection`, the SQLAlchemy one around it."""
    try:
        yield
    except (
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
        asyncpg.InternalClientError,
        OSError,
    ) as error:
        lost = proxied.driver_connection is None or proxied.driver_connection.is_closed()
        if lost:
            pool._invalidate(proxied, error)  # what SQLAlchemy calls
            if connection is not None:
                await connection.invalidate(error)
        raise DBAPIError(what, None, error, connection_invalidated=lost) from error


@contextlib.asynccontextmanager
async def pooled_driver_connection(engine: AsyncEngine, what: str) -> AsyncIterator[Any]:
    """One of the pool's asyncpg connections by itself, with no SQLAlchemy connection or
    session around it and no transaction begun: each statement on it commits by itself.
    Around a request's one write, SQLAlchemy's session and execution (binding, results,
    greenlet hops) had cost about a third of a single POST's CPU. Errors are wrapped as
    `_driver_errors` wraps them."""
    proxied = await engine.raw_connection()
    try:
        async with _driver_errors(proxied, engine.sync_engine.pool, what):
            yield proxied.driver_connection
    finally:
        proxied.close()  # no transaction was begun on it, so its reset does no I/O


@functools.lru_cache(maxsize=32)
def positional(clause: TextClause, dialect: Dialect) -> tuple[str, tuple[str, ...]]:
    """`clause` (a constant statement) as the driver takes it: its SQL, and the names of its
    values in their order. A text clause has no types, so the values go as given."""
    compiled = clause.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    return compiled.string, tuple(compiled.positiontup or ())


async def _copy_postgresql(
    raw: Any, table: str, columns: Sequence[str], records: list[Any], upsert: str
) -> None:
    if not upsert:
        await raw.copy_records_to_table(table, records=records, columns=columns)
        return
    listed = ", ".join(columns)
    staged = f"{table}_staged"
    await raw.execute(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {staged} (LIKE {table}) ON COMMIT DELETE ROWS"
    )
    await raw.copy_records_to_table(staged, records=records, columns=columns)
    # Emptied as it merges: a transaction may write the same table more than once.
    await raw.execute(
        f"WITH staged AS (DELETE FROM {staged} RETURNING *)"  # noqa: S608 - our names
        f" INSERT INTO {table} ({listed}) SELECT {listed} FROM staged{upsert}"
    )
