"""EWS pages and API: dashboard, classifier, substances, signals, bulletins, export."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from centinela import audit
from centinela.accounts.models import User
from centinela.accounts.policy import ANALYSTS, INVESTIGATORS, department_scope
from centinela.ews.bulletins import BulletinError, bulletin_json, create_bulletin
from centinela.ews.classify import classify, classify_record
from centinela.ews.export import export_incidents
from centinela.ews.models import Bulletin
from centinela.ews.tiers import TierError, tier
from centinela.lib.clock import lima_days, lima_midnight
from centinela.web.deps import clock, db_session, render, require_roles
from centinela.web.views import ews as views

router = APIRouter()
EWS_ROLES = INVESTIGATORS
CLASSIFY_ROLES = (*EWS_ROLES, "institution")  # laboratories' service accounts
DEPT = r"^\d{2}$"


class ClassifyIn(BaseModel):
    query: str | None = Field(None, description="SMILES or a registry name.", max_length=2000)
    queries: list[str] | None = Field(None, description="Up to 1000 SMILES or names.",
                                      max_length=1000)


class TierIn(BaseModel):
    substance: str = Field("fentanyl", description="SMILES or name.", max_length=2000)
    net_mass_mg: float | None = Field(None, ge=0)
    purity_percent: float | None = Field(None, gt=0, le=100)
    units: float | None = Field(None, ge=0)
    strength_mg_per_unit: float | None = Field(None, ge=0)
    product_code: str | None = Field(None, max_length=40)


class BulletinIn(BaseModel):
    substance: str | None = Field(None, max_length=2000)
    department: str | None = Field(None, pattern=DEPT)
    alert_ids: list[str] = Field(default_factory=list, max_length=50)
    days: int = Field(30, ge=1, le=365)


def _scope(user: User, department: str | None = None) -> list[str] | None:
    scope = department_scope(user)
    if department and scope is not None and department not in scope:
        raise HTTPException(403, "department outside your jurisdiction")
    return scope


def _issue_scope(session: Session, user: User, department: str | None,
                 alert_ids: tuple[str, ...]) -> None:
    """A regional analyst issues bulletins only for a department of their own, on its alerts."""
    scope = _scope(user, department)
    if scope is None:
        return
    if not department:
        raise HTTPException(403, "a regional analyst must name a department of their jurisdiction")
    if alert_ids:
        from centinela.alerts.models import Alert

        outside = session.scalars(select(Alert.alert_id).where(
            Alert.alert_id.in_(alert_ids),
            (Alert.department.is_(None)) | (Alert.department.not_in(scope)))).all()
        if outside:
            raise HTTPException(403, "alerts outside your jurisdiction: " + ", ".join(outside[:5]))


def _audit(session: Session, user: User, action: str, subject: str, now: dt.datetime,
           **details) -> None:
    audit.record(session, actor=user.username, action=action, subject=subject,
                 details=details, now=now)


def _audit_issue(session: Session, user: User, b, now: dt.datetime) -> None:
    _audit(session, user, "ews.bulletin.issue", b.number, now, departments=b.departments,
           substance=b.substance, severity=b.severity, alert_ids=b.alert_ids)


# --- API --------------------------------------------------------------------------------------

@router.post("/api/v1/ews/classify", tags=["ews"])
def api_classify(body: ClassifyIn, user: User = Depends(require_roles(*CLASSIFY_ROLES))) -> dict:
    """Classify one structure or name (``query``) or many (``queries``), with reasons.

    Per-item results: a structure that cannot be used comes back as an item with ``error``
    (English) and ``error_es`` (Spanish), never as a failed request.
    """
    if body.query:
        return dict(classify_record(body.query))
    if body.queries:
        results = [dict(classify_record(q)) for q in body.queries]
        return {"results": results, "count": len(results),
                "errors": sum(1 for r in results if r["error"])}
    raise HTTPException(422, "give query or queries")


@router.post("/api/v1/ews/tier", tags=["ews"])
def api_tier(body: TierIn, session: Session = Depends(db_session),
             user: User = Depends(require_roles(*EWS_ROLES))) -> dict:
    """Return the Law 32250 tier of a quantity (reference, not legal advice)."""
    strength = body.strength_mg_per_unit
    if body.product_code and strength is None:
        from centinela.registry.models import Product

        product = session.get(Product, body.product_code)
        if product is None:
            raise HTTPException(422, f"unknown product_code {body.product_code!r}")
        strength = product.strength_mg_per_unit
    cls = classify(body.substance)
    try:
        out = tier(body.net_mass_mg, body.purity_percent, body.units, strength,
                   fentanyl_class=cls.fentanyl_class).as_dict()
    except TierError as exc:
        raise HTTPException(422, str(exc)) from None
    out["substance"] = {"query": body.substance, "category": cls.category,
                        "name": cls.registry_name}
    return out


@router.get("/api/v1/ews/substances", tags=["ews"])
def api_substances(session: Session = Depends(db_session),
                   user: User = Depends(require_roles(*EWS_ROLES))) -> dict:
    """List the substance registry with first/last seen dates."""
    return {"substances": views.substances(session, _scope(user))}


@router.get("/api/v1/ews/substances/{inchikey}", tags=["ews"])
def api_substance(inchikey: str, request: Request, session: Session = Depends(db_session),
                  user: User = Depends(require_roles(*EWS_ROLES))) -> dict:
    """Return one substance: classification, signals by department, alerts."""
    now = clock(request)
    data = views.substance_detail(session, inchikey, now, _scope(user))
    if data is None:
        raise HTTPException(404, "unknown InChIKey")
    _audit(session, user, "ews.substance.read", inchikey, now, signals=len(data["signals"]))
    return data


@router.get("/api/v1/ews/signals", tags=["ews"])
def api_signals(request: Request, days: int = Query(30, ge=1, le=3650),
                kind: Literal["seizure", "lab", "overdose", "online", "citizen", "detection"]
                | None = None,
                department: str | None = Query(None, pattern=DEPT),
                inchikey: str | None = Query(None, max_length=27),
                limit: int = Query(500, ge=1, le=5000),
                session: Session = Depends(db_session),
                user: User = Depends(require_roles(*EWS_ROLES))) -> dict:
    """List recent signals (audited: overdose signals carry age band and sex)."""
    now = clock(request)
    rows = views.list_signals(session, now, days, kind, department, _scope(user, department),
                              inchikey, limit)
    _audit(session, user, "ews.signals.read", department or "national", now, count=len(rows),
           kind=kind)
    return {"signals": rows, "count": len(rows)}


@router.get("/api/v1/ews/dashboard", tags=["ews"])
def api_dashboard(request: Request, days: int = Query(30, ge=1, le=365),
                  session: Session = Depends(db_session),
                  user: User = Depends(require_roles(*EWS_ROLES))) -> dict:
    """Return the dashboard context (JSON twin of /ews)."""
    now = clock(request)
    data = views.dashboard(session, now, _scope(user), days)
    _audit(session, user, "ews.dashboard.read", "ews", now, signals=data["counts"]["signals"])
    return data


@router.get("/api/v1/ews/bulletins", tags=["ews"])
def api_bulletins(session: Session = Depends(db_session),
                  user: User = Depends(require_roles(*EWS_ROLES))) -> dict:
    """List bulletins, newest first."""
    rows = session.scalars(select(Bulletin).order_by(Bulletin.issued_at.desc(), Bulletin.id.desc()))
    return {"bulletins": [bulletin_json(b) for b in rows]}


@router.post("/api/v1/ews/bulletins", tags=["ews"], status_code=201)
def api_create_bulletin(body: BulletinIn, request: Request,
                        session: Session = Depends(db_session),
                        user: User = Depends(require_roles(*ANALYSTS))) -> dict:
    """Issue a numbered bulletin (stored as HTML and PDF, routed to the authorities)."""
    _issue_scope(session, user, body.department, tuple(body.alert_ids))
    if not (body.substance or body.department or body.alert_ids):
        raise HTTPException(422, "give substance, department or alert_ids")
    try:
        b = create_bulletin(session, clock(request), body.substance, body.department,
                            tuple(body.alert_ids), body.days, created_by=user.username)
    except BulletinError as exc:
        raise HTTPException(422, str(exc)) from None
    _audit_issue(session, user, b, clock(request))
    return bulletin_json(b)


@router.get("/api/v1/ews/bulletins/{number}", tags=["ews"])
def api_bulletin(number: str, session: Session = Depends(db_session),
                 user: User = Depends(require_roles(*EWS_ROLES))) -> dict:
    """Return one bulletin with its HTML."""
    return bulletin_json(_bulletin(session, number), with_html=True)


@router.get("/api/v1/ews/export", tags=["ews"])
def api_export(request: Request, since: dt.date | None = None, until: dt.date | None = None,
               department: str | None = Query(None, pattern=DEPT),
               session: Session = Depends(db_session),
               user: User = Depends(require_roles(*ANALYSTS))) -> dict:
    """Export incidents as structured JSON for regional and international exchange."""
    now = clock(request)
    scope = _scope(user, department)
    if scope is not None and department is None:
        if len(scope) != 1:
            raise HTTPException(422, "regional analysts must give department")
        department = scope[0]
    end = lima_days(until)[1] if until else now
    start = (lima_midnight(since) if since
             else end - dt.timedelta(days=30))
    doc = export_incidents(session, start, end, now, department)
    _audit(session, user, "ews.export", department or "national", now, count=doc["count"])
    return doc


def _bulletin(session: Session, number: str) -> Bulletin:
    b = session.scalar(select(Bulletin).where(Bulletin.number == number))
    if b is None:
        raise HTTPException(404, f"bulletin {number} not found")
    return b


# --- pages ------------------------------------------------------------------------------------

@router.get("/ews", include_in_schema=False)
def page_dashboard(request: Request, days: int = Query(30, ge=1, le=365),
                   session: Session = Depends(db_session),
                   user: User = Depends(require_roles(*EWS_ROLES))):
    now = clock(request)
    data = views.dashboard(session, now, _scope(user), days, localize=True)
    _audit(session, user, "ews.dashboard.read", "ews", now, signals=data["counts"]["signals"])
    return render(request, "ews/dashboard.html", {"d": data, "can_issue": user.role in ANALYSTS})


@router.get("/ews/classify", include_in_schema=False)
def page_classify(request: Request, q: str = Query("", max_length=2000),
                  user: User = Depends(require_roles(*CLASSIFY_ROLES))):
    result = dict(classify_record(q)) if q.strip() else None
    return render(request, "ews/classify.html", {"q": q, "r": result})


@router.get("/ews/substances/{inchikey}", include_in_schema=False)
def page_substance(inchikey: str, request: Request, session: Session = Depends(db_session),
                   user: User = Depends(require_roles(*EWS_ROLES))):
    now = clock(request)
    data = views.substance_detail(session, inchikey, now, _scope(user))
    if data is None:
        raise HTTPException(404, "unknown InChIKey")
    _audit(session, user, "ews.substance.read", inchikey, now, signals=len(data["signals"]))
    return render(request, "ews/substance.html", {"s": data})


@router.get("/ews/bulletins", include_in_schema=False)
def page_bulletins(request: Request, session: Session = Depends(db_session),
                   user: User = Depends(require_roles(*EWS_ROLES))):
    rows = [bulletin_json(b) for b in session.scalars(
        select(Bulletin).order_by(Bulletin.issued_at.desc(), Bulletin.id.desc()))]
    return render(request, "ews/bulletins.html", {"bulletins": rows,
                                                  "can_issue": user.role in ANALYSTS})


@router.post("/ews/bulletins", include_in_schema=False)
def page_create_bulletin(request: Request, substance: str = Form(""), department: str = Form(""),
                         alert_id: str = Form(""), days: int = Form(30),
                         session: Session = Depends(db_session),
                         user: User = Depends(require_roles(*ANALYSTS))):
    dept = department.strip() or None
    alerts = tuple(a.strip() for a in alert_id.split(",") if a.strip())
    _issue_scope(session, user, dept, alerts)
    try:
        b = create_bulletin(session, clock(request), substance.strip() or None, dept, alerts,
                            max(1, min(days, 365)), created_by=user.username)
    except BulletinError as exc:
        raise HTTPException(422, str(exc)) from None
    _audit_issue(session, user, b, clock(request))
    return RedirectResponse(f"/ews/bulletins/{b.number}", status_code=303)


@router.get("/ews/bulletins/{number}.pdf", include_in_schema=False)
def page_bulletin_pdf(number: str, session: Session = Depends(db_session),
                      user: User = Depends(require_roles(*EWS_ROLES))):
    b = _bulletin(session, number)
    return Response(b.pdf or b"", media_type="application/pdf",
                    headers={"content-disposition": f'inline; filename="{b.number}.pdf"'})


@router.get("/ews/bulletins/{number}", include_in_schema=False)
def page_bulletin(number: str, request: Request, session: Session = Depends(db_session),
                  user: User = Depends(require_roles(*EWS_ROLES))):
    b = _bulletin(session, number)
    return render(request, "ews/bulletin.html", {"b": bulletin_json(b), "c": b.content})
