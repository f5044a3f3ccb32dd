"""Case pages: "Mis casos", every case for supervisors, one case with its alerts, log and files.

Cases are for analysts; a regional analyst reaches only cases of their departments, the
national analyst and the admin (supervisors) every case.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from centinela import audit, csvsafe
from centinela.accounts.models import User
from centinela.accounts.policy import ANALYSTS, department_scope, may_see_department
from centinela.alerts import casefiles
from centinela.alerts.case_models import Case, CaseAlert
from centinela.alerts.models import OUTCOMES
from centinela.web.views.common import (
    AlertRow,
    alert_row,
    department_name,
    has_patients,
    lima_iso,
)

SUPERVISORS = ("admin", "national_analyst")
PER_PAGE = 25


class CaseRow(BaseModel):
    number: str
    title: str
    department: str | None
    department_name: str | None
    assignee: str | None
    created_by: str
    due_date: str | None
    overdue: bool
    status: str
    outcome: str | None
    alerts: int
    created_at: str | None
    updated_at: str | None


class CaseListFilters(BaseModel):
    scope: Literal["mine", "all"] = "mine"
    status: Literal["open", "closed", "all"] = "open"
    page: int = Field(1, ge=1, le=100000)


class CaseList(BaseModel):
    filters: CaseListFilters
    may_see_all: bool
    rows: list[CaseRow]
    total: int
    page: int
    pages: int


class EntryRow(BaseModel):
    at: str
    actor: str
    kind: str
    text: str


class AttachmentRow(BaseModel):
    id: int
    filename: str
    content_type: str
    size: int
    uploaded_by: str
    uploaded_at: str


class CaseDetail(BaseModel):
    case: CaseRow
    alerts: list[AlertRow]
    entries: list[EntryRow]
    attachments: list[AttachmentRow]
    assignees: list[str]
    outcomes: list[str]
    max_mb: int
    types: list[str]


class CaseNotVisible(LookupError):
    """No such case, or out of the user's reach (answered as 404)."""


def may_see_case(user: User, case: Case) -> bool:
    """Return True when ``user`` may open ``case``."""
    return user.role in ANALYSTS and may_see_department(user, case.department)


def get_case(session: Session, user: User, number: str) -> Case:
    """Return the case ``number`` if ``user`` may open it, else raise CaseNotVisible."""
    case = session.scalar(select(Case).where(Case.number == number))
    if case is None or not may_see_case(user, case):
        raise CaseNotVisible(number)
    return case


def case_row(case: Case, alerts: int, today: dt.date) -> CaseRow:
    """Return the list row of a case."""
    return CaseRow(
        number=case.number, title=case.title, department=case.department,
        department_name=department_name(case.department), assignee=case.assignee,
        created_by=case.created_by,
        due_date=case.due_date.isoformat() if case.due_date else None,
        overdue=bool(case.status == "open" and case.due_date and case.due_date < today),
        status=case.status, outcome=case.outcome, alerts=alerts,
        created_at=lima_iso(case.created_at), updated_at=lima_iso(case.updated_at))


def _where(user: User, filters: CaseListFilters) -> list:
    where = []
    if filters.scope == "mine" or user.role not in SUPERVISORS:
        where.append(Case.assignee == user.username)
    scope = department_scope(user)
    if scope is not None:
        where.append(Case.department.in_(scope))
    if filters.status != "all":
        where.append(Case.status == filters.status)
    return where


def _rows(session: Session, cases: list[Case], now: dt.datetime) -> list[CaseRow]:
    counts = dict(session.execute(
        select(CaseAlert.case_id, func.count()).where(CaseAlert.case_id.in_([c.id for c in cases]))
        .group_by(CaseAlert.case_id)).all()) if cases else {}
    return [case_row(c, int(counts.get(c.id, 0)), now.date()) for c in cases]


def build_case_list(session: Session, user: User, filters: CaseListFilters,
                    now: dt.datetime) -> CaseList:
    """Return one page of the user's cases (every case for a supervisor asking for all)."""
    where = _where(user, filters)
    total = session.scalar(select(func.count()).select_from(Case).where(*where)) or 0
    pages = max(1, -(-total // PER_PAGE))
    cases = list(session.scalars(
        select(Case).where(*where)
        .order_by(Case.status.desc(), Case.due_date.asc(), Case.id.desc())
        .offset((filters.page - 1) * PER_PAGE).limit(PER_PAGE)))
    return CaseList(filters=filters, may_see_all=user.role in SUPERVISORS,
                    rows=_rows(session, cases, now), total=total, page=filters.page, pages=pages)


def cases_csv(session: Session, user: User, filters: CaseListFilters, now: dt.datetime) -> str:
    """Return the case list (no paging, formula-neutralised) as CSV."""
    cases = list(session.scalars(select(Case).where(*_where(user, filters))
                                 .order_by(Case.id).limit(50_000)))
    columns = list(CaseRow.model_fields)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in _rows(session, cases, now):
        data = row.model_dump()
        writer.writerow(csvsafe.row(data[c] for c in columns))
    return out.getvalue()


def assignee_options(session: Session, case: Case) -> list[str]:
    """Return the analysts who may work on the case (they can see its department)."""
    users = session.scalars(select(User).where(User.role.in_(ANALYSTS), User.active.is_(True))
                            .order_by(User.username))
    return [u.username for u in users if may_see_department(u, case.department)]


def build_case(session: Session, user: User, number: str, now: dt.datetime) -> CaseDetail:
    """Return one case with its alerts, log and attachments."""
    case = get_case(session, user, number)
    alerts = casefiles.linked_alerts(session, case)
    if any(a.subject_kind == "patient" or has_patients(a.summary.split(" ")) for a in alerts):
        audit.record(session, user.username, "casefile.patient_data", f"case:{case.number}",
                     reason="case detail", details={"role": user.role}, now=now)
    return CaseDetail(
        case=case_row(case, len(alerts), now.date()),
        alerts=[alert_row(a) for a in alerts],
        entries=[EntryRow(at=lima_iso(e.at) or "", actor=e.actor, kind=e.kind, text=e.text)
                 for e in casefiles.entries(session, case)],
        attachments=[AttachmentRow(id=a.id, filename=a.filename, content_type=a.content_type,
                                   size=a.size, uploaded_by=a.uploaded_by,
                                   uploaded_at=lima_iso(a.uploaded_at) or "")
                     for a in casefiles.attachments(session, case)],
        assignees=assignee_options(session, case), outcomes=list(OUTCOMES),
        max_mb=casefiles.ATTACHMENT_MAX_BYTES // 1_048_576,
        types=sorted(casefiles.ATTACHMENT_TYPES))
