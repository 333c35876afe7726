"""Learner models: the statements waiting to be folded in, the evidence each statement gave
(so a voided statement's can be taken back and a model refolded), the model of each learner
and Activity, and fitted mastery parameters."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Float, Index, Integer, String, Table, Text, Uuid, text

from analytics.totals import FIELDS
from lrs.db import BigIntPK, UTCDateTime, metadata

# Models are rewritten as statements arrive, their keys only by an erasure's pseudonym: room
# left on each page lets PostgreSQL write a row's new version beside the old without new
# index entries (a HOT update). 300 upserts of stored models: 4.0 ms and 1,600 buffers at 70
# against 6.5 ms and 3,800 at the default 100 (EXPLAIN ANALYZE after VACUUM FULL, 58,000
# models).
UPDATED_IN_PLACE = {"fillfactor": 70}

# The new statements of each stored batch, written by the statement write itself (a feed of
# statements.service.StatementHooks) and deleted in the transaction that folds them in: a
# statement is folded once, never lost.
analytics_queue = Table(
    "analytics_queue",
    metadata,
    Column("id", BigIntPK, primary_key=True, autoincrement=True),
    Column("tenant_id", Integer, nullable=False),
    Column("statement_ids", Text, nullable=False),  # a JSON array
    # Set when folding the entry raised an error of its own (a bug): it waits for a rebuild.
    Column("failed_at", UTCDateTime, nullable=True),
    Column("error", String(500), nullable=True),
    Index("ix_analytics_queue_tenant", "tenant_id", "id"),
)

analytics_evidence = Table(
    "analytics_evidence",
    metadata,
    Column("tenant_id", Integer, primary_key=True),
    Column("learner", String(2048), primary_key=True),  # agent_ifi of the actor
    Column("activity_id", String(2048), primary_key=True),
    Column("at", UTCDateTime, primary_key=True),
    Column("statement_id", Uuid, primary_key=True),
    Column("relation", String(10), nullable=False),  # object / parent / grouping
    Column("verb", String(2048), nullable=False),
    Column("correct", Boolean, nullable=True),
    Column("scaled", Float, nullable=True),
    Column("progress", Float, nullable=True),
    Column("completed", Boolean, nullable=False),
    Column("seconds", Float, nullable=True),
    Column("registration", Uuid, nullable=True),
    Column("phase", String(10), nullable=True),  # pre / post / survey / indicator
    Column("value", Float, nullable=True),
    # The statement's `stored`: retention deletes the evidence of what it deletes by it.
    Column("stored", UTCDateTime, nullable=False),
    Index("ix_analytics_evidence_statement", "tenant_id", "statement_id"),
    # The evaluation view reads only evidence with a phase, usually a small share.
    Index(
        "ix_analytics_evidence_phase",
        "tenant_id",
        "phase",
        postgresql_where=text("phase IS NOT NULL"),
        sqlite_where=text("phase IS NOT NULL"),
    ),
)

# analytics.learner.ActivityState, one row per learner and Activity.
analytics_states = Table(
    "analytics_states",
    metadata,
    Column("tenant_id", Integer, primary_key=True),
    Column("learner", String(2048), primary_key=True),
    Column("activity_id", String(2048), primary_key=True),
    Column("first_at", UTCDateTime, nullable=False),
    Column("last_at", UTCDateTime, nullable=False),
    Column("last_statement", String(36), nullable=False),
    Column("statements", Integer, nullable=False),
    Column("seconds", Float, nullable=False),
    Column("completed_at", UTCDateTime, nullable=True),
    Column("progress", Float, nullable=True),
    Column("outcome", String(10), nullable=True),
    Column("first_outcome", String(10), nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("best_score", Float, nullable=True),
    Column("answers", Integer, nullable=False),
    Column("correct", Integer, nullable=False),
    Column("mastery", Float, nullable=True),
    Column("memory_state", Integer, nullable=True),
    Column("memory_step", Integer, nullable=True),
    Column("stability", Float, nullable=True),
    Column("difficulty", Float, nullable=True),
    Column("memory_due", UTCDateTime, nullable=True),
    Column("last_review", UTCDateTime, nullable=True),
    Column("reviews", Integer, nullable=False),
    # With the learner: a key's lookup is exact whichever index the planner takes.
    Index("ix_analytics_states_activity", "tenant_id", "activity_id", "learner"),
    postgresql_with=UPDATED_IN_PLACE,
)

# Mastery (BKT) parameters `lrs analytics fit` learned for a skill; skill "" is the
# tenant's own default, for skills with too few answers of their own.
analytics_parameters = Table(
    "analytics_parameters",
    metadata,
    Column("tenant_id", Integer, primary_key=True),
    Column("skill", String(2048), primary_key=True),
    Column("p_init", Float, nullable=False),
    Column("p_learn", Float, nullable=False),
    Column("p_slip", Float, nullable=False),
    Column("p_guess", Float, nullable=False),
    Column("sequences", Integer, nullable=False),
    Column("observations", Integer, nullable=False),
    Column("fitted_at", UTCDateTime, nullable=False),
)

# The forgetting curve's FSRS parameters `lrs analytics fit` learned for a tenant (kept only
# when they predicted its held-out reviews better than the defaults; no row: the defaults).
analytics_memory_parameters = Table(
    "analytics_memory_parameters",
    metadata,
    Column("tenant_id", Integer, primary_key=True),
    Column("parameters", Text, nullable=False),  # FSRS's 21 weights, a JSON array
    Column("reviews", Integer, nullable=False),
    Column("held_out", Integer, nullable=False),
    Column("log_loss", Float, nullable=False),
    Column("default_log_loss", Float, nullable=False),
    Column("fitted_at", UTCDateTime, nullable=False),
)

# The cohort totals of each tenant's Activities (analytics.totals): sums over its models.
analytics_totals = Table(
    "analytics_totals",
    metadata,
    Column("tenant_id", Integer, primary_key=True),
    Column("activity_id", String(2048), primary_key=True),
    *(
        Column(name, Float if name in ("seconds", "mastery_sum") else Integer, nullable=False)
        for name in FIELDS
    ),
    postgresql_with=UPDATED_IN_PLACE,
)
