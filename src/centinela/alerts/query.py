"""Read alerts for the CLI, the web pages and the API (one query, filters, score order)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from centinela.alerts.models import SEVERITIES, STATUSES, Alert, Delivery


def _split(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else value.split(",")
    return [v.strip() for v in items if v and v.strip()]


def list_alerts(session: Session, detector: str | list[str] | None = None,
                severity: str | list[str] | None = None, department: str | list[str] | None = None,
                status: str | list[str] | None = None, min_score: float | None = None,
                limit: int | None = None, offset: int = 0) -> list[Alert]:
    """Return alerts matching the filters (comma-separated lists allowed), highest score first."""
    stmt = select(Alert)
    if dets := _split(detector):
        stmt = stmt.where(Alert.detector.in_(dets))
    if sevs := _split(severity):
        bad = [s for s in sevs if s not in SEVERITIES]
        if bad:
            raise ValueError(f"unknown severity {bad[0]!r}; use {', '.join(SEVERITIES)}")
        stmt = stmt.where(Alert.severity.in_(sevs))
    if deps := _split(department):
        stmt = stmt.where(Alert.department.in_([d.zfill(2) for d in deps]))
    if sts := _split(status):
        bad = [s for s in sts if s not in STATUSES]
        if bad:
            raise ValueError(f"unknown status {bad[0]!r}; use {', '.join(STATUSES)}")
        stmt = stmt.where(Alert.status.in_(sts))
    if min_score is not None:
        stmt = stmt.where(Alert.score >= min_score)
    stmt = stmt.order_by(Alert.score.desc(), Alert.alert_id).offset(offset)
    if limit:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt))


def deliveries_of(session: Session, alert_id: str) -> list[Delivery]:
    """Return the outbox rows of one alert."""
    return list(session.scalars(select(Delivery).where(Delivery.alert_id == alert_id)
                                .order_by(Delivery.id)))


def routing_digest(session: Session, limit: int = 10) -> list[str]:
    """Return one line per top alert with where it was routed (for ``centinela demo``)."""
    from sqlalchemy import func

    lines = []
    for a in list_alerts(session, limit=limit):
        lines.append(f"{a.score:5.1f} {a.severity:8} {a.detector:26} {a.subject_kind}:{a.subject_id}"
                     f" → {', '.join(a.routed_to or []) or '—'}")
    total = session.scalar(select(func.count()).select_from(Alert)) or 0
    if total > limit:
        lines.append(f"… y {total - limit} alertas más / and {total - limit} more")
    return lines
