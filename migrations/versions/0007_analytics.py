"""Learner models: evidence, per learner and Activity state, fitted mastery parameters.

Existing statements get their models from `lrs analytics rebuild`.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _key() -> list[sa.Column[object]]:
    return [
        sa.Column("tenant_id", sa.Integer(), primary_key=True),
        sa.Column("learner", sa.String(2048), primary_key=True),
        sa.Column("activity_id", sa.String(2048), primary_key=True),
    ]


def upgrade() -> None:
    moment = sa.DateTime(timezone=True)
    op.create_table(
        "analytics_evidence",
        *_key(),
        sa.Column("at", moment, primary_key=True),
        sa.Column("statement_id", sa.Uuid(), primary_key=True),
        sa.Column("relation", sa.String(10), nullable=False),
        sa.Column("verb", sa.String(2048), nullable=False),
        sa.Column("correct", sa.Boolean(), nullable=True),
        sa.Column("scaled", sa.Float(), nullable=True),
        sa.Column("progress", sa.Float(), nullable=True),
        sa.Column("completed", sa.Boolean(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column("registration", sa.Uuid(), nullable=True),
    )
    op.create_index(
        "ix_analytics_evidence_statement", "analytics_evidence", ["tenant_id", "statement_id"]
    )
    op.create_table(
        "analytics_states",
        *_key(),
        sa.Column("first_at", moment, nullable=False),
        sa.Column("last_at", moment, nullable=False),
        sa.Column("last_statement", sa.String(36), nullable=False),
        sa.Column("statements", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("completed_at", moment, nullable=True),
        sa.Column("progress", sa.Float(), nullable=True),
        sa.Column("outcome", sa.String(10), nullable=True),
        sa.Column("first_outcome", sa.String(10), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("best_score", sa.Float(), nullable=True),
        sa.Column("answers", sa.Integer(), nullable=False),
        sa.Column("correct", sa.Integer(), nullable=False),
        sa.Column("mastery", sa.Float(), nullable=True),
        sa.Column("memory_state", sa.Integer(), nullable=True),
        sa.Column("memory_step", sa.Integer(), nullable=True),
        sa.Column("stability", sa.Float(), nullable=True),
        sa.Column("difficulty", sa.Float(), nullable=True),
        sa.Column("memory_due", moment, nullable=True),
        sa.Column("last_review", moment, nullable=True),
        sa.Column("reviews", sa.Integer(), nullable=False),
    )
    op.create_index(
        "ix_analytics_states_activity", "analytics_states", ["tenant_id", "activity_id"]
    )
    op.create_table(
        "analytics_parameters",
        sa.Column("tenant_id", sa.Integer(), primary_key=True),
        sa.Column("skill", sa.String(2048), primary_key=True),
        sa.Column("p_init", sa.Float(), nullable=False),
        sa.Column("p_learn", sa.Float(), nullable=False),
        sa.Column("p_slip", sa.Float(), nullable=False),
        sa.Column("p_guess", sa.Float(), nullable=False),
        sa.Column("sequences", sa.Integer(), nullable=False),
        sa.Column("observations", sa.Integer(), nullable=False),
        sa.Column("fitted_at", moment, nullable=False),
    )


def downgrade() -> None:
    for table in ("analytics_parameters", "analytics_states", "analytics_evidence"):
        op.drop_table(table)
