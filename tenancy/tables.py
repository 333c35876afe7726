"""The learner directory and the audit log of admin actions."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)

from lrs.db import BigIntPK, UTCDateTime, metadata

# A person known to a tenant, so reports can be cut by org unit, job role and audience.
people = Table(
    "people",
    metadata,
    Column("id", BigIntPK, primary_key=True, autoincrement=True),
    Column("tenant_id", Integer, nullable=False),
    # The tenant's own key for the person (an HR or CRM id).
    Column("external_id", String(200), nullable=False),
    Column("name", String(500), nullable=True),
    Column("org_unit", String(200), nullable=True),
    Column("job_role", String(200), nullable=True),
    Column("audience", String(20), nullable=False),
    Column("updated", UTCDateTime, nullable=False),
    UniqueConstraint("tenant_id", "external_id"),
)

# The agent identifiers (IFI keys, as statements index them) that name a person.
person_agents = Table(
    "person_agents",
    metadata,
    Column("tenant_id", Integer, primary_key=True),
    Column("agent", String(2048), primary_key=True),
    Column("person_id", BigIntPK, ForeignKey("people.id", ondelete="CASCADE"), nullable=False),
    # The Agent object as given, for the Agents resource's Person.
    Column("agent_json", JSON, nullable=False),
    Index("ix_person_agents_person_id", "person_id"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigIntPK, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    # The tenant acted upon; auditors read the entries of their subtree.
    Column("tenant_id", Integer, nullable=False),
    # Credential key, or "cli:<user>" for the command line.
    Column("actor", String(200), nullable=False),
    Column("action", String(100), nullable=False),
    Column("target", String(2048), nullable=False),
    Column("detail", JSON, nullable=False),
    # Client address, or "cli".
    Column("source", String(200), nullable=False),
    Index("ix_audit_log_tenant_at", "tenant_id", "at"),
)
