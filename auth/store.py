"""All SQL of tenants and credentials."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.tables import credentials, tenants


@dataclass(frozen=True)
class CredentialRow:
    id: int
    tenant_id: int
    key: str
    secret_hash: str
    scopes: list[str]
    name: str


async def tenant_id_by_name(session: AsyncSession, name: str) -> int | None:
    return await session.scalar(select(tenants.c.id).where(tenants.c.name == name))


async def insert_tenant(session: AsyncSession, name: str) -> int:
    result = await session.execute(
        tenants.insert().values(name=name, created_at=datetime.now(UTC)).returning(tenants.c.id)
    )
    return int(result.scalar_one())


async def credential_by_key(session: AsyncSession, key: str) -> CredentialRow | None:
    row = (await session.execute(select(credentials).where(credentials.c.key == key))).first()
    if row is None:
        return None
    return CredentialRow(
        id=row.id,
        tenant_id=row.tenant_id,
        key=row.key,
        secret_hash=row.secret_hash,
        scopes=list(row.scopes),
        name=row.name,
    )


async def insert_credential(
    session: AsyncSession,
    *,
    tenant_id: int,
    key: str,
    secret_hash: str,
    scopes: list[str],
    name: str,
) -> int:
    values: dict[str, Any] = {
        "tenant_id": tenant_id,
        "key": key,
        "secret_hash": secret_hash,
        "scopes": scopes,
        "name": name,
        "created_at": datetime.now(UTC),
    }
    result = await session.execute(credentials.insert().values(values).returning(credentials.c.id))
    return int(result.scalar_one())
