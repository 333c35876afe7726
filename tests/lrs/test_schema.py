"""The migrations build exactly the tables the code declares, and the exported OpenAPI
document is the running app's."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, text

from lrs.app import create_app
from lrs.db import alembic_config, all_tables, create_engine, migrate
from statements.tables import statements

OPENAPI = Path(__file__).parent.parent.parent / "openapi" / "openapi.json"


async def test_migrations_match_table_declarations(database_url: str) -> None:
    def differences(connection: Connection) -> list[Any]:
        return list(compare_metadata(MigrationContext.configure(connection), all_tables()))

    engine = create_engine(database_url)
    async with engine.connect() as connection:
        diff = await connection.run_sync(differences)
    await engine.dispose()
    assert diff == []


async def test_the_tenancy_migration_keeps_existing_data(empty_database_url: str) -> None:
    """0003 gives tenants made before the tree a path of their own (each is a root), and
    links stored statements to their attachments, so erasure and retention keep them."""

    def upgrade(connection: Connection, revision: str) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    engine = create_engine(empty_database_url)
    async with engine.begin() as connection:
        await connection.run_sync(upgrade, "0002")
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
        await connection.run_sync(upgrade, "head")
        row = (await connection.execute(text("SELECT id, path FROM tenants"))).one()
        links = await connection.execute(text("SELECT sha2 FROM statement_attachments"))
        hashes = sorted(links.scalars())
    await engine.dispose()
    assert row.path == f"/{row.id}/"
    assert hashes == ["ab12", "cd34"]


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
