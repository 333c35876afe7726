"""The learner models' queue (statements stored but not yet folded into the models); the
evaluation phase of evidence (pre-test, post-test, survey, indicator) with an indicator's
value; the cohort totals per tenant and Activity. Existing evidence gets its phase, and
existing models their totals, from `lrs analytics rebuild`.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# analytics.totals.FIELDS as of this revision.
TOTALS = (
    "learners", "completed", "assessed", "passed", "passed_first", "retakes", "seconds",
    "answered", "mastery_sum", "mastered", "answers", *(f"tenth_{i}" for i in range(10)),
)  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "analytics_queue",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("statement_ids", sa.Text(), nullable=False),
    )
    op.create_index("ix_analytics_queue_tenant", "analytics_queue", ["tenant_id", "id"])
    with op.batch_alter_table("analytics_evidence") as evidence:
        evidence.add_column(sa.Column("phase", sa.String(10), nullable=True))
        evidence.add_column(sa.Column("value", sa.Float(), nullable=True))
    op.create_index(
        "ix_analytics_evidence_phase",
        "analytics_evidence",
        ["tenant_id", "phase"],
        postgresql_where=sa.text("phase IS NOT NULL"),
        sqlite_where=sa.text("phase IS NOT NULL"),
    )

    # The cohort totals; existing models get theirs from `lrs analytics rebuild`.
    sums = ("seconds", "mastery_sum")
    op.create_table(
        "analytics_totals",
        sa.Column("tenant_id", sa.Integer(), primary_key=True),
        sa.Column("activity_id", sa.String(2048), primary_key=True),
        *(
            sa.Column(name, sa.Float() if name in sums else sa.Integer(), nullable=False)
            for name in TOTALS
        ),
    )


def downgrade() -> None:
    op.drop_table("analytics_totals")
    op.drop_index("ix_analytics_evidence_phase", "analytics_evidence")
    with op.batch_alter_table("analytics_evidence") as evidence:
        evidence.drop_column("value")
        evidence.drop_column("phase")
    op.drop_table("analytics_queue")
