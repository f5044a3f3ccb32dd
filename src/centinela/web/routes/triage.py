"""Staff triage of citizen reports: the list, status changes and photos (staff layout), and
the JSON twins. Every read is audit-logged; a regional analyst sees only their departments."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from centinela.accounts.models import User
from centinela.accounts.policy import INVESTIGATORS
from centinela.audit import record
from centinela.public.models import REPORT_STATUSES, ReportPhoto
from centinela.public.triage import TriageError, set_status
from centinela.web.deps import db_session, render, require_roles
from centinela.web.routes.public import _now, _problem
from centinela.web.views.triage import OutOfScope, check_scope, triage_context

router = APIRouter()
analyst = require_roles(*INVESTIGATORS)


def _context(session: Session, user: User, status: str | None, request: Request) -> dict:
    """The triage list, its read audit-logged; 422 on an unknown status."""
    now = _now(request)
    try:
        ctx = triage_context(session, user, status, now)
    except ValueError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    record(session, user.username, "citizen_report.list", status or "all",
           details={"count": len(ctx["reports"])}, now=now)
    return ctx


def _check_scope(session: Session, user: User, report_id: str) -> None:
    try:
        check_scope(session, user, report_id)
    except OutOfScope as exc:
        raise HTTPException(status_code=404 if exc.missing else 403, detail=str(exc)) from None


@router.get("/api/v1/analyst/reports", tags=["analyst"])
def api_triage(request: Request, status: str | None = None, user: User = Depends(analyst),
               session: Session = Depends(db_session)) -> dict:
    """Citizen reports for triage: clusters, duplicates, priority (JSON twin of the page)."""
    return _context(session, user, status, request)


@router.get("/analista/reportes", response_class=HTMLResponse, include_in_schema=False)
def triage_page(request: Request, status: str | None = None, user: User = Depends(analyst),
                session: Session = Depends(db_session)) -> HTMLResponse:
    """Triage page for analysts."""
    ctx = _context(session, user, status or None, request)
    ctx["user"] = user
    return render(request, "citizen_reports.html", ctx)


class StatusBody(BaseModel):
    status: Literal[REPORT_STATUSES]  # type: ignore[valid-type]
    note: str = Field("", max_length=1000, description="Shown to the reporter.")


@router.post("/api/v1/analyst/reports/{report_id}/status", tags=["analyst"])
def api_set_status(report_id: str, body: StatusBody, request: Request,
                   user: User = Depends(analyst), session: Session = Depends(db_session)):
    """Change a report's status (audited); the reporter sees it with the code."""
    _check_scope(session, user, report_id)
    try:
        report = set_status(session, report_id, body.status, user.username, _now(request),
                            body.note)
    except TriageError as exc:
        session.rollback()
        return _problem(409, "status", str(exc))
    return {"report_id": report.report_id, "status": report.status}


@router.post("/analista/reportes/{report_id}/estado", response_class=HTMLResponse,
             include_in_schema=False)
def triage_set_status(report_id: str, request: Request, status: str = Form(...),
                      note: str = Form(""), user: User = Depends(analyst),
                      session: Session = Depends(db_session)) -> Response:
    """Change a report's status from the triage page."""
    _check_scope(session, user, report_id)
    try:
        set_status(session, report_id, status, user.username, _now(request), note)
    except TriageError as exc:
        session.rollback()
        raise HTTPException(status_code=409, detail=str(exc)) from None
    return RedirectResponse("/analista/reportes", status_code=303)


@router.get("/analista/reportes/foto/{photo_id}", include_in_schema=False)
def triage_photo(photo_id: int, request: Request, user: User = Depends(analyst),
                 session: Session = Depends(db_session)) -> Response:
    """Serve a (metadata-free) report photo to an analyst; the read is audited."""
    photo = session.get(ReportPhoto, photo_id)
    if photo is None:
        raise HTTPException(status_code=404)
    _check_scope(session, user, photo.report_id)
    record(session, user.username, "citizen_report.photo", photo.report_id,
           details={"photo_id": photo_id}, now=_now(request))
    return Response(photo.content, media_type=photo.media_type,
                    headers={"Cache-Control": "no-store"})
