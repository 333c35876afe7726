"""The learner models' Activity index also holds the learner: a model looked up by its key
is then found exactly whichever index the planner takes. With (tenant, Activity) alone, and
statistics that took the table for small, PostgreSQL looked keys up through it and read
every learner's model of a course to find one (2.9 s for 6,000 keys instead of 35 ms).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_analytics_states_activity", "analytics_states")
    op.create_index(
        "ix_analytics_states_activity", "analytics_states", ["tenant_id", "activity_id", "learner"]
    )


def downgrade() -> None:
    op.drop_index("ix_analytics_states_activity", "analytics_states")
    op.create_index(
        "ix_analytics_states_activity", "analytics_states", ["tenant_id", "activity_id"]
    )
