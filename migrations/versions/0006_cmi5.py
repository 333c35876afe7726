"""cmi5: courses and their content files, registrations, progress and AU sessions.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_FALSE = sa.text("false")


def upgrade() -> None:
    op.create_table(
        "cmi5_courses",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.String(2048), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content_key", sa.Uuid(), nullable=False),
        sa.Column("structure", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("content_key", name="uq_cmi5_courses_content_key"),
        sa.UniqueConstraint(
            "tenant_id", "course_id", "version", name="uq_cmi5_courses_tenant_id_course_id_version"
        ),
    )
    op.create_table(
        "cmi5_files",
        sa.Column(
            "course_pk",
            sa.Integer(),
            sa.ForeignKey("cmi5_courses.id", name="fk_cmi5_files_course_pk_cmi5_courses"),
            primary_key=True,
        ),
        sa.Column("path", sa.String(1024), primary_key=True),
        sa.Column("content_type", sa.String(255), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "cmi5_registrations",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column(
            "course_pk",
            sa.Integer(),
            sa.ForeignKey("cmi5_courses.id", name="fk_cmi5_registrations_course_pk_cmi5_courses"),
            nullable=False,
        ),
        sa.Column("actor", sa.JSON(), nullable=False),
        sa.Column("actor_ifi", sa.String(2048), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_cmi5_registrations_tenant_actor", "cmi5_registrations", ["tenant_id", "actor_ifi"]
    )
    registration = sa.ForeignKey(
        "cmi5_registrations.id", name="fk_cmi5_progress_registration_id_cmi5_registrations"
    )
    op.create_table(
        "cmi5_progress",
        sa.Column("registration_id", sa.Uuid(), registration, primary_key=True),
        sa.Column("node_id", sa.String(2048), primary_key=True),
        sa.Column("completed", sa.Boolean(), nullable=False, server_default=_FALSE),
        sa.Column("passed", sa.Boolean(), nullable=False, server_default=_FALSE),
        sa.Column("waived", sa.Boolean(), nullable=False, server_default=_FALSE),
        sa.Column("satisfied", sa.Boolean(), nullable=False, server_default=_FALSE),
        sa.Column("waive_reason", sa.String(200), nullable=True),
    )
    op.create_table(
        "cmi5_sessions",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column(
            "registration_id",
            sa.Uuid(),
            sa.ForeignKey(
                "cmi5_registrations.id", name="fk_cmi5_sessions_registration_id_cmi5_registrations"
            ),
            nullable=False,
        ),
        sa.Column("au_id", sa.String(2048), nullable=False),
        sa.Column("launch_mode", sa.String(10), nullable=False),
        sa.Column("move_on", sa.String(20), nullable=False),
        sa.Column("mastery_score", sa.Float(), nullable=True),
        sa.Column("context_template", sa.JSON(), nullable=False),
        sa.Column("fetch_hash", sa.String(64), nullable=False),
        sa.Column("credential_id", sa.Integer(), nullable=True),
        sa.Column("launched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_statement_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("preferences_read", sa.Boolean(), nullable=False, server_default=_FALSE),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("verbs", sa.JSON(), nullable=False),
        sa.Column("launch_url", sa.Text(), nullable=False),
        sa.UniqueConstraint("credential_id", name="uq_cmi5_sessions_credential_id"),
    )
    op.create_index("ix_cmi5_sessions_registration", "cmi5_sessions", ["registration_id", "state"])


def downgrade() -> None:
    for table in ("cmi5_sessions", "cmi5_progress", "cmi5_registrations", "cmi5_files"):
        op.drop_table(table)
    op.drop_table("cmi5_courses")
