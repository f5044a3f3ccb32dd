"""The one seam through which every part of Centinela raises an alert.

Detectors, the early-warning system, online-market leads and citizen reports all build an
``AlertDraft`` and call ``upsert_alert``: same detector + subject + window updates one alert.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from centinela.alerts.models import SEVERITIES, SUBJECT_KINDS, Alert


@dataclass
class AlertDraft:
    detector: str
    subject_kind: str
    subject_id: str
    severity: str
    score: float
    window_start: dt.datetime
    window_end: dt.datetime
    summary: str
    evidence: dict = field(default_factory=dict)
    department: str | None = None
    topics: list[str] = field(default_factory=list)
    ubigeo: str | None = None

    def dedup_key(self) -> str:
        raw = "|".join(
            [self.detector, self.subject_kind, self.subject_id,
             self.window_start.isoformat(), self.window_end.isoformat()]
        )
        return hashlib.sha256(raw.encode()).hexdigest()[:40]


def severity_for(score: float) -> str:
    """Map a 0–100 score to a severity band (shared calibration of every detector)."""
    if score >= 85:
        return "critical"
    if score >= 65:
        return "high"
    if score >= 40:
        return "medium"
    return "low"


def upsert_alert(session: Session, draft: AlertDraft, now: dt.datetime | None = None) -> tuple[Alert, bool]:
    """Insert the alert or update the existing one with the same key; return (alert, created).

    Routing and outbox rows are added by ``centinela.alerts.routing.route_alert`` when it is
    importable (the routing module is registered separately so this seam stays small).
    """
    if draft.subject_kind not in SUBJECT_KINDS:
        raise ValueError(f"unknown subject_kind {draft.subject_kind!r}")
    if draft.severity not in SEVERITIES:
        raise ValueError(f"unknown severity {draft.severity!r}")
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    key = draft.dedup_key()
    alert = session.scalar(select(Alert).where(Alert.dedup_key == key))
    if alert is None:
        alert = _overlapping_open_alert(session, draft)
        if alert is not None:
            # The same finding seen over a grown or shifted window: keep one alert.
            alert.dedup_key = key
            alert.window_start = draft.window_start
            alert.window_end = draft.window_end
    created = alert is None
    if created:
        alert = Alert(
            alert_id="ALR-" + key[:16].upper(),
            dedup_key=key,
            detector=draft.detector,
            subject_kind=draft.subject_kind,
            subject_id=draft.subject_id,
            window_start=draft.window_start,
            window_end=draft.window_end,
            status="new",
            created_at=now,
            routed_to=[],
        )
        session.add(alert)
    alert.department = draft.department
    alert.ubigeo = draft.ubigeo
    alert.severity = draft.severity
    alert.score = round(float(draft.score), 3)
    alert.summary = draft.summary
    alert.evidence = draft.evidence
    alert.topics = list(draft.topics)
    alert.updated_at = now
    session.flush()
    try:
        from centinela.alerts.routing import route_alert
    except ImportError:  # routing not installed yet
        return alert, created
    route_alert(session, alert, now=now)
    return alert, created


def _overlapping_open_alert(session: Session, draft: AlertDraft) -> Alert | None:
    """Return the open alert of the same detector and subject whose window overlaps the draft's."""
    return session.scalar(
        select(Alert)
        .where(
            Alert.detector == draft.detector,
            Alert.subject_kind == draft.subject_kind,
            Alert.subject_id == draft.subject_id,
            Alert.status != "closed",
            Alert.window_start <= draft.window_end,
            Alert.window_end >= draft.window_start,
        )
        .order_by(Alert.updated_at.desc())
        .limit(1)
    )


def alert_json(alert: Alert) -> dict:
    """Return the spec's JSON shape of an alert (``centinela alerts --json``)."""
    return {
        "alert_id": alert.alert_id,
        "detector": alert.detector,
        "subject_kind": alert.subject_kind,
        "subject_id": alert.subject_id,
        "severity": alert.severity,
        "score": alert.score,
        "window_start": _iso(alert.window_start),
        "window_end": _iso(alert.window_end),
        "summary": alert.summary,
        "evidence": alert.evidence or {},
        "routed_to": list(alert.routed_to or []),
        "status": alert.status,
        "department": alert.department,
    }


def _iso(value: dt.datetime) -> str:
    """Render a stored naive-UTC datetime as ISO 8601 with offset, in Lima time."""
    lima = dt.timezone(dt.timedelta(hours=-5))
    return value.replace(tzinfo=dt.UTC).astimezone(lima).isoformat()
