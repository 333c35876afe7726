"""Tenant tree, credential roles and lifetimes, learner directory, audit log, erasure indexes.

Documents stored before this revision keep a NULL agent: their scope is stored only as a
hash, so erasure cannot find them by agent (no release carried documents before it).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Batch mode: SQLite cannot add a foreign key to an existing table in place.
    with op.batch_alter_table("tenants") as tenants:
        tenants.add_column(sa.Column("parent_id", sa.Integer(), nullable=True))
        tenants.add_column(sa.Column("path", sa.String(1000), nullable=True))
        tenants.add_column(sa.Column("retention_days", sa.Integer(), nullable=True))
        tenants.create_foreign_key("fk_tenants_parent_id_tenants", "tenants", ["parent_id"], ["id"])
    op.execute("UPDATE tenants SET path = '/' || CAST(id AS VARCHAR) || '/'")
    with op.batch_alter_table("tenants") as tenants:
        tenants.alter_column("path", existing_type=sa.String(1000), nullable=False)
        tenants.create_index("ix_tenants_path", ["path"])

    with op.batch_alter_table("credentials") as credentials:
        credentials.add_column(sa.Column("role", sa.String(20), nullable=True))
        credentials.add_column(
            sa.Column("rollup", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        credentials.add_column(sa.Column("expires_at", timestamp, nullable=True))
        credentials.add_column(sa.Column("revoked_at", timestamp, nullable=True))
        credentials.add_column(sa.Column("last_used_at", timestamp, nullable=True))

    op.add_column("documents", sa.Column("agent", sa.String(2048), nullable=True))
    op.create_index("ix_documents_tenant_agent", "documents", ["tenant_id", "agent"])

    op.create_table(
        "statement_attachments",
        sa.Column(
            "statement_seq",
            big_id,
            sa.ForeignKey(
                "statements.seq",
                ondelete="CASCADE",
                name="fk_statement_attachments_statement_seq_statements",
            ),
            primary_key=True,
        ),
        sa.Column("sha2", sa.String(128), primary_key=True),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
    )
    op.create_index(
        "ix_statement_attachments_tenant_sha2", "statement_attachments", ["tenant_id", "sha2"]
    )
    _link_stored_attachments()

    op.create_table(
        "people",
        sa.Column("id", big_id, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(200), nullable=False),
        sa.Column("name", sa.String(500), nullable=True),
        sa.Column("org_unit", sa.String(200), nullable=True),
        sa.Column("job_role", sa.String(200), nullable=True),
        sa.Column("audience", sa.String(20), nullable=False),
        sa.Column("updated", timestamp, nullable=False),
        sa.UniqueConstraint("tenant_id", "external_id", name="uq_people_tenant_id_external_id"),
    )
    op.create_table(
        "person_agents",
        sa.Column("tenant_id", sa.Integer(), primary_key=True),
        sa.Column("agent", sa.String(2048), primary_key=True),
        sa.Column(
            "person_id",
            big_id,
            sa.ForeignKey(
                "people.id", ondelete="CASCADE", name="fk_person_agents_person_id_people"
            ),
            nullable=False,
        ),
        sa.Column("agent_json", sa.JSON(), nullable=False),
    )
    op.create_index("ix_person_agents_person_id", "person_agents", ["person_id"])

    op.create_table(
        "audit_log",
        sa.Column("id", big_id, primary_key=True, autoincrement=True),
        sa.Column("at", timestamp, nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("target", sa.String(2048), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
    )
    op.create_index("ix_audit_log_tenant_at", "audit_log", ["tenant_id", "at"])


def _link_stored_attachments() -> None:
    """Statements stored before this revision get their attachment links, so that erasure
    and retention do not take their attachments for unreferenced ones."""
    connection = op.get_bind()
    rows = connection.execute(
        sa.text("SELECT seq, tenant_id, payload FROM statements WHERE payload LIKE :pattern"),
        {"pattern": '%"attachments"%'},
    )
    links = []
    for seq, tenant_id, payload in rows:
        statement = json.loads(payload)
        holders = [statement]
        if statement.get("object", {}).get("objectType") == "SubStatement":
            holders.append(statement["object"])
        hashes = {a["sha2"].lower() for h in holders for a in h.get("attachments", ())}
        links += [{"seq": seq, "tenant_id": tenant_id, "sha2": sha2} for sha2 in sorted(hashes)]
    if links:
        connection.execute(
            sa.text(
                "INSERT INTO statement_attachments (statement_seq, tenant_id, sha2) "
                "VALUES (:seq, :tenant_id, :sha2)"
            ),
            links,
        )


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_table("person_agents")
    op.drop_table("people")
    op.drop_table("statement_attachments")
    op.drop_index("ix_documents_tenant_agent", "documents")
    op.drop_column("documents", "agent")
    with op.batch_alter_table("credentials") as credentials:
        for column in ("last_used_at", "revoked_at", "expires_at", "rollup", "role"):
            credentials.drop_column(column)
    with op.batch_alter_table("tenants") as tenants:
        tenants.drop_index("ix_tenants_path")
        tenants.drop_constraint("fk_tenants_parent_id_tenants", type_="foreignkey")
        for column in ("retention_days", "path", "parent_id"):
            tenants.drop_column(column)
