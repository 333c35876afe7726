"""The evidence of the learner models keeps its statement's `stored`, so retention can
delete the evidence of the statements it deletes. Existing evidence takes it from the
statement's id row; evidence whose statement is gone already (deleted by retention before
this revision) is deleted, and `lrs analytics rebuild` refolds the models it was part of.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_PHASE_INDEX = "ix_analytics_evidence_phase"


def _phase_index() -> None:
    op.create_index(
        _PHASE_INDEX,
        "analytics_evidence",
        ["tenant_id", "phase"],
        postgresql_where=sa.text("phase IS NOT NULL"),
        sqlite_where=sa.text("phase IS NOT NULL"),
    )


def upgrade() -> None:
    op.add_column(
        "analytics_evidence", sa.Column("stored", sa.DateTime(timezone=True), nullable=True)
    )
    op.execute(
        "UPDATE analytics_evidence SET stored = (SELECT i.stored FROM statement_ids i"
        " WHERE i.tenant_id = analytics_evidence.tenant_id"
        " AND i.statement_id = analytics_evidence.statement_id)"
    )
    op.execute("DELETE FROM analytics_evidence WHERE stored IS NULL")
    # SQLite makes the column NOT NULL by copying the table, which would lose the partial
    # index's condition: it is made again after.
    op.drop_index(_PHASE_INDEX, "analytics_evidence")
    with op.batch_alter_table("analytics_evidence") as evidence:
        evidence.alter_column("stored", existing_type=sa.DateTime(timezone=True), nullable=False)
    _phase_index()


def downgrade() -> None:
    op.drop_index(_PHASE_INDEX, "analytics_evidence")
    with op.batch_alter_table("analytics_evidence") as evidence:
        evidence.drop_column("stored")
    _phase_index()
