"""two lighter movements indexes on PostgreSQL: a partial type index and a BRIN of imports

Revision ID: 0018_movement_indexes
Revises: 0017_key_checks

Every month's bulk load builds each movements index with a sort of its rows (the import's
critical path on PostgreSQL, issue 18). Two of them indexed more than their readers use:

- ``ix_movements_type_time (event_type, occurred_at)`` serves queries for one of the few event
  types in a period: counts for the national summary, losses, receipts, wastes, transfers.
  Dispensations and administrations are most of the ledger (65 % of the benchmark's national
  year): a query for them reads the pruned month partitions whole anyway (the planner prefers
  a scan to an index over most of their rows). The index now leaves them out (``WHERE
  event_type NOT IN ('dispense', 'administer')``): a query for another type, or an ``IN`` list
  of others, still uses it (the planner proves the index condition from the query's), and a
  month's build sorts about a third of its rows.
- ``ix_movements_import_id`` is read for one import's rows (the real-time rules, incremental
  detection's late imports, the quarterly data quality). Rows arrive import by import, so a
  block range holds one import or a few: a BRIN index (a summary per 128 pages, no sort) finds
  them as well as a B-tree, at a fraction of the build and none of the size.

SQLite keeps both B-trees (its planner matches a partial index only on the same terms, it has
no BRIN, and its bulk path is another). Measured in benchmarks/README.md (Import at scale,
ninth pass). A partitioned index is dropped and created on every partition: plan a moment on a
large table (the lock is that of any ``CREATE INDEX``).
"""

from __future__ import annotations

from alembic import op

revision = "0018_movement_indexes"
down_revision = "0017_key_checks"
branch_labels = None
depends_on = None

#: The rows the type index keeps on PostgreSQL (ledger.records holds the same text).
FEW_TYPES = "event_type NOT IN ('dispense', 'administer')"


def _rebuild(type_where: str, import_using: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_movements_type_time")
    op.execute("CREATE INDEX ix_movements_type_time ON movements (event_type, occurred_at)"
               + type_where)
    op.execute("DROP INDEX IF EXISTS ix_movements_import_id")
    op.execute(f"CREATE INDEX ix_movements_import_id ON movements USING {import_using} (import_id)")


def upgrade() -> None:
    _rebuild(f" WHERE {FEW_TYPES}", "brin")


def downgrade() -> None:
    _rebuild("", "btree")
