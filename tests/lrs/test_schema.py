"""The migrations build exactly the tables the code declares, and the exported OpenAPI
document is the running app's."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, select, text
from sqlalchemy import column as sa_column
from sqlalchemy import table as sa_table

from analytics.tables import analytics_evidence
from lrs.app import create_app
from lrs.db import alembic_config, all_tables, create_engine, create_sessionmaker, migrate
from statements import partitions
from statements.store import StatementRow, insert_statements
from statements.tables import statement_ids, statements

OPENAPI = Path(__file__).parent.parent.parent / "openapi" / "openapi.json"


async def test_migrations_match_table_declarations(database_url: str) -> None:
    """Partitions of PostgreSQL's partitioned tables are the database's business (made by
    month); the declared tables are their parents."""

    def declared_or_not_partition(name: str | None, kind: str, _parents: Any) -> bool:
        return kind != "table" or name is None or not partitions.is_partition(name)

    def differences(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(
            connection, opts={"include_name": declared_or_not_partition}
        )
        return list(compare_metadata(context, all_tables()))

    engine = create_engine(database_url)
    async with engine.connect() as connection:
        diff = await connection.run_sync(differences)
    await engine.dispose()
    assert diff == []


async def test_the_migrations_set_the_declared_storage_parameters(database_url: str) -> None:
    """`postgresql_with` of a declared table (fillfactor for updates in place) is what the
    migrations gave the table; alembic's comparison does not look at storage parameters."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no storage parameters")
    options = {
        table.name: table.dialect_options["postgresql"]["with"]
        for table in all_tables().tables.values()
    }
    declared = {
        name: sorted(f"{key}={value}" for key, value in given.items())
        for name, given in options.items()
        if given
    }
    assert declared  # the learner models declare some
    engine = create_engine(database_url)
    async with engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT relname, reloptions FROM pg_class WHERE relname = ANY(:names)"),
            {"names": list(declared)},
        )
        migrated = {name: sorted(options or []) for name, options in rows}
    await engine.dispose()
    assert migrated == declared


def _upgrade(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def test_the_tenancy_migration_keeps_existing_data(empty_database_url: str) -> None:
    """0003 gives tenants made before the tree a path of their own (each is a root), and
    links stored statements to their attachments, so erasure and retention keep them."""

    engine = create_engine(empty_database_url)
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade, "0002")
        await connection.execute(
            text("INSERT INTO tenants (name, created_at) VALUES ('old', CURRENT_TIMESTAMP)")
        )
        payload = {"attachments": [{"sha2": "AB12"}], "object": {"objectType": "SubStatement",
                   "attachments": [{"sha2": "cd34"}]}}  # fmt: skip
        await connection.execute(
            statements.insert().values(
                tenant_id=1,
                statement_id=uuid.uuid4(),
                stored=datetime.now(UTC),
                verb_id="http://example.com/verb",
                is_voiding=False,
                voided=False,
                credential_id=1,
                payload=json.dumps(payload),
            )
        )
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade, "head")
        row = (await connection.execute(text("SELECT id, path FROM tenants"))).one()
        links = await connection.execute(text("SELECT sha2 FROM statement_attachments"))
        hashes = sorted(links.scalars())
    await engine.dispose()
    assert row.path == f"/{row.id}/"
    assert hashes == ["ab12", "cd34"]


def _plain_row(statement_id: uuid.UUID, stored: datetime) -> StatementRow:
    """A statement row with nothing to index, for writes after a migration."""
    return StatementRow(
        statement_id=statement_id, stored=stored, verb_id="http://example.com/verb",
        registration=None, object_ref=None, is_voiding=False, payload="{}",
        agents={}, activities={},
    )  # fmt: skip


async def test_the_partitioning_migration_keeps_existing_data(empty_database_url: str) -> None:
    """0004 keeps every statement and index row, registers the stored ids (a re-sent id is
    still known), dates attachment links, and on PostgreSQL files old months in partitions
    of their own rather than the default one."""
    engine = create_engine(empty_database_url)
    old_id, new_id = uuid.uuid4(), uuid.uuid4()
    now = datetime.now(UTC)
    long_ago = now - timedelta(days=150)
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade, "0003")
        for seq, (statement_id, stored) in enumerate(((old_id, long_ago), (new_id, now)), 1):
            await connection.execute(
                statements.insert().values(
                    seq=seq, tenant_id=1, statement_id=statement_id, stored=stored,
                    verb_id="http://example.com/verb", is_voiding=False, voided=False,
                    credential_id=1, payload="{}",
                )
            )  # fmt: skip
            await connection.execute(
                text(
                    "INSERT INTO statement_agents (statement_seq, agent, tenant_id, direct, "
                    "stored) VALUES (:seq, 'mbox:mailto:a@example.com', 1, true, :stored)"
                ),
                {"seq": seq, "stored": stored if connection.dialect.name != "sqlite" else
                 stored.replace(tzinfo=None)},
            )  # fmt: skip
        await connection.execute(
            text("INSERT INTO statement_attachments (statement_seq, sha2, tenant_id) "
                 "VALUES (1, 'ab12', 1)")
        )  # fmt: skip
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade, "head")
        counts = [
            await connection.scalar(text(f"SELECT count(*) FROM {table}"))  # noqa: S608
            for table in ("statements", "statement_agents", "statement_ids")
        ]
        linked = await connection.scalar(text("SELECT stored FROM statement_attachments"))
        if connection.dialect.name == "postgresql":
            home = await connection.scalar(
                text("SELECT tableoid::regclass::text FROM statements WHERE seq = 1")
            )
            assert home == partitions.partition_name("statements", partitions.month_start(long_ago))
    async with create_sessionmaker(engine)() as session:
        inserted = await insert_statements(session, 1, 1, [_plain_row(old_id, now)])
        await session.rollback()
    await engine.dispose()
    assert counts == [2, 2, 2]
    assert linked is not None
    assert inserted.new_ids == set()


async def test_the_pending_ids_migration_remembers_early_voiding(empty_database_url: str) -> None:
    """0005 gives the target of a stored voiding statement that was never stored a pending
    id, so the target is stored voided when it arrives, as before the migration."""
    engine = create_engine(empty_database_url)
    target_id, voiding_id = uuid.uuid4(), uuid.uuid4()
    now = datetime.now(UTC)
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade, "0004")
        await connection.execute(
            statements.insert().values(
                tenant_id=1, statement_id=voiding_id, stored=now,
                verb_id="http://adlnet.gov/expapi/verbs/voided", object_ref=target_id,
                is_voiding=True, voided=False, credential_id=1, payload="{}",
            )
        )  # fmt: skip
        await connection.execute(
            statement_ids.insert().values(tenant_id=1, statement_id=voiding_id, stored=now)
        )
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade, "head")
    async with create_sessionmaker(engine)() as session:
        inserted = await insert_statements(session, 1, 1, [_plain_row(target_id, now)])
        voided = await session.scalar(
            select(statements.c.voided).where(statements.c.statement_id == target_id)
        )
        await session.rollback()
    await engine.dispose()
    assert inserted.new_ids == {target_id}
    assert voided is True


async def test_the_evidence_stored_migration_backfills_and_drops_orphans(
    empty_database_url: str,
) -> None:
    """0009 gives existing evidence its statement's `stored`, and deletes evidence whose
    statement retention deleted before (its stored time is unknown, its record must go)."""
    engine = create_engine(empty_database_url)
    kept, orphan = uuid.uuid4(), uuid.uuid4()
    stored = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    # The columns a row needs at 0008, typed as the code declares them.
    needed = ("tenant_id", "learner", "activity_id", "at", "statement_id", "relation", "verb")
    evidence = sa_table(
        "analytics_evidence",
        *(sa_column(name, analytics_evidence.c[name].type) for name in (*needed, "completed")),
    )
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade, "0008")
        await connection.execute(
            statement_ids.insert().values(tenant_id=1, statement_id=kept, stored=stored)
        )
        for statement_id in (kept, orphan):
            await connection.execute(
                evidence.insert().values(
                    tenant_id=1, learner="mbox:mailto:a@example.com",
                    activity_id="https://example.com/a", at=stored, statement_id=statement_id,
                    relation="object", verb="http://adlnet.gov/expapi/verbs/completed",
                    completed=True,
                )
            )  # fmt: skip
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade, "head")
    async with create_sessionmaker(engine)() as session:
        rows = (
            await session.execute(
                select(analytics_evidence.c.statement_id, analytics_evidence.c.stored)
            )
        ).all()
    await engine.dispose()
    assert [tuple(row) for row in rows] == [(kept, stored)]


async def test_the_ids_stored_migration_gives_filled_targets_their_own_time(
    empty_database_url: str,
) -> None:
    """0014: an id row a target filled after its voiding statement (`voided_early`) held the
    later of the two stored times; it takes its statement's. Other rows stay as they are,
    even one whose time differs from its statement's (not the migration's to judge)."""
    engine = create_engine(empty_database_url)
    target, other = uuid.uuid4(), uuid.uuid4()
    stored = datetime.now(UTC).replace(microsecond=0)
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade, "0013")
        for statement_id, id_stored, voided_early in (
            (target, stored + timedelta(hours=5), True),
            (other, stored + timedelta(hours=1), False),
        ):
            await connection.execute(
                statement_ids.insert().values(
                    tenant_id=1, statement_id=statement_id, stored=id_stored,
                    voided_early=voided_early,
                )
            )  # fmt: skip
            await connection.execute(
                statements.insert().values(
                    tenant_id=1, statement_id=statement_id, stored=stored,
                    verb_id="http://example.com/verb", is_voiding=False, voided=voided_early,
                    credential_id=1, payload="{}",
                )
            )  # fmt: skip
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade, "head")
    async with create_sessionmaker(engine)() as session:
        rows = await session.execute(select(statement_ids.c.statement_id, statement_ids.c.stored))
        by_id = dict(rows.all())
    await engine.dispose()
    assert by_id == {target: stored, other: stored + timedelta(hours=1)}


async def test_instances_starting_together_migrate_once(empty_database_url: str) -> None:
    """`lrs serve` migrates at start; several instances starting at once must all succeed."""
    engines = [create_engine(empty_database_url) for _ in range(3)]
    await asyncio.gather(*(migrate(engine) for engine in engines))
    async with engines[0].connect() as connection:
        versions = (await connection.execute(text("SELECT version_num FROM alembic_version"))).all()
    for engine in engines:
        await engine.dispose()
    assert len(versions) == 1


def test_exported_openapi_is_current() -> None:
    """`make openapi` writes openapi/openapi.json; it must equal what the app serves."""
    assert json.loads(OPENAPI.read_text()) == create_app().openapi()
