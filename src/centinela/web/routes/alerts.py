"""Alert inbox and alert detail pages, their JSON twins, and case actions."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from centinela import audit
from centinela.accounts.models import User
from centinela.accounts.policy import ANALYSTS, roles_for
from centinela.web.deps import clock, db_session, lang, render, require_roles
from centinela.web.fmt import format_datetime
from centinela.web.svgplot import render_pair
from centinela.web.views.alert import AlertDetail, NotVisible, build_alert, visible_alert
from centinela.web.views.cases import CaseError, apply_action
from centinela.web.views.inbox import InboxContext, InboxFilters, build_inbox

router = APIRouter()
viewer = require_roles(*roles_for("inbox"))
actor = require_roles(*ANALYSTS)


class CaseActionIn(BaseModel):
    action: Literal["triage", "schedule_audit", "close", "reopen", "note"]
    note: str = Field("", max_length=4000)
    outcome: Literal["confirmed", "justified", "false_positive"] | None = None


class CaseActionOut(BaseModel):
    alert_id: str
    status: str
    outcome: str | None


@router.get("/alerts", response_class=HTMLResponse, include_in_schema=False)
def inbox_page(request: Request, filters: Annotated[InboxFilters, Query()],
               user: User = Depends(viewer), session: Session = Depends(db_session)):
    """Render the alert inbox."""
    from centinela.web.routes.workspace import saved_filters

    ctx = build_inbox(session, user, filters, clock(request))
    _audit_patients_listed(session, user, ctx, request)
    name = "alerts/_rows.html" if request.headers.get("hx-request") else "alerts/inbox.html"
    return render(request, name, {"ctx": ctx, "saved": saved_filters(session, user),
                                  "saved_error": bool(request.query_params.get("saved_error"))})


@router.get("/api/v1/alerts", response_model=InboxContext, tags=["alerts"])
def inbox_api(request: Request, filters: Annotated[InboxFilters, Query()],
              user: User = Depends(viewer), session: Session = Depends(db_session)):
    """Return the alert inbox (the page's context)."""
    ctx = build_inbox(session, user, filters, clock(request))
    _audit_patients_listed(session, user, ctx, request)
    return ctx


def _audit_patients_listed(session: Session, user: User, ctx: InboxContext,
                           request: Request) -> None:
    """A page of the inbox that names patients (their pseudonyms, for the roles that see
    them) is a read of personal data: one audit entry per page, with the alerts it named."""
    shown = [r.alert_id for r in ctx.rows
             if r.subject_kind == "patient" and r.subject_id.startswith("PSN:")]
    if shown:
        audit.record(session, user.username, "alerts.list.patient_data", "inbox",
                     details={"alerts": shown[:50], "patients": len(shown),
                              "page": ctx.page}, now=clock(request))


def _detail(request: Request, session: Session, user: User, alert_id: str,
            page: int = 1) -> AlertDetail:
    try:
        return build_alert(session, user, alert_id, clock(request), page=page, lang=lang(request))
    except NotVisible:
        raise HTTPException(404, "alert not found") from None


@router.get("/alerts/{alert_id}", response_class=HTMLResponse, include_in_schema=False)
def alert_page(alert_id: str, request: Request, user: User = Depends(viewer),
               session: Session = Depends(db_session),
               mpage: Annotated[int, Query(ge=1, le=100000)] = 1):
    """Render one alert with its evidence, chart, movements, deliveries and case log."""
    return _alert_html(request, session, user, alert_id, mpage)


def _alert_html(request: Request, session: Session, user: User, alert_id: str, mpage: int = 1,
                case_error: str | None = None, kept: dict | None = None, status_code: int = 200):
    ctx = _detail(request, session, user, alert_id, mpage)
    charts = [(spec, render_pair(spec)) for spec in ctx.charts]
    lng = lang(request)
    return render(request, "alerts/detail.html", {
        "ctx": ctx, "charts": charts, "fmt_dt": lambda v: format_datetime(v, lng),
        "case_error": case_error, "kept": kept or {}}, status_code=status_code)


@router.get("/api/v1/alerts/{alert_id}", response_model=AlertDetail, tags=["alerts"])
def alert_api(alert_id: str, request: Request, user: User = Depends(viewer),
              session: Session = Depends(db_session)):
    """Return one alert's detail (the page's context)."""
    return _detail(request, session, user, alert_id)


def _act(request: Request, session: Session, user: User, alert_id: str,
         body: CaseActionIn) -> CaseActionOut:
    try:
        alert = visible_alert(session, user, alert_id, clock(request))
    except NotVisible:
        raise HTTPException(404, "alert not found") from None
    try:
        apply_action(session, alert, body.action, user.username, body.note, body.outcome,
                     now=clock(request))
    except CaseError as err:
        raise HTTPException(409, str(err)) from None
    return CaseActionOut(alert_id=alert.alert_id, status=alert.status, outcome=alert.outcome)


@router.post("/alerts/{alert_id}/actions", include_in_schema=False)
async def alert_action_form(alert_id: str, request: Request, user: User = Depends(actor),
                            session: Session = Depends(db_session)):
    """Apply a case action from the page's form and go back to the alert."""
    form = await request.form()
    try:
        body = CaseActionIn(action=form.get("action") or "", note=form.get("note") or "",
                            outcome=form.get("outcome") or None)
    except ValueError:
        raise HTTPException(422, "action, outcome or note is not valid") from None
    try:
        alert = visible_alert(session, user, alert_id, clock(request))
    except NotVisible:
        raise HTTPException(404, "alert not found") from None
    try:
        apply_action(session, alert, body.action, user.username, body.note, body.outcome,
                     now=clock(request))
    except CaseError:
        # Back to the alert with the error next to the form and what was typed kept (422).
        session.rollback()
        key = ("case.error_outcome" if body.action == "close" and not body.outcome
               else "case.error_state")
        return _alert_html(request, session, user, alert_id, case_error=key,
                           kept={"action": body.action, "note": body.note}, status_code=422)
    return RedirectResponse(f"/alerts/{alert_id}#case", status_code=303)


@router.post("/api/v1/alerts/{alert_id}/actions", response_model=CaseActionOut, tags=["alerts"])
def alert_action_api(alert_id: str, body: CaseActionIn, request: Request,
                     user: User = Depends(actor), session: Session = Depends(db_session)):
    """Triage, schedule an audit, close with an outcome, reopen, or add a note."""
    return _act(request, session, user, alert_id, body)
