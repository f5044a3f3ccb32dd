"""Certification progress page and API, certificate intake API, and the quarterly reports page."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from centinela import audit
from centinela.accounts.models import User
from centinela.accounts.policy import ANALYSTS, INTAKE_ROLES, NATIONAL
from centinela.lib.clock import lima_day
from centinela.web.deps import clock, db_session, render, require_roles
from centinela.web.views.certification import certification_progress

router = APIRouter()
CERT_ROLES = ANALYSTS
REPORT_ROLES = NATIONAL
QUARTER = r"^\d{4}Q[1-4]$"


def _lima_today(now: dt.datetime) -> dt.date:
    return lima_day(now)


@router.get("/api/v1/certification/status", tags=["certification"])
def api_status(request: Request, session: Session = Depends(db_session),
               user: User = Depends(require_roles(*CERT_ROLES))) -> dict:
    """Certification progress by department today (prescribers and pharmacists; nurses apart)."""
    return certification_progress(session, user, _lima_today(clock(request)))


@router.get("/api/v1/certification/me", tags=["certification"])
def api_my_certification(request: Request, session: Session = Depends(db_session),
                         user: User = Depends(require_roles("prescriber", "pharmacist"))) -> dict:
    """A prescriber's or pharmacist's own standing and the reminders queued for them."""
    if not user.professional_id:
        raise HTTPException(404, "this account is not linked to a professional")
    return my_certification(request, session, user)


@router.get("/mi-certificacion", response_class=HTMLResponse)
def my_certification_page(request: Request, session: Session = Depends(db_session),
                          user: User = Depends(require_roles("prescriber", "pharmacist"))):
    """The prescriber's or pharmacist's own certificate: standing, dates, reminders."""
    data = my_certification(request, session, user) if user.professional_id else None
    return render(request, "my_certification.html", {"data": data})


def my_certification(request: Request, session: Session, user: User) -> dict:
    """The standing of ``user``'s college number today and the reminders queued for it."""
    from centinela.alerts.models import Channel, Delivery
    from centinela.certification.progress import PROFESSIONALS_OUTBOX
    from centinela.certification.rule import periods_by_professional, standing
    from centinela.config import get_settings

    pid = user.professional_id or ""
    s = get_settings()
    day = _lima_today(clock(request))
    st = standing(periods_by_professional(session, s.certification_valid_days, ids=[pid]).get(pid, []),
                  day, s.certification_reminder_days)
    chans = select(Channel.id).where(Channel.authority_id == PROFESSIONALS_OUTBOX)
    reminders = [{"queued_at": d.created_at.isoformat(), "state": d.payload.get("state"),
                  "valid_until": d.payload.get("valid_until"), "message": d.payload.get("message")}
                 for d in session.scalars(select(Delivery).where(Delivery.channel_id.in_(chans),
                                                                 Delivery.ref.like(f"cert:{pid}:%"))
                                          .order_by(Delivery.created_at))]
    return {"professional_id": pid, "as_of": day.isoformat(), "state": st.state,
            "certified_on": st.certified_on.isoformat() if st.certified_on else None,
            "valid_until": st.valid_until.isoformat() if st.valid_until else None,
            "deadline": s.certification_deadline.isoformat(), "reminders": reminders}


@router.post("/api/v1/certificates", tags=["certification", "intake"])
def api_certificates(request: Request, body: Annotated[dict, Body(...)],
                     session: Session = Depends(db_session),
                     user: User = Depends(require_roles(*INTAKE_ROLES))) -> dict:
    """Import certificates: ``{"records": [{certificate_id, professional_id, issuer, issued_on,
    expires_on?, course?}, …]}`` → counts and the rejected lines with where and why."""
    from centinela.certification.intake import import_certificate_records
    from centinela.ledger.records import ImportRun, Rejection

    records = body.get("records") if isinstance(body, dict) else None
    if not isinstance(records, list) or not records:
        raise HTTPException(422, "'records' debe ser una lista no vacía / must be a non-empty list")
    if len(records) > 50_000:
        raise HTTPException(413, "at most 50,000 records per request")
    now = clock(request)
    run = ImportRun(source="api:certificates", channel="api", started_at=now, status="running",
                    submitted_by=user.username, summary={})
    session.add(run)
    session.flush()
    counts = import_certificate_records(session, enumerate(records, 1), "api:certificates",
                                        run.id, now)
    run.finished_at, run.status = now, "completed"
    run.accepted, run.duplicates = counts["accepted"], counts["duplicates"]
    run.conflicts, run.rejected = counts["conflicts"], counts["rejected"]
    run.summary = {"certificates": counts}
    rejected = [{"line": r.line, "field": r.field, "kind": r.kind, "reason": r.reason}
                for r in session.scalars(select(Rejection).where(Rejection.import_id == run.id)
                                         .order_by(Rejection.line).limit(200))]
    audit.record(session, actor=user.username, action="certificates.import", subject=str(run.id),
                 details=counts, now=now)
    return {"import_id": run.id, **counts, "rejections": rejected}


@router.get("/certification", response_class=HTMLResponse)
def certification_page(request: Request, session: Session = Depends(db_session),
                       user: User = Depends(require_roles(*CERT_ROLES))):
    """Progress of the certification programme by region and profession."""
    from centinela.config import get_settings

    day = _lima_today(clock(request))
    data = certification_progress(session, user, day)
    s = get_settings()
    warn_until = day + dt.timedelta(days=s.certification_reminder_days)
    return render(request, "certification.html", {
        "data": data, "deadline": s.certification_deadline.isoformat(),
        "valid_days": s.certification_valid_days, "warn_days": s.certification_reminder_days,
        "warn_until": warn_until.isoformat()})


@router.get("/admin/quarterly", response_class=HTMLResponse)
def quarterly_page(request: Request, session: Session = Depends(db_session),
                   user: User = Depends(require_roles(*REPORT_ROLES))):
    """List the stored quarterly reports, their recipients and deliveries."""
    from centinela.alerts.models import Authority
    from centinela.quarterly.models import QuarterlyReport
    from centinela.quarterly.service import recipients

    ids = recipients()
    names = dict(session.execute(select(Authority.authority_id, Authority.name)
                                 .where(Authority.authority_id.in_(ids))).all())
    rows = session.execute(select(QuarterlyReport.quarter, QuarterlyReport.as_of,
                                  QuarterlyReport.generated_at, QuarterlyReport.generated_by,
                                  QuarterlyReport.digest, QuarterlyReport.routing)
                           .order_by(QuarterlyReport.quarter.desc())).all()
    from centinela.alerts.models import Delivery

    sent: dict[str, list[tuple[str, str]]] = {}
    for r in rows:
        ref = f"quarterly:{r.quarter}:{r.digest[:12]}"
        sent[r.quarter] = sorted({(d.payload.get("authority_id", "?"), d.status) for d in
                                  session.scalars(select(Delivery).where(Delivery.ref == ref))})
    today = _lima_today(clock(request))
    last = (today.month - 1) // 3  # the last complete quarter
    default = f"{today.year}Q{last}" if last else f"{today.year - 1}Q4"
    return render(request, "quarterly.html", {
        "reports": rows, "sent": sent, "recipients": ids, "recipient_names": names,
        "default_quarter": default,
        "can_generate": user.role == "admin"})


@router.post("/admin/quarterly")
def quarterly_generate(request: Request, quarter: Annotated[str, Form(pattern=QUARTER)],
                       session: Session = Depends(db_session),
                       user: User = Depends(require_roles("admin"))):
    """Produce (or refresh) the report of ``quarter`` and queue it for its recipients."""
    from centinela.quarterly.figures import QuarterError
    from centinela.quarterly.service import produce

    now = clock(request)
    try:
        res = produce(session, quarter, None, now, actor=user.username)
    except QuarterError as exc:
        raise HTTPException(422, str(exc)) from None
    audit.record(session, actor=user.username, action="quarterly.generate", subject=quarter,
                 details={"digest": res.digest, "queued": len(res.routing.get("queued", []))},
                 now=now)
    return RedirectResponse("/admin/quarterly", status_code=303)


@router.get("/admin/quarterly/{name}")
def quarterly_file(name: str, request: Request, session: Session = Depends(db_session),
                   user: User = Depends(require_roles(*REPORT_ROLES))):
    """Download one report as ``2026Q3.html``, ``.pdf`` or ``.json``."""
    import re

    from centinela.quarterly.models import QuarterlyReport
    from centinela.quarterly.render import figures_json
    from centinela.quarterly.service import file_stem

    m = re.fullmatch(r"(\d{4}Q[1-4])\.(html|pdf|json)", name)
    if not m:
        raise HTTPException(404, "unknown report file")
    row = session.scalar(select(QuarterlyReport).where(QuarterlyReport.quarter == m.group(1)))
    if row is None:
        raise HTTPException(404, "no report for this quarter")
    kind = m.group(2)
    fname = f"{file_stem(row.quarter)}.{kind}"
    if kind == "html":
        return HTMLResponse(row.html)
    if kind == "json":
        return Response(figures_json(row.figures), media_type="application/json")
    if not row.pdf:
        raise HTTPException(404, "this report was stored without PDF")
    return Response(row.pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{fname}"'})
