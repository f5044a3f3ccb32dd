"""Online-market monitoring: JSON API and pages (leads list and detail), Spanish first."""

from __future__ import annotations

import datetime as dt
import re
import tempfile
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from centinela import audit
from centinela.accounts.models import User
from centinela.accounts.policy import ONLINE_ROLES
from centinela.config import get_settings
from centinela.online.connectors import CONNECTORS, ConnectorError
from centinela.online.leads import LeadError, decide
from centinela.online.views import lead_detail, lead_summary, list_leads
from centinela.web.deps import clock, db_session, lang, render, require_roles
from centinela.web.i18n import translate

router = APIRouter(tags=["online"])
guard = require_roles(*ONLINE_ROLES)
MAX_UPLOAD = 20 * 1024 * 1024


class ClassifyIn(BaseModel):
    texts: list[str] = Field(..., min_length=1, max_length=1000)
    explain: bool = True
    # market listing, chat message, social post or classified ad (online.decide)
    context: Literal["market", "chat", "social", "ad"] = "social"


class DecisionIn(BaseModel):
    note: str = Field(..., min_length=1, max_length=4000)
    department: str | None = Field(None, pattern=r"^\d{2}$")


@router.post("/api/online/classify")
def api_classify(body: ClassifyIn, user: User = Depends(guard)) -> dict:
    """Classify texts as offers to sell fentanyl/opioids (nothing is stored)."""
    from centinela.online.classify import classify

    if any(len(t) > 20000 for t in body.texts):
        raise HTTPException(422, "each text must be at most 20000 characters")
    results = classify(body.texts, explain=body.explain, context=body.context)
    return {"results": [c.as_dict() for c in results]}


@router.post("/api/online/ingest")
async def api_ingest(file: UploadFile = File(...), format: str | None = Form(None),
                     context: str | None = Form(None),
                     session: Session = Depends(db_session), user: User = Depends(guard),
                     now: dt.datetime = Depends(clock)) -> dict:
    """Ingest an uploaded export file (posts CSV/JSONL, Telegram JSON, WhatsApp TXT, darknet CSV)."""
    from centinela.online.service import ingest_file

    if format is not None and format not in CONNECTORS:
        raise HTTPException(422, f"format must be one of {sorted(CONNECTORS)}")
    if context is not None and context not in ("market", "chat", "social", "ad"):
        raise HTTPException(422, "context must be one of market, chat, social, ad")
    data = await file.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        raise HTTPException(413, f"file larger than {MAX_UPLOAD} bytes")
    name = re.sub(r"[^\w. -]", "_", Path(file.filename or "").name).strip(" .") or "upload"
    folder = Path(get_settings().data_dir or ".")
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        try:
            report = ingest_file(session, path, now, fmt=format, actor=user.username,
                                 display_name=name, context=context)
        except (ConnectorError, UnicodeDecodeError) as exc:
            raise HTTPException(422, str(exc)) from exc
    audit.record(session, user.username, "online.ingest", name, details={"run_id": report.run_id},
                 now=now)
    return report.as_dict()


def _leads_context(session: Session, status: str | None, department: str | None, limit: int) -> dict:
    try:
        leads = list_leads(session, status=status or None, department=department or None, limit=limit)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc
    return {"status": status, "department": department, "leads": [lead_summary(x) for x in leads]}


@router.get("/api/online/leads")
def api_leads(status: str | None = None, department: str | None = None, limit: int = 100,
              session: Session = Depends(db_session), user: User = Depends(guard)) -> dict:
    """List leads, highest score first (no identifiers in the list)."""
    return _leads_context(session, status, department, min(max(limit, 1), 500))


def _detail(session: Session, lead_id: str, user: User, now: dt.datetime) -> dict:
    detail = lead_detail(session, lead_id)
    if detail is None:
        raise HTTPException(404, f"unknown lead {lead_id}")
    audit.record(session, user.username, "online.lead.read", lead_id, now=now)  # identifiers read
    return detail


@router.get("/api/online/leads/{lead_id}")
def api_lead(lead_id: str, session: Session = Depends(db_session), user: User = Depends(guard),
             now: dt.datetime = Depends(clock)) -> dict:
    """One lead with its identifiers, posts and evidence (audited read)."""
    return _detail(session, lead_id, user, now)


def _decision(session: Session, lead_id: str, decision: str, body: DecisionIn, user: User,
              now: dt.datetime) -> dict:
    try:
        lead = decide(session, lead_id, decision, user.username, body.note, now,
                      department=body.department)
    except LeadError as exc:
        code = 404 if str(exc).startswith("unknown lead") else 422
        raise HTTPException(code, str(exc)) from exc
    return lead_summary(lead)


@router.post("/api/online/leads/{lead_id}/confirm")
def api_confirm(lead_id: str, body: DecisionIn, session: Session = Depends(db_session),
                user: User = Depends(guard), now: dt.datetime = Depends(clock)) -> dict:
    """Confirm a lead: alert (police cybercrime, anti-drug, regulator) and EWS signal."""
    return _decision(session, lead_id, "confirm", body, user, now)


@router.post("/api/online/leads/{lead_id}/dismiss")
def api_dismiss(lead_id: str, body: DecisionIn, session: Session = Depends(db_session),
                user: User = Depends(guard), now: dt.datetime = Depends(clock)) -> dict:
    """Dismiss a lead (its posts become negative training examples)."""
    return _decision(session, lead_id, "dismiss", body, user, now)


@router.get("/online", include_in_schema=False)
def page_home(user: User = Depends(guard)) -> RedirectResponse:
    """The area's entry in the menu: the leads list."""
    return RedirectResponse("/online/leads", status_code=303)


@router.get("/online/leads", include_in_schema=False)
def page_leads(request: Request, status: str | None = None, department: str | None = None,
               session: Session = Depends(db_session), user: User = Depends(guard)):
    """Page: leads list (JSON twin: /api/online/leads)."""
    return render(request, "online/leads.html", _leads_context(session, status, department, 200))


@router.get("/online/leads/{lead_id}", include_in_schema=False)
def page_lead(lead_id: str, request: Request, session: Session = Depends(db_session),
              user: User = Depends(guard), now: dt.datetime = Depends(clock)):
    """Page: one lead (JSON twin: /api/online/leads/{lead_id})."""
    return render(request, "online/lead.html",
                  {"lead": _detail(session, lead_id, user, now), "error": None})


# LeadError messages (English, for the API and the command line) → the page's catalogue keys.
_LEAD_ERRORS = ((re.compile(r"a note is required"), "online.error.note"),
                (re.compile(r"unknown department code (?P<code>.*?) \("), "online.error.department"),
                (re.compile(r"lead \S+ names no place"), "online.error.no_place"),
                (re.compile(r"decision must be"), "online.error.decision"),
                (re.compile(r"unknown lead"), "online.error.unknown_lead"),
                (re.compile(r"lead \S+ was confirmed and sent as alert (?P<alert>\S+):"),
                 "online.error.confirmed"))


def _lead_error(message: str, lng: str) -> str:
    for pattern, key in _LEAD_ERRORS:
        m = pattern.match(message)
        if m:
            return translate(key, lng, **m.groupdict())
    return message


@router.post("/online/leads/{lead_id}/decision", include_in_schema=False)
def page_decide(lead_id: str, request: Request, decision: str = Form(...), note: str = Form(""),
                department: str = Form(""), session: Session = Depends(db_session),
                user: User = Depends(guard), now: dt.datetime = Depends(clock)):
    """Form post of the lead page: confirm or dismiss, then back to the lead."""
    if decision not in ("confirm", "dismiss"):
        raise HTTPException(422, "decision must be confirm or dismiss")
    try:
        decide(session, lead_id, decision, user.username, note, now, department=department or None)
    except LeadError as exc:
        session.rollback()
        detail = _detail(session, lead_id, user, now)
        return render(request, "online/lead.html",
                      {"lead": detail, "error": _lead_error(str(exc), lang(request))},
                      status_code=422)
    return RedirectResponse(f"/online/leads/{lead_id}", status_code=303)
