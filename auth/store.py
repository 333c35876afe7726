"""All SQL of tenants and credentials."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from auth.tables import credentials, tenants


@dataclass(frozen=True)
class TenantRow:
    id: int
    name: str
    parent_id: int | None
    path: str
    retention_days: int | None
    created_at: datetime


@dataclass(frozen=True)
class CredentialRow:
    id: int
    tenant_id: int
    key: str
    secret_hash: str
    scopes: list[str]
    role: str | None
    rollup: bool
    name: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


def _tenant(row: Row[Any]) -> TenantRow:
    return TenantRow(row.id, row.name, row.parent_id, row.path, row.retention_days, row.created_at)


def _credential(row: Row[Any]) -> CredentialRow:
    return CredentialRow(
        id=row.id,
        tenant_id=row.tenant_id,
        key=row.key,
        secret_hash=row.secret_hash,
        scopes=list(row.scopes),
        role=row.role,
        rollup=bool(row.rollup),
        name=row.name,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


async def tenant_by_name(session: AsyncSession, name: str) -> TenantRow | None:
    row = (await session.execute(select(tenants).where(tenants.c.name == name))).first()
    return None if row is None else _tenant(row)


async def tenant_by_id(session: AsyncSession, tenant_id: int) -> TenantRow | None:
    row = (await session.execute(select(tenants).where(tenants.c.id == tenant_id))).first()
    return None if row is None else _tenant(row)


async def insert_tenant(
    session: AsyncSession,
    name: str,
    parent: TenantRow | None,
    retention_days: int | None,
    created_at: datetime,
) -> TenantRow:
    parent_id = parent.id if parent else None
    values = {
        "name": name,
        "parent_id": parent_id,
        "path": "/",  # completed below, once the id is known
        "retention_days": retention_days,
        "created_at": created_at,
    }
    tenant_id = int(
        (
            await session.execute(tenants.insert().values(values).returning(tenants.c.id))
        ).scalar_one()
    )
    path = f"{parent.path if parent else '/'}{tenant_id}/"
    await session.execute(update(tenants).where(tenants.c.id == tenant_id).values(path=path))
    return TenantRow(tenant_id, name, parent_id, path, retention_days, created_at)


async def subtree(session: AsyncSession, path: str) -> list[TenantRow]:
    """The tenant with this path and every tenant below it, parents before children."""
    query = select(tenants).where(tenants.c.path.startswith(path, autoescape=True))
    rows = (await session.execute(query.order_by(tenants.c.path))).all()
    return sorted((_tenant(row) for row in rows), key=lambda tenant: tenant.path.count("/"))


async def tenants_by_ids(session: AsyncSession, tenant_ids: Sequence[int]) -> list[TenantRow]:
    query = select(tenants).where(tenants.c.id.in_(tenant_ids))
    return [_tenant(row) for row in (await session.execute(query)).all()]


async def all_tenants(session: AsyncSession) -> list[TenantRow]:
    return [_tenant(row) for row in (await session.execute(select(tenants))).all()]


async def update_tenant(session: AsyncSession, tenant_id: int, values: dict[str, Any]) -> None:
    await session.execute(update(tenants).where(tenants.c.id == tenant_id).values(values))


async def credential_by_key(session: AsyncSession, key: str) -> CredentialRow | None:
    row = (await session.execute(select(credentials).where(credentials.c.key == key))).first()
    return None if row is None else _credential(row)


async def credential_by_id(session: AsyncSession, credential_id: int) -> CredentialRow | None:
    query = select(credentials).where(credentials.c.id == credential_id)
    row = (await session.execute(query)).first()
    return None if row is None else _credential(row)


async def credentials_of(session: AsyncSession, tenant_ids: Sequence[int]) -> list[CredentialRow]:
    query = (
        select(credentials)
        .where(credentials.c.tenant_id.in_(tenant_ids))
        .order_by(credentials.c.id)
    )
    return [_credential(row) for row in (await session.execute(query)).all()]


async def insert_credential(session: AsyncSession, values: dict[str, Any]) -> int:
    result = await session.execute(credentials.insert().values(values).returning(credentials.c.id))
    return int(result.scalar_one())


async def update_credential(
    session: AsyncSession, credential_id: int, values: dict[str, Any]
) -> None:
    await session.execute(
        update(credentials).where(credentials.c.id == credential_id).values(values)
    )
