"""Migrations build the whole schema, on SQLite and PostgreSQL, with no drift from the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import centinela.models  # noqa: F401
from centinela.db import MIGRATIONS_DIR, Base
from centinela.partitions import intentional_drift  # PostgreSQL: partitioned movements (0012)


def test_there_is_a_migration_history():
    assert list((MIGRATIONS_DIR / "versions").glob("*.py")), "no Alembic migration found"


def test_models_and_migrations_do_not_drift(engine):
    # The fixture's database was built by `create_schema`, i.e. `alembic upgrade head`.
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = intentional_drift(compare_metadata(ctx, Base.metadata))
    assert diff == [], f"models differ from migrations: {diff[:5]}"
