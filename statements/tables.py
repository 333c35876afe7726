"""Statements as received, plus the index tables that statement queries filter on.

Link rows copy `stored` so that a filtered query walks one index in `stored` order
instead of sorting every match.

On PostgreSQL `statements`, `statement_agents` and `statement_activities` are partitioned by
month of `stored` (migration 0004, statements.partitions), so retention drops whole months.
A partitioned table cannot hold a unique key without its partition column, so statement ids
are kept unique per tenant by `statement_ids`, and index rows name their statement without a
foreign key (deletes remove them explicitly).
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)

from lrs.db import BigIntPK, UTCDateTime, metadata

statements = Table(
    "statements",
    metadata,
    # Insertion sequence: breaks ties between statements stored in the same microsecond.
    Column("seq", BigIntPK, primary_key=True, autoincrement=True),
    Column("tenant_id", Integer, nullable=False),
    Column("statement_id", Uuid, nullable=False),
    Column("stored", UTCDateTime, nullable=False),
    Column("verb_id", String(2048), nullable=False),
    Column("registration", Uuid, nullable=True),
    # Target of a StatementRef object (voiding statements included).
    Column("object_ref", Uuid, nullable=True),
    Column("is_voiding", Boolean, nullable=False),
    Column("voided", Boolean, nullable=False, default=False),
    Column("credential_id", Integer, nullable=False),
    # The statement as stored (exact format), JSON text.
    Column("payload", Text, nullable=False),
    Index("ix_statements_tenant_statement", "tenant_id", "statement_id"),
    Index("ix_statements_tenant_stored", "tenant_id", "stored", "seq"),
    Index("ix_statements_tenant_verb", "tenant_id", "verb_id", "stored", "seq"),
    Index("ix_statements_tenant_registration", "tenant_id", "registration", "stored", "seq"),
    # Led by object_ref and partial: StatementRef matching probes it by target id whatever
    # the reader's tenants, and only the few statements that reference another are in it.
    Index(
        "ix_statements_object_ref",
        "object_ref",
        "tenant_id",
        postgresql_where=text("object_ref IS NOT NULL"),
        sqlite_where=text("object_ref IS NOT NULL"),
    ),
)

# Every stored statement id, unique per tenant, with the statement's `stored`: retention
# deletes by month, and a lookup by id reads one month's partition of `statements` instead
# of probing every month. A voiding statement whose target is not stored yet leaves a
# `pending` row for the target (stored: the voiding statement's), which the target fills
# with its own when it arrives, learning from `voided_early` that it is voided. Writes of a
# target and of its voiding statement meet on this row's key, so concurrent ones wait for
# each other instead of missing each other.
statement_ids = Table(
    "statement_ids",
    metadata,
    Column("tenant_id", Integer, primary_key=True),
    Column("statement_id", Uuid, primary_key=True),
    Column("stored", UTCDateTime, nullable=False),
    Column("pending", Boolean, nullable=False, server_default=text("false")),
    Column("voided_early", Boolean, nullable=False, server_default=text("false")),
    Index("ix_statement_ids_stored", "stored"),
)

# One row per agent IFI a statement mentions. `direct` marks the actor and object (and members of
# a Group in those places), which `agent=` matches; `related_agents=true` matches every row.
statement_agents = Table(
    "statement_agents",
    metadata,
    Column("statement_seq", BigIntPK, primary_key=True),
    Column("agent", String(2048), primary_key=True),
    Column("tenant_id", Integer, nullable=False),
    Column("direct", Boolean, nullable=False),
    Column("stored", UTCDateTime, nullable=False),
    Index("ix_statement_agents_lookup", "tenant_id", "agent", "stored", "statement_seq"),
)

# One row per Activity id a statement mentions. `direct` marks the object, which `activity=`
# matches; `related_activities=true` matches context activities and SubStatement parts too.
statement_activities = Table(
    "statement_activities",
    metadata,
    Column("statement_seq", BigIntPK, primary_key=True),
    Column("activity_id", String(2048), primary_key=True),
    Column("tenant_id", Integer, nullable=False),
    Column("direct", Boolean, nullable=False),
    Column("stored", UTCDateTime, nullable=False),
    Index("ix_statement_activities_lookup", "tenant_id", "activity_id", "stored", "statement_seq"),
)

# The canonical definition of each Activity, assembled from the statements that carried it.
activities = Table(
    "activities",
    metadata,
    Column("id", BigIntPK, primary_key=True, autoincrement=True),
    Column("tenant_id", Integer, nullable=False),
    Column("activity_id", String(2048), nullable=False),
    Column("definition", Text, nullable=False),
    UniqueConstraint("tenant_id", "activity_id"),
)

# Attachment bytes, stored once per tenant and content hash.
attachments = Table(
    "attachments",
    metadata,
    Column("id", BigIntPK, primary_key=True, autoincrement=True),
    Column("tenant_id", Integer, nullable=False),
    Column("sha2", String(128), nullable=False),
    Column("content_type", String(255), nullable=False),
    Column("data", LargeBinary, nullable=False),
    UniqueConstraint("tenant_id", "sha2"),
)

# Which attachments each statement references, so that deleting statements (erasure,
# retention) can delete the attachment bytes no remaining statement needs.
statement_attachments = Table(
    "statement_attachments",
    metadata,
    Column("statement_seq", BigIntPK, primary_key=True),
    Column("sha2", String(128), primary_key=True),
    Column("tenant_id", Integer, nullable=False),
    Column("stored", UTCDateTime, nullable=False),
    Index("ix_statement_attachments_tenant_sha2", "tenant_id", "sha2"),
    Index("ix_statement_attachments_stored", "stored"),
)
