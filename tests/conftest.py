"""Every storage test runs twice: on SQLite and on a real PostgreSQL database.

The databases are created here, brought to head by the migrations, and dropped at the end.
PostgreSQL is expected at LRS_TEST_POSTGRES_URL (default: 127.0.0.1:5432, user postgres);
when it cannot be reached the PostgreSQL tests fail rather than skip.
"""

from __future__ import annotations

import base64
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Insert, insert

from auth import service as auth_service
from auth.models import Principal, Role, Scope
from lrs.app import create_app
from lrs.db import create_engine, create_sessionmaker, migrate
from lrs.settings import Settings
from statements.tables import statement_ids

POSTGRES_URL = os.environ.get(
    "LRS_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
# The learner models' queue first: a background fold holding queue rows then finishes
# before its models' rows are deleted under it (the other order deadlocks).
TABLES_TO_EMPTY = (
    "analytics_queue",
    "analytics_evidence",
    "analytics_states",
    "analytics_parameters",
    "analytics_memory_parameters",
    "analytics_totals",
    "cmi5_sessions",
    "cmi5_progress",
    "cmi5_registrations",
    "cmi5_files",
    "cmi5_courses",
    "statement_agents",
    "statement_activities",
    "statement_attachments",
    "statement_ids",
    "statements",
    "activities",
    "attachments",
    "documents",
    "person_agents",
    "people",
    "audit_log",
)


@pytest.fixture(scope="session", autouse=True)
def cheap_secret_hashes() -> Iterator[None]:
    """Secrets hashed at scrypt's N=2**10, not the service's 2**14: the tests make thousands
    of credentials, at 40 ms each at full cost. A hash carries its own N, so verifying is
    the same code either way."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(auth_service, "_SCRYPT_N", 2**10)
        yield


def basic(key: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()


async def _postgres_admin() -> asyncpg.Connection:
    return await asyncpg.connect(POSTGRES_URL.replace("postgresql+asyncpg", "postgresql"))


async def _empty_database(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """The URL of a new, empty database on `backend`, dropped afterwards."""
    if backend == "sqlite":
        path: Path = tmp_path_factory.mktemp("sqlite") / "lrs.db"
        yield f"sqlite+aiosqlite:///{path}"
        return
    name = f"lrs_test_{uuid.uuid4().hex[:12]}"
    admin = await _postgres_admin()
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    admin = await _postgres_admin()
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
async def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """One database per back end for the session, at the newest schema."""
    async for url in _empty_database(request.param, tmp_path_factory):
        engine = create_engine(url)
        await migrate(engine)
        await engine.dispose()
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
async def empty_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A database of its own with no schema, for migration tests."""
    async for url in _empty_database(request.param, tmp_path_factory):
        yield url


@pytest.fixture
def cli_database(empty_database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh database the `lrs` command works on, with no admin credential made."""
    monkeypatch.setenv("LRS_ADMIN_KEY", "")
    monkeypatch.setenv("LRS_DATABASE_URL", empty_database_url)  # restored afterwards
    return empty_database_url


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(environment="test", database_url=database_url, admin_key=None)


@contextlib.asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The app, started, for the length of the block; the records it wrote are deleted."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app
        async with app.state.engine.begin() as connection:
            for table in TABLES_TO_EMPTY:
                await connection.exec_driver_sql(f"DELETE FROM {table}")  # noqa: S608


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    async with running_app(settings) as app:
        yield app


async def make_credential(
    app: FastAPI,
    scopes: list[Scope],
    tenant: str = "acme",
    *,
    role: Role | None = None,
    expires_at: datetime | None = None,
) -> tuple[str, str]:
    """A new credential on `tenant` (a root tenant, made if new); returns its Authorization
    header value and key."""
    async with create_sessionmaker(app.state.engine)() as session:
        made = await auth_service.create_credential(
            session,
            tenant=await auth_service.ensure_tenant(session, tenant),
            key=f"key-{uuid.uuid4().hex[:10]}",
            scopes=scopes,
            role=role,
            expires_at=expires_at,
        )
        await session.commit()
    return basic(made.row.key, made.secret), made.row.key


async def principal_of(app: FastAPI, authorization: str) -> Principal:
    """The Principal the service makes of an Authorization header."""
    async with create_sessionmaker(app.state.engine)() as session:
        principal: Principal = await app.state.authenticator.authenticate(session, authorization)
        await session.commit()
    return principal


def id_row(tenant_id: int, statement: dict[str, Any], *, pending: bool = False) -> Insert:
    """An id row for `statement`'s id, stored now, with no statement written for it."""
    return insert(statement_ids).values(
        tenant_id=tenant_id,
        statement_id=uuid.UUID(statement["id"]),
        stored=datetime.now(UTC),
        pending=pending,
    )


def client_for(
    app: FastAPI, authorization: str | None, version: str = "1.0.3"
) -> httpx.AsyncClient:
    headers = {"X-Experience-API-Version": version}
    if authorization is not None:
        headers["Authorization"] = authorization
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver", headers=headers
    )


@pytest.fixture(params=["1.0.3", "2.0.0"])
def xapi_version(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def client(app: FastAPI, xapi_version: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client with scope `all`, speaking each xAPI version in turn."""
    authorization, _ = await make_credential(app, [Scope.ALL])
    async with client_for(app, authorization, xapi_version) as client:
        yield client
