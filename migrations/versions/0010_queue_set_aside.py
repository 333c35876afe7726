"""A learner-model queue entry whose fold raised an error of its own is set aside (when,
and the error) instead of stopping its tenant's queue.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "analytics_queue", sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("analytics_queue", sa.Column("error", sa.String(500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("analytics_queue") as queue:
        queue.drop_column("error")
        queue.drop_column("failed_at")
