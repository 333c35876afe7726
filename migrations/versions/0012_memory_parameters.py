"""A tenant's own FSRS parameters for the forgetting curve, learnt by `lrs analytics fit`.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "analytics_memory_parameters",
        sa.Column("tenant_id", sa.Integer(), primary_key=True),
        sa.Column("parameters", sa.Text(), nullable=False),
        sa.Column("reviews", sa.Integer(), nullable=False),
        sa.Column("held_out", sa.Integer(), nullable=False),
        sa.Column("log_loss", sa.Float(), nullable=False),
        sa.Column("default_log_loss", sa.Float(), nullable=False),
        sa.Column("fitted_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("analytics_memory_parameters")
