"""Voiding targets not stored yet are rows of `statement_ids`.

`pending` marks the id of a statement that a voiding statement named before it was stored;
`voided_early` tells the statement, once it arrives, that it is stored voided. Existing
voiding statements whose target is missing get their pending row.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("statement_ids") as ids:
        for name in ("pending", "voided_early"):
            ids.add_column(
                sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.text("false"))
            )
    op.execute(
        "INSERT INTO statement_ids (tenant_id, statement_id, stored, pending) "
        "SELECT v.tenant_id, v.object_ref, max(v.stored), true FROM statements v "
        "WHERE v.is_voiding AND v.object_ref IS NOT NULL AND NOT EXISTS ("
        "    SELECT 1 FROM statement_ids i"
        "    WHERE i.tenant_id = v.tenant_id AND i.statement_id = v.object_ref) "
        "GROUP BY v.tenant_id, v.object_ref"
    )


def downgrade() -> None:
    op.execute("DELETE FROM statement_ids WHERE pending")
    with op.batch_alter_table("statement_ids") as ids:
        ids.drop_column("voided_early")
        ids.drop_column("pending")
