"""The prescriber's own history page ("mis recetas") and its JSON twin."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from centinela.accounts.models import User
from centinela.accounts.policy import roles_for
from centinela.web.deps import clock, db_session, render, require_roles
from centinela.web.views.prescriber import MyPrescriptions, NotYours, dispute, my_prescriptions

router = APIRouter()
prescriber = require_roles(*roles_for("my_prescriptions"))


@router.get("/mis-recetas", response_class=HTMLResponse, include_in_schema=False)
def page(request: Request, user: User = Depends(prescriber),
         session: Session = Depends(db_session),
         p: Annotated[int, Query(ge=1, le=100000)] = 1):
    """Show what was dispensed under this prescriber's licence (a page at a time)."""
    ctx = my_prescriptions(session, user, clock(request), p)
    return render(request, "prescriber.html", {"ctx": ctx,
                                               "done": request.query_params.get("alert")})


@router.get("/api/v1/my/prescriptions", response_model=MyPrescriptions, tags=["lookup"])
def api(request: Request, user: User = Depends(prescriber),
        session: Session = Depends(db_session),
        p: Annotated[int, Query(ge=1, le=100000)] = 1):
    """Dispensations of the last 180 days under the signed-in prescriber's licence (page ``p``)."""
    return my_prescriptions(session, user, clock(request), p)


@router.post("/mis-recetas/{movement_id}/no-fui-yo", include_in_schema=False)
def not_me(movement_id: int, request: Request, note: str = Form(""),
           user: User = Depends(prescriber), session: Session = Depends(db_session)):
    """"This wasn't me": open an alert about the dispensation for the regulator."""
    if movement_id < 1 or movement_id > 2**62:
        raise HTTPException(404, "not found")
    try:
        alert_id = dispute(session, user, movement_id, note, clock(request))
    except NotYours:
        raise HTTPException(404, "not found") from None
    session.commit()
    return RedirectResponse(f"/mis-recetas?alert={alert_id}", status_code=303)


@router.post("/api/v1/my/prescriptions/{movement_id}/dispute", tags=["lookup"])
def not_me_api(movement_id: int, request: Request, body: dict | None = None,
               user: User = Depends(prescriber), session: Session = Depends(db_session)) -> dict:
    """Report a dispensation made under your licence that you did not prescribe."""
    if movement_id < 1 or movement_id > 2**62:
        raise HTTPException(404, "not found")
    note = str((body or {}).get("note") or "")
    try:
        alert_id = dispute(session, user, movement_id, note, clock(request))
    except NotYours:
        raise HTTPException(404, "not found") from None
    session.commit()
    return {"alert_id": alert_id}
