"""cmi5: imported courses and their content, registrations, the satisfaction of their
AUs, blocks and course, and AU sessions."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    false,
)

from lrs.db import UTCDateTime, metadata

# One row per import: re-importing a course id adds a version; registrations keep theirs.
cmi5_courses = Table(
    "cmi5_courses",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("tenant_id", Integer, nullable=False),
    Column("course_id", String(2048), nullable=False),  # the publisher's id
    Column("version", Integer, nullable=False),
    # Names the version's content files in URLs: /cmi5/content/<content_key>/<path>.
    Column("content_key", Uuid, nullable=False, unique=True),
    # cmi5.structure.Course.to_json()
    Column("structure", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("tenant_id", "course_id", "version"),
)

cmi5_files = Table(
    "cmi5_files",
    metadata,
    Column("course_pk", Integer, ForeignKey("cmi5_courses.id"), primary_key=True),
    Column("path", String(1024), primary_key=True),
    Column("content_type", String(255), nullable=False),
    Column("data", LargeBinary, nullable=False),
)

cmi5_registrations = Table(
    "cmi5_registrations",
    metadata,
    Column("id", Uuid, primary_key=True),  # the registration of cmi5 3.0
    Column("tenant_id", Integer, nullable=False),
    Column("course_pk", Integer, ForeignKey("cmi5_courses.id"), nullable=False),
    Column("actor", JSON, nullable=False),
    Column("actor_ifi", String(2048), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_cmi5_registrations_tenant_actor", "tenant_id", "actor_ifi"),
)

# Per registration and AU, block or course (by publisher id): what has been met so far.
cmi5_progress = Table(
    "cmi5_progress",
    metadata,
    Column("registration_id", Uuid, ForeignKey("cmi5_registrations.id"), primary_key=True),
    Column("node_id", String(2048), primary_key=True),
    Column("completed", Boolean, nullable=False, server_default=false()),
    Column("passed", Boolean, nullable=False, server_default=false()),
    Column("waived", Boolean, nullable=False, server_default=false()),
    Column("satisfied", Boolean, nullable=False, server_default=false()),
    Column("waive_reason", String(200), nullable=True),
)

cmi5_sessions = Table(
    "cmi5_sessions",
    metadata,
    Column("id", Uuid, primary_key=True),  # the session id of cmi5 9.6.3.1
    Column("registration_id", Uuid, ForeignKey("cmi5_registrations.id"), nullable=False),
    Column("au_id", String(2048), nullable=False),
    Column("launch_mode", String(10), nullable=False),
    Column("move_on", String(20), nullable=False),
    Column("mastery_score", Float, nullable=True),
    # The contextTemplate of its LMS.LaunchData, which every AU statement carries.
    Column("context_template", JSON, nullable=False),
    # SHA-256 of the one-time fetch URL's secret.
    Column("fetch_hash", String(64), nullable=False),
    # The session credential the fetch URL made (auth's credentials); set once it is used.
    Column("credential_id", Integer, nullable=True, unique=True),
    Column("launched_at", UTCDateTime, nullable=False),
    Column("last_statement_at", UTCDateTime, nullable=True),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("preferences_read", Boolean, nullable=False, server_default=false()),
    # launched, initialized, terminated or abandoned
    Column("state", String(12), nullable=False),
    # The cmi5 defined verbs accepted in this session (short names).
    Column("verbs", JSON, nullable=False),
    Column("launch_url", Text, nullable=False),
    Index("ix_cmi5_sessions_registration", "registration_id", "state"),
)
