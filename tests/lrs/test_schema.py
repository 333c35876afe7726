"""The migrations build exactly the tables the code declares, and the exported OpenAPI
document is the running app's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection

from lrs.app import create_app
from lrs.db import all_tables, create_engine

OPENAPI = Path(__file__).parent.parent.parent / "openapi" / "openapi.json"


async def test_migrations_match_table_declarations(database_url: str) -> None:
    def differences(connection: Connection) -> list[Any]:
        return list(compare_metadata(MigrationContext.configure(connection), all_tables()))

    engine = create_engine(database_url)
    async with engine.connect() as connection:
        diff = await connection.run_sync(differences)
    await engine.dispose()
    assert diff == []


def test_exported_openapi_is_current() -> None:
    """`make openapi` writes openapi/openapi.json; it must equal what the app serves."""
    assert json.loads(OPENAPI.read_text()) == create_app().openapi()
