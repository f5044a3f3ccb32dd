"""The analyst's workspace: inbox exports and saved filters, numbered cases (list, detail,
changes, attachments, CSV), long evidence as CSV, and police access requests from an alert."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Annotated
from urllib.parse import parse_qsl, quote, urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from centinela import audit, csvsafe
from centinela.accounts.access import request_access
from centinela.accounts.models import User
from centinela.accounts.policy import department_scope, roles_for
from centinela.accounts.service import AccountError
from centinela.alerts import casefiles
from centinela.alerts.case_models import CaseAttachment, SavedFilter
from centinela.alerts.casefiles import CaseFileError
from centinela.alerts.models import Alert
from centinela.ledger.records import Movement
from centinela.registry.models import Establishment
from centinela.web.deps import clock, db_session, lang, render, require_roles
from centinela.web.i18n import detector_label
from centinela.web.views.alert import NotVisible, movements_where, visible_alert
from centinela.web.views.casefiles import (
    CaseDetail,
    CaseList,
    CaseListFilters,
    CaseNotVisible,
    build_case,
    build_case_list,
    cases_csv,
    get_case,
)
from centinela.web.views.evidence import movements_csv
from centinela.web.views.inbox import FILTER_KEYS, InboxFilters, InboxRow, export_rows
from centinela.web.views.subjects import subject_where

router = APIRouter()
viewer = require_roles(*roles_for("inbox"))
analyst = require_roles(*roles_for("cases"))
police = require_roles("police")

EXPORT_COLUMNS = ("alert_id", "detector", "detector_name", "subject_kind", "subject_id",
                  "severity", "score", "status", "department", "department_name",
                  "window_start", "window_end", "alerts_in_group", "occurrences", "case_number",
                  "assignee", "summary")


def _csv_response(text: str, filename: str) -> Response:
    return Response(text.encode("utf-8-sig"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"',
                             "X-Content-Type-Options": "nosniff"})


def _stamp(now: dt.datetime) -> str:
    return now.strftime("%Y%m%d-%H%M")


# ---------------------------------------------------------------- inbox exports, saved filters

class InboxExport(BaseModel):
    filters: InboxFilters
    total: int
    exported: int
    rows: list[InboxRow]


@router.get("/alerts.csv", include_in_schema=False)
def inbox_csv(request: Request, filters: Annotated[InboxFilters, Query()],
              user: User = Depends(viewer), session: Session = Depends(db_session)):
    """Download the filtered inbox (every page) as CSV."""
    now = clock(request)
    rows, _ = export_rows(session, user, filters, now)
    lng = lang(request)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    for r in rows:
        data = r.model_dump() | {"detector_name": detector_label(r.detector, lng)}
        writer.writerow(csvsafe.row(data[c] for c in EXPORT_COLUMNS))
    audit.record(session, user.username, "inbox.export", "alerts", reason="csv",
                 details={"rows": len(rows), "filters": filters.query()}, now=now)
    return _csv_response(out.getvalue(), f"centinela-alertas-{_stamp(now)}.csv")


@router.get("/alerts.json", response_model=InboxExport, tags=["alerts"])
@router.get("/api/v1/alerts/export", response_model=InboxExport, tags=["alerts"])
def inbox_json(request: Request, filters: Annotated[InboxFilters, Query()],
               user: User = Depends(viewer), session: Session = Depends(db_session)):
    """Return the filtered inbox (every page, up to 10,000 lines) as JSON."""
    now = clock(request)
    rows, total = export_rows(session, user, filters, now)
    audit.record(session, user.username, "inbox.export", "alerts", reason="json",
                 details={"rows": len(rows), "filters": filters.query()}, now=now)
    return InboxExport(filters=filters, total=total, exported=len(rows), rows=rows)


class SavedFilterOut(BaseModel):
    id: int
    name: str
    query: str


def saved_filters(session: Session, user: User) -> list[SavedFilterOut]:
    """Return the inbox filters ``user`` saved, by name."""
    return [SavedFilterOut(id=f.id, name=f.name, query=f.query) for f in session.scalars(
        select(SavedFilter).where(SavedFilter.username == user.username)
        .order_by(SavedFilter.name))]


def _clean_query(raw: str) -> str:
    """Keep only the inbox's own filter keys (what is saved is what the inbox understands)."""
    pairs = [(k, v[:100]) for k, v in parse_qsl(raw.lstrip("?"), keep_blank_values=False)
             if k in FILTER_KEYS]
    return urlencode(pairs)


@router.get("/api/v1/saved-filters", response_model=list[SavedFilterOut], tags=["alerts"])
def saved_filters_api(user: User = Depends(viewer), session: Session = Depends(db_session)):
    """Return the signed-in user's saved inbox filters."""
    return saved_filters(session, user)


@router.post("/saved-filters", include_in_schema=False)
async def save_filter(request: Request, user: User = Depends(viewer),
                      session: Session = Depends(db_session)):
    """Save (or replace) the inbox's current filters under a name; go back to the inbox."""
    form = await request.form()
    name = str(form.get("name") or "").strip()[:80]
    query = _clean_query(str(form.get("query") or ""))
    if not name:
        return RedirectResponse(f"/alerts?{query}&saved_error=1", status_code=303)
    row = session.scalar(select(SavedFilter).where(SavedFilter.username == user.username,
                                                   SavedFilter.name == name))
    if row is None:
        session.add(SavedFilter(username=user.username, name=name, query=query,
                                created_at=clock(request)))
    else:
        row.query = query
    return RedirectResponse(f"/alerts?{query}", status_code=303)


@router.post("/saved-filters/{filter_id}/delete", include_in_schema=False)
def delete_filter(filter_id: int, user: User = Depends(viewer),
                  session: Session = Depends(db_session)):
    """Delete one of the user's saved filters."""
    row = session.get(SavedFilter, filter_id)
    if row is None or row.username != user.username:
        raise HTTPException(404, "saved filter not found")
    session.delete(row)
    return RedirectResponse("/alerts", status_code=303)


# ---------------------------------------------------------------- cases

@router.get("/cases", response_class=HTMLResponse, include_in_schema=False)
def cases_page(request: Request, filters: Annotated[CaseListFilters, Query()],
               user: User = Depends(analyst), session: Session = Depends(db_session)):
    """List "Mis casos" (or every case for a supervisor)."""
    ctx = build_case_list(session, user, filters, clock(request))
    return render(request, "cases/list.html", {"ctx": ctx})


@router.get("/api/v1/cases", response_model=CaseList, tags=["cases"])
def cases_api(request: Request, filters: Annotated[CaseListFilters, Query()],
              user: User = Depends(analyst), session: Session = Depends(db_session)):
    """Return the case list (the page's context)."""
    return build_case_list(session, user, filters, clock(request))


@router.get("/cases.csv", include_in_schema=False)
def cases_download(request: Request, filters: Annotated[CaseListFilters, Query()],
                   user: User = Depends(analyst), session: Session = Depends(db_session)):
    """Download the case list as CSV."""
    now = clock(request)
    return _csv_response(cases_csv(session, user, filters, now),
                         f"centinela-casos-{_stamp(now)}.csv")


@router.post("/cases", include_in_schema=False)
async def open_case_form(request: Request, user: User = Depends(analyst),
                         session: Session = Depends(db_session)):
    """Open a case from an alert (or go to the case it already belongs to)."""
    form = await request.form()
    alert_id = str(form.get("alert_id") or "")[:40]
    try:
        alert = visible_alert(session, user, alert_id, clock(request))
    except NotVisible:
        raise HTTPException(404, "alert not found") from None
    case = casefiles.open_case(session, alert, user.username, now=clock(request))
    return RedirectResponse(f"/cases/{case.number}", status_code=303)


def _case_ctx(request: Request, session: Session, user: User, number: str) -> CaseDetail:
    try:
        return build_case(session, user, number, clock(request))
    except CaseNotVisible:
        raise HTTPException(404, "case not found") from None


def _case_page(request: Request, session: Session, user: User, number: str,
               error: str | None = None, kept: dict | None = None, status_code: int = 200):
    ctx = _case_ctx(request, session, user, number)
    return render(request, "cases/detail.html",
                  {"ctx": ctx, "error": error, "kept": kept or {}}, status_code=status_code)


@router.get("/cases/{number}", response_class=HTMLResponse, include_in_schema=False)
def case_page(number: str, request: Request, user: User = Depends(analyst),
              session: Session = Depends(db_session)):
    """Render one case."""
    return _case_page(request, session, user, number)


@router.get("/api/v1/cases/{number}", response_model=CaseDetail, tags=["cases"])
def case_api(number: str, request: Request, user: User = Depends(analyst),
             session: Session = Depends(db_session)):
    """Return one case (the page's context)."""
    return _case_ctx(request, session, user, number)


def _visible_case(request: Request, session: Session, user: User, number: str):
    try:
        return get_case(session, user, number)
    except CaseNotVisible:
        raise HTTPException(404, "case not found") from None


def _failed(request: Request, session: Session, user: User, number: str, err: CaseFileError,
            kept: dict):
    """Undo the half-done change and show the case again with the error inline (422)."""
    session.rollback()
    return _case_page(request, session, user, number, error=err.key, kept=kept,
                      status_code=422)


@router.post("/cases/{number}", include_in_schema=False)
async def case_update_form(number: str, request: Request, user: User = Depends(analyst),
                           session: Session = Depends(db_session)):
    """Change the assignee or due date, add a note, link an alert, close or reopen."""
    case = _visible_case(request, session, user, number)
    form = await request.form()
    op = str(form.get("op") or "update")
    now = clock(request)
    kept = {k: str(form.get(k) or "")[:4000] for k in ("note", "outcome", "assignee", "due_date",
                                                     "alert_id")}
    try:
        if op == "close":
            casefiles.close(session, case, user.username, kept["outcome"] or None, kept["note"],
                            now=now)
        elif op == "reopen":
            casefiles.reopen(session, case, user.username, now=now)
        elif op == "link":
            try:
                alert = visible_alert(session, user, kept["alert_id"].strip(), now)
            except NotVisible:
                raise CaseFileError("casefile.error_alert", "alert not found") from None
            casefiles.link_alert(session, case, alert, user.username, now=now)
        else:
            ctx = _case_ctx(request, session, user, number)
            assignee = kept["assignee"].strip()
            if assignee and assignee not in ctx.assignees:
                raise CaseFileError("casefile.error_assignee", f"{assignee} cannot take the case")
            due = None
            if kept["due_date"]:
                try:
                    due = dt.date.fromisoformat(kept["due_date"])
                except ValueError:
                    raise CaseFileError("casefile.error_due", "due date: YYYY-MM-DD") from None
            casefiles.update(session, case, user.username, assignee=assignee or None,
                             due_date=due, note=kept["note"], now=now)
    except CaseFileError as err:
        return _failed(request, session, user, number, err, kept)
    return RedirectResponse(f"/cases/{quote(number)}", status_code=303)


@router.post("/cases/{number}/attachments", include_in_schema=False)
async def case_attach_form(number: str, request: Request, user: User = Depends(analyst),
                           session: Session = Depends(db_session)):
    """Attach a file to the case (size and type checked; errors shown inline)."""
    case = _visible_case(request, session, user, number)
    form = await request.form()
    upload = form.get("file")
    if upload is None or isinstance(upload, str) or not upload.filename:
        return _failed(request, session, user, number,
                       CaseFileError("casefile.error_empty", "no file"), {})
    data = await upload.read(casefiles.ATTACHMENT_MAX_BYTES + 1)
    try:
        casefiles.attach(session, case, user.username, upload.filename, data,
                         now=clock(request))
    except CaseFileError as err:
        return _failed(request, session, user, number, err, {})
    return RedirectResponse(f"/cases/{quote(number)}#files", status_code=303)


@router.get("/cases/{number}/attachments/{attachment_id}", include_in_schema=False)
def case_attachment(number: str, attachment_id: int, request: Request,
                    user: User = Depends(analyst), session: Session = Depends(db_session)):
    """Download a case file (audit-logged)."""
    case = _visible_case(request, session, user, number)
    att = session.get(CaseAttachment, attachment_id)
    if att is None or att.case_id != case.id:
        raise HTTPException(404, "attachment not found")
    try:
        data = casefiles.read_attachment(session, case, att, user.username, now=clock(request))
    except FileNotFoundError:
        raise HTTPException(404, "attachment content missing") from None
    return Response(data, media_type=att.content_type, headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(att.filename)}",
        "X-Content-Type-Options": "nosniff"})


# ---------------------------------------------------------------- long evidence as CSV

@router.get("/alerts/{alert_id}/movements.csv", include_in_schema=False)
def alert_movements_csv(alert_id: str, request: Request, user: User = Depends(viewer),
                        session: Session = Depends(db_session)):
    """Download every movement behind an alert (its subject, inside its window; none for an
    early-warning alert, which signals raised)."""
    now = clock(request)
    try:
        alert = visible_alert(session, user, alert_id, now)
    except NotVisible:
        raise HTTPException(404, "alert not found") from None
    show = user.role != "police" or alert.subject_kind == "patient"
    text = movements_csv(session, movements_where(session, alert), show)
    audit.record(session, user.username, "alert.movements_csv", alert.alert_id,
                 reason="movements download", details={"role": user.role}, now=now)
    return _csv_response(text, f"{alert.alert_id}-movimientos.csv")


@router.get("/profiles/{kind}/{subject_id}/movements.csv", include_in_schema=False)
def custody_csv(kind: str, subject_id: str, request: Request,
                user: User = Depends(require_roles(*roles_for("profiles"))),
                session: Session = Depends(db_session)):
    """Download a lot's or serial's whole custody (movements, oldest first, no patients)."""
    if kind not in ("lot", "serial"):
        raise HTTPException(404, "only lots and serials have a custody download")
    where = subject_where(session, kind, subject_id)
    scope = department_scope(user)
    if scope is not None:
        where.append(Movement.establishment_id.in_(
            select(Establishment.establishment_id).where(Establishment.department.in_(scope))))
    if not session.scalar(select(Movement.id).where(*where).limit(1)):
        raise HTTPException(404, "no movements recorded for this lot or serial")
    return _csv_response(movements_csv(session, where, False, oldest_first=True),
                         f"{kind}-{subject_id[:60]}-custodia.csv")


# ---------------------------------------------------------------- police: access from an alert

MAX_PATIENTS_PER_REQUEST = 20


def _psn_tokens(value: object, out: list[str]) -> list[str]:
    if isinstance(value, str) and value.startswith("PSN:") and value not in out:
        out.append(value)
    elif isinstance(value, list):
        for v in value:
            _psn_tokens(v, out)
    elif isinstance(value, dict):
        for v in value.values():
            _psn_tokens(v, out)
    return out


def _alert_for_police(session: Session, user: User, alert_id: str) -> tuple[Alert, list[str]]:
    """Return the alert and the patients (pseudonyms) a request from it would name: the
    alert's own patient, or those in its evidence; 404 when there is none."""
    alert = session.scalar(select(Alert).where(Alert.alert_id == alert_id))
    if alert is None:
        raise HTTPException(404, "alert not found")
    patients = ([alert.subject_id] if alert.subject_kind == "patient"
                else _psn_tokens(alert.evidence or {}, [])[:MAX_PATIENTS_PER_REQUEST])
    if not patients:
        raise HTTPException(404, "this alert names no patient")
    return alert, patients


@router.get("/alerts/{alert_id}/access-request", response_class=HTMLResponse,
            include_in_schema=False)
def access_from_alert_page(alert_id: str, request: Request, user: User = Depends(police),
                           session: Session = Depends(db_session)):
    """Show the access-request form for the patient of an alert (the pseudonym stays hidden)."""
    alert, patients = _alert_for_police(session, user, alert_id)
    return render(request, "alerts/access_request.html",
                  {"alert_id": alert.alert_id, "patients": len(patients), "error": None,
                   "kept": {}})


@router.post("/alerts/{alert_id}/access-request", include_in_schema=False)
async def access_from_alert(alert_id: str, request: Request, user: User = Depends(police),
                            session: Session = Depends(db_session)):
    """File an access request for each patient of an alert; an admin decides them."""
    alert, patients = _alert_for_police(session, user, alert_id)
    form = await request.form()
    kept = {"case_number": str(form.get("case_number") or "")[:80],
            "reason": str(form.get("reason") or "")[:2000]}
    now = clock(request)
    try:
        reqs = [request_access(session, user, kept["case_number"], kept["reason"], psn,
                               now=now) for psn in patients]
    except AccountError:
        session.rollback()
        return render(request, "alerts/access_request.html",
                      {"alert_id": alert.alert_id, "patients": len(patients),
                       "error": "access.invalid", "kept": kept}, status_code=422)
    for req in reqs:
        audit.record(session, user.username, "access.request", req.patient_id,
                     reason=f"case {req.case_number}: {req.reason}",
                     details={"alert": alert.alert_id}, now=now)
    return RedirectResponse("/access", status_code=303)


