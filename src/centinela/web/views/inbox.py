"""Alert inbox: filter by severity, detector, department, status; sort by score."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from centinela.accounts.access import granted_patients
from centinela.accounts.models import User
from centinela.accounts.policy import department_scope
from centinela.alerts.models import SEVERITIES, STATUSES, Alert, Delivery
from centinela.reference.ubigeo import departments
from centinela.web.views.common import AlertRow, alert_row

STATUS_FILTERS = ("open", "all", *STATUSES)


class InboxFilters(BaseModel):
    severity: Literal["", "low", "medium", "high", "critical"] = ""
    detector: str = Field("", max_length=60)
    department: str = Field("", max_length=2)
    status: Literal["open", "all", "new", "triaged", "audit_scheduled", "closed"] = "open"
    subject_kind: str = Field("", max_length=20)
    sort: Literal["score", "recent"] = "score"
    page: int = Field(1, ge=1, le=100000)
    per_page: int = Field(50, ge=1, le=200)


class Option(BaseModel):
    value: str
    label: str


class InboxContext(BaseModel):
    filters: InboxFilters
    rows: list[AlertRow]
    total: int
    page: int
    pages: int
    detectors: list[str]
    departments: list[Option]
    severities: list[str]
    statuses: list[str]
    counts_by_severity: dict[str, int]


def visible_alerts(session: Session, user: User, now: dt.datetime) -> list:
    """Return the WHERE clauses that limit alerts to what ``user`` may see."""
    where = []
    scope = department_scope(user)
    if scope is not None:
        where.append(Alert.department.in_(scope))
    if user.role == "police":
        granted = granted_patients(session, user, now)
        where.append(or_(Alert.subject_kind != "patient", Alert.subject_id.in_(granted or {""})))
    return where


def build_inbox(session: Session, user: User, filters: InboxFilters,
                now: dt.datetime) -> InboxContext:
    """Return the inbox page for ``user``."""
    where = visible_alerts(session, user, now)
    scope = department_scope(user)
    facets_where = list(where)
    if filters.severity:
        where.append(Alert.severity == filters.severity)
    if filters.detector:
        where.append(Alert.detector == filters.detector)
    if filters.department:
        where.append(Alert.department == filters.department)
    if filters.subject_kind:
        where.append(Alert.subject_kind == filters.subject_kind)
    if filters.status == "open":
        where.append(Alert.status != "closed")
    elif filters.status != "all":
        where.append(Alert.status == filters.status)
    total = session.scalar(select(func.count()).select_from(Alert).where(*where)) or 0
    order = ([Alert.score.desc(), Alert.id.desc()] if filters.sort == "score"
             else [Alert.updated_at.desc(), Alert.id.desc()])
    alerts = session.scalars(
        select(Alert).where(*where).order_by(*order)
        .offset((filters.page - 1) * filters.per_page).limit(filters.per_page)
    ).all()
    counts = dict(session.execute(
        select(Alert.severity, func.count()).where(*facets_where, Alert.status != "closed")
        .group_by(Alert.severity)).all())
    detectors = sorted(session.scalars(select(Alert.detector).distinct().where(*facets_where)))
    granted = granted_patients(session, user, now) if user.role == "police" else set()
    rows = [alert_row(a, hide=user.role == "police" and a.subject_id not in granted)
            for a in alerts]
    failed = set(session.scalars(select(Delivery.alert_id).where(
        Delivery.alert_id.in_([a.alert_id for a in alerts]), Delivery.status == "failed")))
    for row in rows:
        row.undelivered = row.alert_id in failed
    deps = departments()
    codes = scope if scope is not None else sorted(deps)
    return InboxContext(
        filters=filters, rows=rows, total=total, page=filters.page,
        pages=max(1, -(-total // filters.per_page)), detectors=detectors,
        departments=[Option(value=c, label=f"{c} {deps.get(c, '')}") for c in codes],
        severities=list(SEVERITIES), statuses=list(STATUS_FILTERS),
        counts_by_severity={s: int(counts.get(s, 0)) for s in SEVERITIES},
    )
