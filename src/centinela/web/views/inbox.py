"""Alert inbox: one line per subject and pattern (detector + subject) with its occurrence count;
filters by date range, text, detector, severity, department, status and assignee; one sort
model (a column and a direction); pages with totals; the same rows for CSV and JSON export."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field, field_validator
from sqlalchemy import case, func, not_, or_, select
from sqlalchemy.orm import Session

from centinela.accounts.access import granted_patients
from centinela.accounts.models import User
from centinela.accounts.policy import department_scope
from centinela.alerts.case_models import Case, CaseAlert
from centinela.alerts.models import SEVERITIES, STATUSES, Alert, Delivery
from centinela.reference.ubigeo import departments
from centinela.web.views.common import AlertRow, alert_row

STATUS_FILTERS = ("open", "all", *STATUSES)
SORTS = ("score", "severity", "detector", "subject", "department", "status", "updated",
         "window")
EXPORT_MAX = 10_000
FILTER_KEYS = ("date_from", "date_to", "q", "severity", "detector", "department", "status",
               "assignee", "subject_kind", "sort", "order")


class InboxFilters(BaseModel):
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    q: str = Field("", max_length=100)
    severity: Literal["", "low", "medium", "high", "critical"] = ""
    detector: str = Field("", max_length=60)
    department: str = Field("", max_length=2)
    status: Literal["open", "all", "new", "triaged", "audit_scheduled", "closed"] = "open"
    assignee: str = Field("", max_length=80)  # username, "me" or "none"
    subject_kind: str = Field("", max_length=20)
    # One sort model: a column and a direction ("recent" is the older name of updated/desc).
    sort: Literal["score", "severity", "detector", "subject", "department", "status", "updated",
                  "window", "recent"] = "score"
    order: Literal["asc", "desc"] = "desc"
    page: int = Field(1, ge=1, le=100000)
    per_page: int = Field(25, ge=1, le=200)

    @field_validator("date_from", "date_to", mode="before")
    @classmethod
    def _blank_date(cls, value: object) -> object:
        # The filter form sends its empty date fields as "date_from=": no date, not an error.
        return None if isinstance(value, str) and not value.strip() else value

    def query(self, **changes: object) -> str:
        """Return the query string of these filters (without the page unless changed)."""
        from urllib.parse import urlencode

        data = {k: getattr(self, k) for k in FILTER_KEYS}
        data.update(changes)
        return urlencode({k: ("" if v is None else v) for k, v in data.items()
                          if v not in (None, "") and not (k == "status" and v == "open")
                          and not (k == "sort" and v == "score")
                          and not (k == "order" and v == "desc")})


class Option(BaseModel):
    value: str
    label: str


class InboxRow(AlertRow):
    alerts_in_group: int = 1  # alerts of the same detector and subject matching the filters
    occurrences: int = 1  # findings folded into them (evidence.occurrence_count)
    case_number: str | None = None
    assignee: str | None = None


class InboxContext(BaseModel):
    filters: InboxFilters
    rows: list[InboxRow]
    total: int  # lines (subject and pattern)
    total_alerts: int
    page: int
    pages: int
    first: int
    last: int
    detectors: list[str]
    departments: list[Option]
    severities: list[str]
    statuses: list[str]
    assignees: list[str]
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


def filter_where(user: User, filters: InboxFilters) -> list:
    """Return the WHERE clauses of the chosen filters."""
    where = []
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
    # A date range keeps the alerts whose window overlaps it.
    if filters.date_from:
        where.append(Alert.window_end >= dt.datetime.combine(filters.date_from, dt.time()))
    if filters.date_to:
        where.append(Alert.window_start < dt.datetime.combine(
            filters.date_to + dt.timedelta(days=1), dt.time()))
    if text := filters.q.strip():
        like = f"%{text.replace('%', '').replace('_', '')}%"
        where.append(or_(Alert.summary.ilike(like), Alert.subject_id.ilike(like),
                         Alert.alert_id.ilike(like), Alert.detector.ilike(like)))
    if filters.assignee:
        cased = select(CaseAlert.alert_id).join(Case, Case.id == CaseAlert.case_id)
        if filters.assignee == "none":
            where.append(not_(Alert.alert_id.in_(cased.where(Case.assignee.is_not(None)))))
        else:
            who = user.username if filters.assignee == "me" else filters.assignee
            where.append(Alert.alert_id.in_(cased.where(Case.assignee == who)))
    return where


def _order(filters: InboxFilters) -> list:
    key, desc = filters.sort, filters.order == "desc"
    if key == "recent":
        key, desc = "updated", True
    severity_rank = case({s: i for i, s in enumerate(SEVERITIES)}, value=Alert.severity, else_=-1)
    col = {"score": Alert.score, "severity": severity_rank, "detector": Alert.detector,
           "subject": Alert.subject_id, "department": Alert.department, "status": Alert.status,
           "updated": Alert.updated_at, "window": Alert.window_end}[key]
    return [col.desc() if desc else col.asc(), Alert.score.desc(), Alert.id.desc()]


def _grouped(where: list):
    """Return a subquery of the matching alerts with, per detector and subject, the rank of
    each alert (1 = strongest) and the count of alerts in its group."""
    part = (Alert.detector, Alert.subject_kind, Alert.subject_id)
    return (select(Alert.id.label("aid"),
                   func.row_number().over(partition_by=part,
                                          order_by=(Alert.score.desc(), Alert.id.desc()))
                   .label("rn"),
                   func.count().over(partition_by=part).label("n"))
            .where(*where).subquery())


def inbox_rows(session: Session, user: User, filters: InboxFilters, now: dt.datetime,
               offset: int, limit: int) -> tuple[list[InboxRow], int, int]:
    """Return (rows of one page, total lines, total alerts) for ``filters``."""
    where = [*visible_alerts(session, user, now), *filter_where(user, filters)]
    grouped = _grouped(where)
    total_alerts, total = session.execute(select(
        func.count(), func.coalesce(func.sum(case((grouped.c.rn == 1, 1), else_=0)), 0))
        .select_from(grouped)).one()
    total_alerts, total = int(total_alerts or 0), int(total or 0)
    found = session.execute(
        select(Alert, grouped.c.n).join(grouped, grouped.c.aid == Alert.id)
        .where(grouped.c.rn == 1).order_by(*_order(filters)).offset(offset).limit(limit)).all()
    alerts = [a for a, _ in found]
    granted = granted_patients(session, user, now) if user.role == "police" else set()
    # Occurrences of every alert in the page's groups (one query, page-sized).
    occ: dict[tuple[str, str, str], int] = {}
    if alerts:
        for det, kind, sid, ev in session.execute(
                select(Alert.detector, Alert.subject_kind, Alert.subject_id, Alert.evidence)
                .where(*where, Alert.subject_id.in_({a.subject_id for a in alerts}))):
            count = (ev or {}).get("occurrence_count") if isinstance(ev, dict) else None
            key = (det, kind, sid)
            occ[key] = occ.get(key, 0) + (int(count) if isinstance(count, int) and count > 0
                                          else 1)
    cases = dict(session.execute(
        select(CaseAlert.alert_id, Case).join(Case, Case.id == CaseAlert.case_id)
        .where(CaseAlert.alert_id.in_([a.alert_id for a in alerts]))).all()) if alerts else {}
    failed = set(session.scalars(select(Delivery.alert_id).where(
        Delivery.alert_id.in_([a.alert_id for a in alerts]), Delivery.status == "failed"))) \
        if alerts else set()
    rows = []
    for alert, n in found:
        base = alert_row(alert, hide=user.role == "police" and alert.subject_id not in granted)
        c = cases.get(alert.alert_id)
        rows.append(InboxRow(
            **base.model_dump(), alerts_in_group=int(n),
            occurrences=occ.get((alert.detector, alert.subject_kind, alert.subject_id), 1),
            case_number=c.number if c else None, assignee=c.assignee if c else None))
        rows[-1].undelivered = alert.alert_id in failed
    return rows, total, total_alerts


def build_inbox(session: Session, user: User, filters: InboxFilters,
                now: dt.datetime) -> InboxContext:
    """Return the inbox page for ``user``."""
    facets_where = visible_alerts(session, user, now)
    rows, total, total_alerts = inbox_rows(session, user, filters, now,
                                           (filters.page - 1) * filters.per_page,
                                           filters.per_page)
    counts = dict(session.execute(
        select(Alert.severity, func.count()).where(*facets_where, Alert.status != "closed")
        .group_by(Alert.severity)).all())
    detectors = sorted(session.scalars(select(Alert.detector).distinct().where(*facets_where)))
    assignees = sorted(a for a in session.scalars(select(Case.assignee).distinct()
                                                  .where(Case.assignee.is_not(None))) if a)
    scope = department_scope(user)
    deps = departments()
    codes = scope if scope is not None else sorted(deps)
    first = (filters.page - 1) * filters.per_page + 1 if rows else 0
    return InboxContext(
        filters=filters, rows=rows, total=total, total_alerts=total_alerts, page=filters.page,
        pages=max(1, -(-total // filters.per_page)), first=first,
        last=first + len(rows) - 1 if rows else 0, detectors=detectors,
        departments=[Option(value=c, label=f"{c} {deps.get(c, '')}") for c in codes],
        severities=list(SEVERITIES), statuses=list(STATUS_FILTERS), assignees=assignees,
        counts_by_severity={s: int(counts.get(s, 0)) for s in SEVERITIES},
    )


def export_rows(session: Session, user: User, filters: InboxFilters,
                now: dt.datetime) -> tuple[list[InboxRow], int]:
    """Return every line of the filtered inbox (at most ``EXPORT_MAX``) and the total."""
    rows, total, _ = inbox_rows(session, user, filters, now, 0, EXPORT_MAX)
    return rows, total
