"""Alert detail: evidence, subject-vs-peers chart, movements, routing and deliveries, case log."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel
from sqlalchemy import false, select
from sqlalchemy.orm import Session

from centinela import audit
from centinela.accounts.models import User
from centinela.accounts.policy import (
    ANALYSTS,
    department_scope,
    may_see_department,
    may_see_patient,
)
from centinela.alerts.casefiles import case_of_alert
from centinela.alerts.models import Alert, Authority, CaseEvent, Channel, Delivery, DeliveryAttempt
from centinela.ews.sources import alert_signals, is_ews_alert
from centinela.ledger.records import Movement
from centinela.web.alertcharts import charts_for
from centinela.web.chartspec import ChartSpec
from centinela.web.evidence import Explained, SourceRecord, explain, source_records
from centinela.web.views.cases import allowed_actions
from centinela.web.views.common import (
    AlertRow,
    MovementRow,
    alert_row,
    has_patients,
    hide_patients,
    hide_patients_text,
    lima_iso,
)
from centinela.web.views.evidence import MovementPage, movement_page
from centinela.web.views.subjects import Chart, chart_for, subject_where
from centinela.web.wording import tidy

MOVEMENTS_SHOWN = 15  # one page of the movements behind an alert (keeps the page under 4,000 px)


class EvidenceItem(BaseModel):
    key: str
    value: str


class AttemptRow(BaseModel):
    at: str
    ok: bool
    detail: str


class DeliveryRow(BaseModel):
    authority_id: str
    authority_name: str
    channel: str
    status: str
    attempts: int
    sent_at: str | None
    last_error: str | None
    history: list[AttemptRow]


class CaseEventRow(BaseModel):
    at: str
    actor: str
    action: str
    from_status: str | None
    to_status: str | None
    outcome: str | None
    note: str


class AlertDetail(BaseModel):
    alert: AlertRow
    outcome: str | None
    created_at: str | None
    updated_at: str | None
    evidence: dict
    evidence_items: list[EvidenceItem]
    explained: Explained | None = None
    charts: list[ChartSpec] = []
    chart: Chart
    movements: list[MovementRow]
    movements_total: int
    movements_page: MovementPage | None = None  # the page shown, with its position and totals
    # An early-warning alert: the signals that raised it (it has no movements behind it).
    sources: list[SourceRecord] | None = None
    sources_total: int = 0
    case_number: str | None = None  # the numbered case the alert belongs to
    deliveries: list[DeliveryRow]
    case_events: list[CaseEventRow]
    actions: list[str]
    patient_data_shown: bool
    patient_data_hidden: bool


class NotVisible(LookupError):
    """The alert does not exist or lies outside the viewer's reach (answered as 404)."""


def flatten(evidence: dict, prefix: str = "") -> list[EvidenceItem]:
    """Return the evidence as key/value rows (lists of scalars joined, nested keys dotted)."""
    out: list[EvidenceItem] = []
    for key, value in evidence.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.extend(flatten(value, name + "."))
        elif isinstance(value, list) and all(not isinstance(v, dict | list) for v in value):
            out.append(EvidenceItem(key=name, value=", ".join(str(v) for v in value[:50])))
        elif isinstance(value, list):
            out.append(EvidenceItem(key=name, value=f"{len(value)} registros"))
        elif isinstance(value, float):
            out.append(EvidenceItem(key=name, value=f"{value:,.2f}"))
        else:
            out.append(EvidenceItem(key=name, value=str(value)))
    return out


def visible_alert(session: Session, user: User, alert_id: str, now: dt.datetime) -> Alert:
    """Return the alert if ``user`` may open it, else raise NotVisible."""
    alert = session.scalar(select(Alert).where(Alert.alert_id == alert_id))
    if alert is None or not may_see_department(user, alert.department):
        raise NotVisible(alert_id)
    if alert.subject_kind == "patient" and not may_see_patient(session, user, alert.subject_id, now):
        raise NotVisible(alert_id)
    return alert


# Alerts raised from outside the ledger (posts, citizen reports): no movements are behind a
# regional one.
OUTSIDE_LEDGER = frozenset({"online_lead", "citizen_report"})


def movements_where(session: Session, alert: Alert) -> list:
    """Return the WHERE clauses of the movements behind ``alert``: its subject's, inside its
    window. An early-warning alert has none: signals raised it (``alert_signals``), and the
    movements of its department in its window are not behind it."""
    if is_ews_alert(alert):
        return [false()]
    if alert.detector in OUTSIDE_LEDGER and alert.subject_kind == "region":
        # An online lead or a citizen report placed in a department: posts and reports raised
        # it, not that department's dispensations (which would show unrelated patients).
        return [false()]
    return [*subject_where(session, alert.subject_kind, alert.subject_id),
            Movement.occurred_at >= alert.window_start, Movement.occurred_at <= alert.window_end]


def build_alert(session: Session, user: User, alert_id: str, now: dt.datetime,
                page: int = 1, lang: str = "es") -> AlertDetail:
    """Return the detail page of one alert; reading patient-level data is audited."""
    alert = visible_alert(session, user, alert_id, now)
    where = movements_where(session, alert)
    evidence = alert.evidence or {}
    # Police see patients only under a grant for the alert's own patient subject.
    show = user.role != "police" or (alert.subject_kind == "patient")
    mpage = movement_page(session, where, page, show, per_page=MOVEMENTS_SHOWN)
    total = mpage.total
    patient_level = (alert.subject_kind == "patient" or has_patients(evidence)
                     or any(m.patient_id for m in mpage.rows))
    row = alert_row(alert, hide=not show)
    if not show:
        evidence = hide_patients(evidence)
    if patient_level and show:
        audit.record(session, user.username, "alert.patient_data", alert.alert_id,
                     reason="alert detail", details={"role": user.role,
                                                     "subject_kind": alert.subject_kind},
                     now=now)
    sources, sources_total = None, 0
    if is_ews_alert(alert):  # the signals behind it, within the viewer's departments
        signals, sources_total = alert_signals(session, alert, department_scope(user))
        sources = source_records(signals, lang)
        audit.record(session, user.username, "ews.signals.read", alert.department or "national",
                     reason="alert detail", details={"count": sources_total,
                                                     "alert": alert.alert_id}, now=now)
    explained = explain(alert, evidence, lang)
    if not show:
        explained.headline = hide_patients_text(explained.headline)
        explained.sentences = [hide_patients_text(x) for x in explained.sentences]
    # The same wording as the inbox's line (dates in the reader's style, no same-day ranges).
    explained.headline = tidy(explained.headline, lang)
    explained.sentences = [tidy(x, lang) for x in explained.sentences]
    return AlertDetail(
        explained=explained, charts=charts_for(session, alert, evidence, lang),
        alert=row, outcome=alert.outcome, created_at=lima_iso(alert.created_at),
        updated_at=lima_iso(alert.updated_at), evidence=evidence,
        evidence_items=flatten(evidence),
        chart=chart_for(session, alert.subject_kind, alert.subject_id, alert.window_end),
        movements=mpage.rows, movements_total=total, movements_page=mpage,
        sources=sources, sources_total=sources_total,
        case_number=case.number if (case := case_of_alert(session, alert.alert_id)) else None,
        deliveries=_deliveries(session, alert.alert_id), case_events=_case_events(session, alert),
        actions=allowed_actions(alert) if user.role in ANALYSTS else [],
        patient_data_shown=patient_level and show, patient_data_hidden=patient_level and not show,
    )


def _deliveries(session: Session, alert_id: str) -> list[DeliveryRow]:
    rows = session.execute(
        select(Delivery, Channel, Authority)
        .join(Channel, Channel.id == Delivery.channel_id)
        .join(Authority, Authority.authority_id == Channel.authority_id)
        .where(Delivery.alert_id == alert_id).order_by(Delivery.id)).all()
    out = []
    for d, ch, auth in rows:
        attempts = session.scalars(select(DeliveryAttempt).where(
            DeliveryAttempt.delivery_id == d.id).order_by(DeliveryAttempt.id)).all()
        out.append(DeliveryRow(
            authority_id=auth.authority_id, authority_name=auth.name, channel=ch.kind,
            status=d.status, attempts=d.attempts, sent_at=lima_iso(d.sent_at),
            last_error=d.last_error,
            history=[AttemptRow(at=lima_iso(a.attempted_at) or "", ok=a.ok, detail=a.detail)
                     for a in attempts]))
    return out


def _case_events(session: Session, alert: Alert) -> list[CaseEventRow]:
    events = session.scalars(select(CaseEvent).where(CaseEvent.alert_id == alert.alert_id)
                             .order_by(CaseEvent.at, CaseEvent.id)).all()
    return [CaseEventRow(at=lima_iso(e.at) or "", actor=e.actor, action=e.action,
                         from_status=e.from_status, to_status=e.to_status, outcome=e.outcome,
                         note=e.note) for e in events]
