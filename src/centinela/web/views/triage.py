"""The staff triage of citizen reports: clusters, duplicates and priority, within the viewer's
departments (a regional analyst sees only reports placed in their own)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from centinela.accounts.models import User
from centinela.accounts.policy import department_scope
from centinela.public.models import REPORT_STATUSES, CitizenReport
from centinela.public.triage import row_json, triage


class OutOfScope(Exception):
    """The report does not exist (``missing``) or lies outside the viewer's departments."""

    def __init__(self, missing: bool) -> None:
        super().__init__("report not found" if missing else "report outside your departments")
        self.missing = missing


def triage_context(session: Session, user: User, status: str | None, now: dt.datetime) -> dict:
    """Return the triage list (the page's context and its JSON twin); ValueError on a bad status."""
    if status and status not in REPORT_STATUSES:
        raise ValueError(f"status must be one of {REPORT_STATUSES}")
    rows = triage(session, now, status=status, departments=department_scope(user))
    return {"reports": [row_json(r) for r in rows], "status": status,
            "statuses": REPORT_STATUSES, "generated_at": now.isoformat()}


def check_scope(session: Session, user: User, report_id: str) -> None:
    """Raise OutOfScope unless ``report_id`` exists and lies in the viewer's departments."""
    report = session.scalar(select(CitizenReport).where(CitizenReport.report_id == report_id))
    if report is None:
        raise OutOfScope(missing=True)
    scope = department_scope(user)
    if scope is not None and report.department not in scope:
        raise OutOfScope(missing=False)
