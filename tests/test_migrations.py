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


def test_region_alerts_stored_under_a_district_code_move_to_their_department(engine):
    """0016: a regional_outlier alert stored under its district code becomes its department's
    alert for that area (evidence.area_code), and back on downgrade."""
    import datetime as dt

    import sqlalchemy as sa
    from alembic import command

    from centinela.db import alembic_config

    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    now = dt.datetime(2026, 1, 1)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0015_detect_state_imports")
        conn.execute(sa.text(
            "INSERT INTO alerts (alert_id, dedup_key, detector, subject_kind, subject_id, "
            "severity, score, window_start, window_end, summary, evidence, status, routed_to, topics, "
            "created_at, updated_at) VALUES ('ALR-T', 'k', 'regional_outlier', 'region', "
            "'150103', 'low', 35, :t, :t, 's', :ev, 'new', '[]', '[]', :t, :t)"),
            {"t": now, "ev": '{"level": "district"}'})
        command.upgrade(cfg, "head")
        subject, evidence = conn.execute(sa.text(
            "SELECT subject_id, evidence FROM alerts WHERE alert_id = 'ALR-T'")).one()
        ev = evidence if isinstance(evidence, dict) else __import__("json").loads(evidence)
        assert subject == "15" and ev["area_code"] == "150103" and ev["level"] == "district"
        command.downgrade(cfg, "0015_detect_state_imports")
        assert conn.execute(sa.text(
            "SELECT subject_id FROM alerts WHERE alert_id = 'ALR-T'")).scalar() == "150103"
        command.upgrade(cfg, "head")
