"""A statement's id row carries the statement's own `stored`, which lookups by id now join
on to read one month's partition (statements.store.payloads). A target stored after its
voiding statement used to keep the later of the two times in its id row; those rows, the
only ones marked `voided_early`, take their statement's. An instance of the earlier code
still running beside the new (a rolling upgrade) can write such a row again, for a target
stored after its voiding statement by an instance whose clock is behind: that target is
then not found by id (404 for voidedStatementId, 409 for a re-send). Stop the earlier
instances before the first new one starts.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_ITS_STATEMENT = (
    "FROM statements s WHERE s.tenant_id = statement_ids.tenant_id"
    " AND s.statement_id = statement_ids.statement_id"
)


def upgrade() -> None:
    op.execute(
        f"UPDATE statement_ids SET stored = (SELECT s.stored {_ITS_STATEMENT})"  # noqa: S608
        " WHERE voided_early AND NOT pending"
        f" AND EXISTS (SELECT 1 {_ITS_STATEMENT} AND s.stored <> statement_ids.stored)"
    )


def downgrade() -> None:
    """Nothing to undo: the earlier code reads these rows as they now are."""
