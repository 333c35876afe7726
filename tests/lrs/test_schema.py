"""The migrations build exactly the tables the code declares, and the exported OpenAPI
document is the running app's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, text

from lrs.app import create_app
from lrs.db import alembic_config, all_tables, create_engine

OPENAPI = Path(__file__).parent.parent.parent / "openapi" / "openapi.json"


async def test_migrations_match_table_declarations(database_url: str) -> None:
    def differences(connection: Connection) -> list[Any]:
        return list(compare_metadata(MigrationContext.configure(connection), all_tables()))

    engine = create_engine(database_url)
    async with engine.connect() as connection:
        diff = await connection.run_sync(differences)
    await engine.dispose()
    assert diff == []


async def test_the_tenant_tree_migration_keeps_existing_tenants(empty_database_url: str) -> None:
    """0003 gives tenants made before the tree a path of their own: each is a root."""

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
    async with engine.begin() as connection:
        await connection.run_sync(upgrade, "head")
        row = (await connection.execute(text("SELECT id, path FROM tenants"))).one()
    await engine.dispose()
    assert row.path == f"/{row.id}/"


def test_exported_openapi_is_current() -> None:
    """`make openapi` writes openapi/openapi.json; it must equal what the app serves."""
    assert json.loads(OPENAPI.read_text()) == create_app().openapi()
