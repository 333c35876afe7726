"""The learner models' queue (statements stored but not yet folded into the models), and
the evaluation phase of evidence (pre-test, post-test, survey, indicator) with an
indicator's value. Existing evidence gets its phase from `lrs analytics rebuild`.

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


def downgrade() -> None:
    with op.batch_alter_table("analytics_evidence") as evidence:
        evidence.drop_column("value")
        evidence.drop_column("phase")
    op.drop_table("analytics_queue")
