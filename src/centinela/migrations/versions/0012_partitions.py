"""movements partitioned by month on PostgreSQL (SQLite unchanged)

Revision ID: 0012_partitions
Revises: 0012_cases

``movements`` becomes ``PARTITION BY RANGE (occurred_at)``: one partition a month in the schema
``<schema>_parts`` (the months that hold rows, and from this month to
``CENTINELA_PARTITION_AHEAD_MONTHS`` ahead) plus a default partition. PostgreSQL requires the
partition key in every primary/unique key: the primary key becomes ``(id, occurred_at)`` and the
unique key ``(establishment_id, event_id, occurred_at)``; the intake keeps enforcing
``(establishment_id, event_id)`` (``centinela.ingest.writer.MovementStage``). The same indexes
as before are created on the parent (each partition gets its own). See docs/scale.md.
"""

from __future__ import annotations

import datetime as dt

from alembic import op
from sqlalchemy import text

revision = "0012_partitions"
down_revision = "0012_cases"
branch_labels = None
depends_on = None

# (name, columns, partial-index column or None): the indexes of the movements model.
INDEXES = (
    ("ix_movements_est_product_time", "establishment_id, product_code, occurred_at", None),
    ("ix_movements_prescriber_time", "prescriber_id, occurred_at", "prescriber_id"),
    ("ix_movements_patient_time", "patient_id, occurred_at", "patient_id"),
    ("ix_movements_type_time", "event_type, occurred_at", None),
    ("ix_movements_counterparty_id", "counterparty_id", "counterparty_id"),
    ("ix_movements_serial", "serial", "serial"),
    ("ix_movements_professional_id", "professional_id", "professional_id"),
    ("ix_movements_lot", "lot", None),
    ("ix_movements_import_id", "import_id", None),
)


def _indexes(conn) -> None:
    for name, cols, partial in INDEXES:
        where = f" WHERE {partial} IS NOT NULL" if partial else ""
        conn.execute(text(f"CREATE INDEX {name} ON movements ({cols}){where}"))


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    from centinela.partitions import (
        DEFAULT,
        add_months,
        month_start,
        partition_name,
        schemas,
    )

    _app, parts, _archive = schemas(conn)
    conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{parts}"'))
    conn.execute(text("CREATE TABLE movements_p (LIKE movements INCLUDING DEFAULTS) "
                      "PARTITION BY RANGE (occurred_at)"))
    conn.execute(text(f'CREATE TABLE "{parts}".{DEFAULT} PARTITION OF movements_p DEFAULT'))
    this = month_start(dt.datetime.now(dt.UTC))
    months = {add_months(this, k) for k in range(0, 4)}
    months |= {month_start(m) for m in conn.execute(text(
        "SELECT DISTINCT date_trunc('month', occurred_at) FROM movements")).scalars()}
    for month in sorted(months):
        conn.execute(text(
            f'CREATE TABLE "{parts}".{partition_name(month)} PARTITION OF movements_p '
            f"FOR VALUES FROM ('{month.isoformat()}') TO ('{add_months(month, 1).isoformat()}')"))
    conn.execute(text("INSERT INTO movements_p SELECT * FROM movements"))
    conn.execute(text("ALTER SEQUENCE movements_id_seq OWNED BY movements_p.id"))
    conn.execute(text("DROP TABLE movements"))
    conn.execute(text("ALTER TABLE movements_p RENAME TO movements"))
    conn.execute(text("ALTER TABLE movements ADD CONSTRAINT pk_movements "
                      "PRIMARY KEY (id, occurred_at)"))
    conn.execute(text("ALTER TABLE movements ADD CONSTRAINT uq_movements_reporter_event "
                      "UNIQUE (establishment_id, event_id, occurred_at)"))
    _indexes(conn)
    conn.execute(text("ANALYZE movements"))


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    from centinela.partitions import is_partitioned, schemas

    if not is_partitioned(conn):
        return
    _app, parts, _archive = schemas(conn)
    conn.execute(text("CREATE TABLE movements_u (LIKE movements INCLUDING DEFAULTS)"))
    conn.execute(text("INSERT INTO movements_u SELECT * FROM movements ORDER BY id"))
    conn.execute(text("ALTER SEQUENCE movements_id_seq OWNED BY movements_u.id"))
    conn.execute(text("DROP TABLE movements"))
    conn.execute(text(f'DROP SCHEMA IF EXISTS "{parts}"'))
    conn.execute(text("ALTER TABLE movements_u RENAME TO movements"))
    conn.execute(text("ALTER TABLE movements ADD CONSTRAINT pk_movements PRIMARY KEY (id)"))
    conn.execute(text("ALTER TABLE movements ADD CONSTRAINT uq_movements_reporter_event "
                      "UNIQUE (establishment_id, event_id)"))
    _indexes(conn)
