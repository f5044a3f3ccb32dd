"""regional_outlier alerts: the region subject is the 2-digit department

Revision ID: 0016_region_subjects
Revises: 0015_detect_state_imports

The data contract names a ``region`` subject by its 2-digit department code. ``regional_outlier``
stored province and district findings under their 4- or 6-digit code. Each such alert becomes
its department's alert for that area: ``subject_id`` the department, the area kept in
``evidence.area_code`` and ``evidence.variant`` (what keeps two areas of one department apart,
``alerts.service.AlertDraft.variant``), so the next detection run folds into it instead of
opening a second alert. Case events and deliveries refer to ``alert_id``, which does not change.
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0016_region_subjects"
down_revision = "0015_detect_state_imports"
branch_labels = None
depends_on = None

alerts = sa.table("alerts", sa.column("id", sa.Integer), sa.column("subject_kind", sa.String),
                  sa.column("subject_id", sa.String), sa.column("evidence", sa.JSON))


def _evidence(value: object) -> dict:
    if isinstance(value, str):  # a driver that hands JSON back as text
        value = json.loads(value)
    return dict(value) if isinstance(value, dict) else {}


def upgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(alerts.c.id, alerts.c.subject_id, alerts.c.evidence).where(
        alerts.c.subject_kind == "region", sa.func.length(alerts.c.subject_id) > 2)).all()
    for id_, subject, evidence in rows:
        ev = _evidence(evidence)
        ev.setdefault("area_code", subject)
        ev.setdefault("variant", subject)
        conn.execute(alerts.update().where(alerts.c.id == id_).values(
            subject_id=subject[:2], evidence=ev))


def downgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(alerts.c.id, alerts.c.evidence).where(
        alerts.c.subject_kind == "region")).all()
    for id_, evidence in rows:
        ev = _evidence(evidence)
        area = ev.get("area_code")
        if isinstance(area, str) and len(area) > 2:
            conn.execute(alerts.update().where(alerts.c.id == id_).values(subject_id=area))
