"""Statement ids kept unique by their own table; on PostgreSQL the statement tables are
partitioned by month of `stored`.

- `statement_ids` (tenant, statement id, stored) takes over the uniqueness of statement ids,
  which a partitioned table cannot enforce across its partitions.
- Index rows lose their foreign keys to `statements.seq` (a partitioned table's keys include
  `stored`); the store deletes them explicitly. `statement_attachments` gains `stored`, so
  that dropping a month can delete its links by range.
- PostgreSQL: `statements`, `statement_agents` and `statement_activities` are rebuilt as
  tables partitioned by RANGE (stored): one partition per month from the oldest stored
  statement through two months ahead, and a default partition. Existing rows are copied.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from statements import partitions

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

timestamp = sa.DateTime(timezone=True)
_STATEMENT_COLUMNS = (
    "seq, tenant_id, statement_id, stored, verb_id, registration, object_ref, is_voiding, "
    "voided, credential_id, payload"
)


def upgrade() -> None:
    op.create_table(
        "statement_ids",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("statement_id", sa.Uuid(), nullable=False),
        sa.Column("stored", timestamp, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "statement_id", name="pk_statement_ids"),
    )
    op.execute(
        "INSERT INTO statement_ids (tenant_id, statement_id, stored) "
        "SELECT tenant_id, statement_id, stored FROM statements"
    )
    op.create_index("ix_statement_ids_stored", "statement_ids", ["stored"])

    with op.batch_alter_table("statement_attachments") as links:
        links.drop_constraint("fk_statement_attachments_statement_seq_statements", "foreignkey")
        links.add_column(sa.Column("stored", timestamp, nullable=True))
    # Links whose statement is gone (possible where foreign keys were off) have no date.
    op.execute(
        "DELETE FROM statement_attachments WHERE statement_seq NOT IN (SELECT seq FROM statements)"
    )
    op.execute(
        "UPDATE statement_attachments SET stored = "
        "(SELECT stored FROM statements WHERE statements.seq = statement_attachments.statement_seq)"
    )
    with op.batch_alter_table("statement_attachments") as links:
        links.alter_column("stored", existing_type=timestamp, nullable=False)
        links.create_index("ix_statement_attachments_stored", ["stored"])

    if op.get_bind().dialect.name == "postgresql":
        _partition_postgresql()
    else:
        _unconstrain_sqlite()


def _unconstrain_sqlite() -> None:
    # Foreign keys first: batch mode rebuilds `statements` by dropping the old table, which
    # would cascade to every index row still pointing at it.
    for name in ("statement_agents", "statement_activities"):
        with op.batch_alter_table(name) as table:
            table.drop_constraint(f"fk_{name}_statement_seq_statements", "foreignkey")
    with op.batch_alter_table("statements") as table:
        table.drop_constraint("uq_statements_tenant_id_statement_id", "unique")
        table.create_index("ix_statements_tenant_statement", ["tenant_id", "statement_id"])


def _partition_postgresql() -> None:
    """Rebuilds the three tables as partitioned ones. Keys and indexes are made after the
    copy (faster), once the old tables, whose index names they reuse, are gone."""
    for name in partitions.PARTITIONED:
        op.execute(f"ALTER TABLE {name} RENAME TO {name}_old")
    # The seq sequence outlives the old table and numbers the new one.
    op.execute("ALTER SEQUENCE statements_seq_seq OWNED BY NONE")
    op.execute(
        """
        CREATE TABLE statements (
            seq bigint NOT NULL DEFAULT nextval('statements_seq_seq'),
            tenant_id integer NOT NULL,
            statement_id uuid NOT NULL,
            stored timestamp with time zone NOT NULL,
            verb_id varchar(2048) NOT NULL,
            registration uuid,
            object_ref uuid,
            is_voiding boolean NOT NULL,
            voided boolean NOT NULL,
            credential_id integer NOT NULL,
            payload text NOT NULL
        ) PARTITION BY RANGE (stored)
        """
    )
    op.execute("ALTER SEQUENCE statements_seq_seq OWNED BY statements.seq")
    for name, key in (("statement_agents", "agent"), ("statement_activities", "activity_id")):
        op.execute(
            f"""
            CREATE TABLE {name} (
                statement_seq bigint NOT NULL,
                {key} varchar(2048) NOT NULL,
                tenant_id integer NOT NULL,
                direct boolean NOT NULL,
                stored timestamp with time zone NOT NULL
            ) PARTITION BY RANGE (stored)
            """
        )
    oldest = op.get_bind().scalar(sa.text("SELECT min(stored) FROM statements_old"))
    now = datetime.now(UTC)
    last = partitions.month_start(now)
    for _ in range(partitions.MONTHS_AHEAD):
        last = partitions.next_month(last)
    for start in partitions.months_between(oldest or now, last):
        for statement in partitions.month_ddl(start):
            op.execute(statement)
    for statement in partitions.default_ddl():
        op.execute(statement)

    op.execute(
        f"INSERT INTO statements ({_STATEMENT_COLUMNS}) "  # noqa: S608 - constant columns
        f"SELECT {_STATEMENT_COLUMNS} FROM statements_old"
    )
    for name, key in (("statement_agents", "agent"), ("statement_activities", "activity_id")):
        columns = f"statement_seq, {key}, tenant_id, direct, stored"
        op.execute(f"INSERT INTO {name} ({columns}) SELECT {columns} FROM {name}_old")  # noqa: S608
    for name in reversed(partitions.PARTITIONED):
        op.execute(f"DROP TABLE {name}_old")

    op.execute("ALTER TABLE statements ADD CONSTRAINT pk_statements PRIMARY KEY (seq, stored)")
    op.create_index("ix_statements_tenant_statement", "statements", ["tenant_id", "statement_id"])
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
    )
    for name, key in (("statement_agents", "agent"), ("statement_activities", "activity_id")):
        key_columns = f"statement_seq, {key}, stored"
        op.execute(f"ALTER TABLE {name} ADD CONSTRAINT pk_{name} PRIMARY KEY ({key_columns})")
        op.create_index(f"ix_{name}_lookup", name, ["tenant_id", key, "stored", "statement_seq"])


def downgrade() -> None:
    raise NotImplementedError("0004 is not reversible: statement ids and partitions")
