from __future__ import annotations

from sqlalchemy import JSON, Column, ForeignKey, Integer, String, Table

from lrs.db import UTCDateTime, metadata

tenants = Table(
    "tenants",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
)

credentials = Table(
    "credentials",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("tenant_id", Integer, ForeignKey("tenants.id"), nullable=False, index=True),
    Column("key", String(200), nullable=False, unique=True),
    # scrypt$N$r$p$salt$hash, never the secret itself.
    Column("secret_hash", String(300), nullable=False),
    Column("scopes", JSON, nullable=False),
    Column("name", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)
