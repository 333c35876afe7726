"""Documents of the State, Activity Profile and Agent Profile resources.

A document lives in a scope (resource kind + activity + agent + registration) under its id;
`scope_hash` names the scope in a fixed width, so the unique and list indexes stay small
whatever the length of the IRIs and agent identifiers in it.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, LargeBinary, String, Table, UniqueConstraint

from lrs.db import BigIntPK, UTCDateTime, metadata

documents = Table(
    "documents",
    metadata,
    Column("id", BigIntPK, primary_key=True, autoincrement=True),
    Column("tenant_id", Integer, nullable=False),
    Column("scope_hash", String(64), nullable=False),
    Column("document_id", String(1024), nullable=False),
    # The agent of a State or Agent Profile document (IFI key), so erasure can find them.
    Column("agent", String(2048), nullable=True),
    Column("content_type", String(255), nullable=False),
    Column("content", LargeBinary, nullable=False),
    # SHA-1 hex of the content (xAPI-Communication 3.1.s4.b2).
    Column("etag", String(40), nullable=False),
    Column("updated", UTCDateTime, nullable=False),
    UniqueConstraint("tenant_id", "scope_hash", "document_id"),
    Index("ix_documents_scope_updated", "tenant_id", "scope_hash", "updated"),
    Index("ix_documents_tenant_agent", "tenant_id", "agent"),
)
