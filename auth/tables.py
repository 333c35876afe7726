"""Tenants (a tree: group -> subsidiary -> department ...) and the credentials that act in them."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    false,
)

from lrs.db import UTCDateTime, metadata

tenants = Table(
    "tenants",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("parent_id", Integer, ForeignKey("tenants.id"), nullable=True),
    # Ids from the root down, "/1/4/9/": a subtree is one prefix match on an index.
    Column("path", String(1000), nullable=False),
    # Records older than this many days are deleted; None inherits the nearest ancestor's.
    Column("retention_days", Integer, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_tenants_path", "path"),
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
    # The role it was made from (None: scopes chosen one by one).
    Column("role", String(20), nullable=True),
    # Reads the tenants below its own too (roll-up); writes still land in its own.
    Column("rollup", Boolean, nullable=False, server_default=false()),
    Column("name", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True),
    Column("last_used_at", UTCDateTime, nullable=True),
)
