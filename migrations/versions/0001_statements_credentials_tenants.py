"""Tenants, credentials, statements with their index tables, activities, attachments.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", timestamp, nullable=False),
        sa.UniqueConstraint("name", name="uq_tenants_name"),
    )
    op.create_table(
        "credentials",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "tenant_id",
            sa.Integer(),
            sa.ForeignKey("tenants.id", name="fk_credentials_tenant_id_tenants"),
            nullable=False,
        ),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("secret_hash", sa.String(300), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", timestamp, nullable=False),
        sa.UniqueConstraint("key", name="uq_credentials_key"),
    )
    op.create_index("ix_credentials_tenant_id", "credentials", ["tenant_id"])

    op.create_table(
        "statements",
        sa.Column("seq", big_id, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("statement_id", sa.Uuid(), nullable=False),
        sa.Column("stored", timestamp, nullable=False),
        sa.Column("verb_id", sa.String(2048), nullable=False),
        sa.Column("registration", sa.Uuid(), nullable=True),
        sa.Column("object_ref", sa.Uuid(), nullable=True),
        sa.Column("is_voiding", sa.Boolean(), nullable=False),
        sa.Column("voided", sa.Boolean(), nullable=False),
        sa.Column("credential_id", sa.Integer(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.UniqueConstraint(
            "tenant_id", "statement_id", name="uq_statements_tenant_id_statement_id"
        ),
    )
    op.create_index("ix_statements_tenant_stored", "statements", ["tenant_id", "stored", "seq"])
    op.create_index(
        "ix_statements_tenant_verb", "statements", ["tenant_id", "verb_id", "stored", "seq"]
    )
    op.create_index(
        "ix_statements_tenant_registration",
        "statements",
        ["tenant_id", "registration", "stored", "seq"],
    )
    op.create_index(
        "ix_statements_object_ref",
        "statements",
        ["object_ref", "tenant_id"],
        postgresql_where=sa.text("object_ref IS NOT NULL"),
        sqlite_where=sa.text("object_ref IS NOT NULL"),
    )

    for table, key in (("statement_agents", "agent"), ("statement_activities", "activity_id")):
        op.create_table(
            table,
            sa.Column(
                "statement_seq",
                big_id,
                sa.ForeignKey(
                    "statements.seq",
                    name=f"fk_{table}_statement_seq_statements",
                    ondelete="CASCADE",
                ),
                nullable=False,
            ),
            sa.Column(key, sa.String(2048), nullable=False),
            sa.Column("tenant_id", sa.Integer(), nullable=False),
            sa.Column("direct", sa.Boolean(), nullable=False),
            sa.Column("stored", timestamp, nullable=False),
            sa.PrimaryKeyConstraint("statement_seq", key, name=f"pk_{table}"),
        )
        op.create_index(f"ix_{table}_lookup", table, ["tenant_id", key, "stored", "statement_seq"])

    op.create_table(
        "activities",
        sa.Column("id", big_id, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("activity_id", sa.String(2048), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.UniqueConstraint("tenant_id", "activity_id", name="uq_activities_tenant_id_activity_id"),
    )
    op.create_table(
        "attachments",
        sa.Column("id", big_id, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("sha2", sa.String(128), nullable=False),
        sa.Column("content_type", sa.String(255), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.UniqueConstraint("tenant_id", "sha2", name="uq_attachments_tenant_id_sha2"),
    )


def downgrade() -> None:
    for table in (
        "attachments",
        "activities",
        "statement_activities",
        "statement_agents",
        "statements",
        "credentials",
        "tenants",
    ):
        op.drop_table(table)
