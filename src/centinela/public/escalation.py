"""From citizen reports to detection: an EWS signal for every report, and an alert
(detector ``citizen_report``) when a report concerns a pharmacy, one per subject and week."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from centinela.alerts.service import AlertDraft, severity_for, upsert_alert
from centinela.ews.signals import record_signal
from centinela.public.models import CitizenReport, ReportPhoto
from centinela.public.triage import LOOKBACK_DAYS, priority_for, relations
from centinela.reference import ubigeo as ref
from centinela.registry.models import Establishment

DETECTOR = "citizen_report"
KIND_ES = {
    "fentanyl_no_rx": "venta de fentanilo o ampollas sin receta",
    "pills": "venta de pastillas",
    "online_offer": "oferta por internet",
    "suspicious_pharmacy": "farmacia sospechosa",
    "other": "otro hecho",
}


def week_window(at: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """Return the Monday-to-Sunday window (naive UTC) that contains ``at``."""
    start = dt.datetime.combine(at.date() - dt.timedelta(days=at.weekday()), dt.time())
    return start, start + dt.timedelta(days=7) - dt.timedelta(seconds=1)


def concerns_pharmacy(session: Session, report: CitizenReport) -> bool:
    """True when the report names or links a pharmacy/botica or is about a suspicious one."""
    if report.kind == "suspicious_pharmacy" or report.establishment_name:
        return True
    if report.establishment_id:
        est = session.get(Establishment, report.establishment_id)
        return bool(est and est.kind in ("pharmacy", "drugstore"))
    return False


def escalate(session: Session, report: CitizenReport, now: dt.datetime) -> None:
    """Refresh the report's priority, its EWS signal and (for pharmacies) its alert."""
    report.priority = priority_for(session, report, now)
    substance = "fentanyl" if report.kind == "fentanyl_no_rx" or "fentan" in (
        report.text or "").lower() else None
    occurred = (dt.datetime.combine(report.occurred_on, dt.time(12))
                if report.occurred_on else report.created_at)
    record_signal(
        session, source_kind="citizen", source_id=report.report_id, occurred_at=occurred,
        ubigeo=report.ubigeo, substance=substance, weight=round(0.3 + report.priority / 200, 3),
        payload={"kind": report.kind, "how": report.how, "channel": report.channel,
                 "establishment_id": report.establishment_id, "priority": report.priority},
    )
    if concerns_pharmacy(session, report):
        report.alert_id = _raise_alert(session, report, now)
    # A new report corroborates earlier ones: refresh their priority too.
    since = now - dt.timedelta(days=LOOKBACK_DAYS)
    for other in session.scalars(select(CitizenReport).where(
            CitizenReport.department == report.department, CitizenReport.created_at >= since,
            CitizenReport.report_id != report.report_id)):
        if relations(report, other):
            other.priority = priority_for(session, other, now)
    session.flush()


def _raise_alert(session: Session, report: CitizenReport, now: dt.datetime) -> str:
    start, end = week_window(report.created_at)
    if report.establishment_id:
        subject_kind, subject_id = "establishment", report.establishment_id
        same = CitizenReport.establishment_id == report.establishment_id
    else:
        subject_kind, subject_id = "region", report.department
        same = (CitizenReport.department == report.department) & (
            CitizenReport.establishment_id.is_(None))
    group = [r for r in session.scalars(
        select(CitizenReport).where(same, CitizenReport.created_at >= start,
                                    CitizenReport.created_at <= end)
        .order_by(CitizenReport.created_at)) if concerns_pharmacy(session, r)]
    if report not in group:
        group.append(report)
    photos = set(session.scalars(select(ReportPhoto.report_id).where(
        ReportPhoto.report_id.in_([r.report_id for r in group]))))
    score = min(100.0, max(r.priority for r in group) + 5 * (len(group) - 1))
    d = ref.get(report.ubigeo)
    place = f"{d.district}, {d.province} ({d.department})" if d else report.ubigeo
    names = sorted({r.establishment_name for r in group if r.establishment_name})
    target = names[0] if subject_kind == "establishment" and names else (
        f"{len(names)} establecimiento(s) sin vínculo con el registro" if names else place)
    n = len(group)
    summary = (f"{n} denuncia{'s' if n > 1 else ''} ciudadana{'s' if n > 1 else ''} sobre "
               f"{KIND_ES[report.kind]} en {target}, {place}, esta semana.")
    draft = AlertDraft(
        detector=DETECTOR, subject_kind=subject_kind, subject_id=subject_id,
        severity=severity_for(score), score=score, window_start=start, window_end=end,
        summary=summary, department=report.department, topics=["citizen", "pharmacy"],
        evidence={
            "report_ids": [r.report_id for r in group],
            "reports": n,
            "kinds": sorted({r.kind for r in group}),
            "establishment_names": names,
            "ubigeos": sorted({r.ubigeo for r in group}),
            "with_photo": sorted(photos),
            "max_priority": max(r.priority for r in group),
        },
    )
    alert, _ = upsert_alert(session, draft, now=now)
    return alert.alert_id
