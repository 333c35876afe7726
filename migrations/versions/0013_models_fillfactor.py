"""Room on each page of the learner models and their totals for updates in place (HOT):
fillfactor 70 on PostgreSQL (analytics.tables.UPDATED_IN_PLACE). Pages written before keep
their rows until they are next rewritten; SQLite has no such setting.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

TABLES = ("analytics_states", "analytics_totals")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"ALTER TABLE {table} SET (fillfactor = 70)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"ALTER TABLE {table} RESET (fillfactor)")
