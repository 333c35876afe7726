"""All SQL of documents. Writes are compare-and-swap on the ETag, so concurrent writers of
one document never lose an update silently: the loser sees False and decides."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from documents.tables import documents
from lrs.db import dialect_insert


@dataclass(frozen=True)
class StoredDocument:
    content_type: str
    content: bytes
    etag: str
    updated: datetime


def _key(tenant_id: int, scope_hash: str, document_id: str) -> list[ColumnElement[bool]]:
    return [
        documents.c.tenant_id == tenant_id,
        documents.c.scope_hash == scope_hash,
        documents.c.document_id == document_id,
    ]


async def get(
    session: AsyncSession,
    tenant_id: int,
    scope_hash: str,
    document_id: str,
    *,
    for_update: bool = False,
) -> StoredDocument | None:
    """The document; `for_update` locks it until the transaction ends on PostgreSQL, so
    concurrent writers of one document take turns instead of retrying (SQLite has a single
    writer at a time anyway, and no row locks)."""
    query = select(
        documents.c.content_type, documents.c.content, documents.c.etag, documents.c.updated
    ).where(*_key(tenant_id, scope_hash, document_id))
    if for_update:
        query = query.with_for_update()
    row = (await session.execute(query)).first()
    if row is None:
        return None
    return StoredDocument(row.content_type, bytes(row.content), row.etag, row.updated)


async def insert_if_absent(
    session: AsyncSession,
    tenant_id: int,
    scope_hash: str,
    document_id: str,
    new: StoredDocument,
    agent: str | None,
) -> bool:
    """Creates the document unless one exists already; True when it was created."""
    statement = (
        dialect_insert(session, documents)
        .values(
            tenant_id=tenant_id,
            scope_hash=scope_hash,
            document_id=document_id,
            agent=agent,
            content_type=new.content_type,
            content=new.content,
            etag=new.etag,
            updated=new.updated,
        )
        .on_conflict_do_nothing(index_elements=["tenant_id", "scope_hash", "document_id"])
        .returning(documents.c.id)
    )
    return (await session.execute(statement)).first() is not None


async def replace_if_unchanged(
    session: AsyncSession,
    tenant_id: int,
    scope_hash: str,
    document_id: str,
    expected_etag: str,
    new: StoredDocument,
) -> bool:
    """Overwrites the document if it still has `expected_etag`; True when it was written."""
    statement = (
        update(documents)
        .where(*_key(tenant_id, scope_hash, document_id), documents.c.etag == expected_etag)
        .values(
            content_type=new.content_type, content=new.content, etag=new.etag, updated=new.updated
        )
        .returning(documents.c.id)
    )
    return (await session.execute(statement)).first() is not None


async def delete_one(
    session: AsyncSession,
    tenant_id: int,
    scope_hash: str,
    document_id: str,
    expected_etag: str | None = None,
) -> bool:
    """Deletes the document (only if it still has `expected_etag`, when given); True if it did."""
    conditions = _key(tenant_id, scope_hash, document_id)
    if expected_etag is not None:
        conditions.append(documents.c.etag == expected_etag)
    statement = delete(documents).where(*conditions).returning(documents.c.id)
    return (await session.execute(statement)).first() is not None


async def delete_scope(session: AsyncSession, tenant_id: int, scope_hash: str) -> None:
    await session.execute(
        delete(documents).where(
            documents.c.tenant_id == tenant_id, documents.c.scope_hash == scope_hash
        )
    )


async def list_ids(
    session: AsyncSession, tenant_id: int, scope_hash: str, since: datetime | None
) -> tuple[list[str], datetime | None]:
    """Document ids in the scope changed after `since`, and the newest change among them."""
    conditions = [documents.c.tenant_id == tenant_id, documents.c.scope_hash == scope_hash]
    if since is not None:
        conditions.append(documents.c.updated > since)
    result = await session.execute(
        select(documents.c.document_id, documents.c.updated)
        .where(*conditions)
        .order_by(documents.c.document_id)
    )
    rows = result.all()
    newest = max((row.updated for row in rows), default=None)
    return [row.document_id for row in rows], newest


async def delete_of_agents(
    session: AsyncSession, tenant_ids: Sequence[int], agents: Sequence[str]
) -> int:
    """Deletes the State and Agent Profile documents of these agents (IFI keys)."""
    result = await session.execute(
        delete(documents).where(
            documents.c.tenant_id.in_(tenant_ids), documents.c.agent.in_(agents)
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def delete_updated_before(session: AsyncSession, tenant_id: int, cutoff: datetime) -> int:
    result = await session.execute(
        delete(documents).where(documents.c.tenant_id == tenant_id, documents.c.updated < cutoff)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
