"""Patient-history lookup (PDMP): one form, one page, and its JSON twin."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from centinela.accounts.models import User
from centinela.accounts.policy import roles_for
from centinela.ledger.patients import LookupRefused
from centinela.web.charts import line_chart
from centinela.web.deps import clock, db_session, lang, render, require_roles
from centinela.web.i18n import translate
from centinela.web.views.lookup import (
    REASONS,
    LookupRequest,
    LookupResult,
    lookup,
    recent_lookup,
    result_for,
)

router = APIRouter()
viewer = require_roles(*roles_for("lookup"))


def _page(request: Request, result: LookupResult | None, errors: list[str], status: int = 200,
          doc_type: str = "DNI", kept: dict | None = None):
    chart = None
    if result is not None:
        lng = lang(request)
        # The legend names the series in words ("MME/día"), not by its JSON name (daily_mme).
        named = result.daily_mme.model_copy(update={"name": translate("lookup.daily_mme", lng)})
        chart = line_chart([named], translate("lookup.chart", lng), lang=lng,
                           lines=[(v, translate("lookup.mme_line", lng, n=v)) for v in (50, 90)])
    return render(request, "lookup.html", {"ctx": result, "errors": errors, "reasons": REASONS,
                                           "chart_svg": chart, "doc_type": doc_type,
                                           "kept": kept or {}},
                  status_code=status)


@router.get("/lookup", response_class=HTMLResponse, include_in_schema=False)
def lookup_form(request: Request, user: User = Depends(viewer)):
    """Show the one-form lookup."""
    return _page(request, None, [])


@router.post("/lookup", response_class=HTMLResponse, include_in_schema=False)
async def lookup_page(request: Request, user: User = Depends(viewer),
                      session: Session = Depends(db_session)):
    """Run the lookup and show the patient's last 12 months on the same page."""
    form = await request.form()
    # On a refusal keep what was typed except the document number (never echoed back).
    kept = {"reason": str(form.get("reason") or ""), "note": str(form.get("note") or "")[:500],
            "attest": form.get("attest") in ("on", "true", "1")}
    try:
        req = LookupRequest(
            document_type=form.get("document_type") or "DNI",
            document_number=str(form.get("document_number") or "").strip(),
            reason=form.get("reason") or "", note=str(form.get("note") or ""),
            attest=form.get("attest") in ("on", "true", "1"))
    except ValidationError as err:
        # Name the fields only: the document number is never echoed back.
        fields = sorted({str(e["loc"][0]) for e in err.errors()})
        return _page(request, None, [f"lookup.invalid_{f}" for f in fields], status=422,
                     doc_type=str(form.get("document_type") or "DNI"), kept=kept)
    try:
        result = lookup(session, user, req, clock(request))
    except LookupRefused as err:
        return _page(request, None, [f"lookup.invalid_{str(err).split(':')[0]}"], status=422,
                     doc_type=req.document_type, kept=kept)
    return _page(request, result, [], doc_type=req.document_type)


@router.get("/lookup/{psn}/pdf", include_in_schema=False)
def lookup_pdf(psn: str, request: Request, user: User = Depends(viewer),
               session: Session = Depends(db_session)) -> Response:
    """The printable report of a patient this user has just looked up (audited)."""
    from centinela import audit
    from centinela.web.views.lookup_pdf import report_pdf

    now = clock(request)
    if len(psn) > 40 or not recent_lookup(session, user, psn, now):
        raise HTTPException(404, "run the lookup first (the PDF is for the lookup just made)")
    result = result_for(session, psn, "", now)
    audit.record(session, user.username, "pdmp.report_pdf", psn, reason="printed report",
                 details={"role": user.role}, now=now)
    session.commit()
    body = report_pdf(result, user.username, now, lang(request))
    return Response(body, media_type="application/pdf", headers={
        "Content-Disposition": 'attachment; filename="centinela-informe-clinico.pdf"',
        "Cache-Control": "no-store"})


@router.post("/api/v1/lookup", response_model=LookupResult, tags=["lookup"])
def lookup_api(body: LookupRequest, request: Request, user: User = Depends(viewer),
               session: Session = Depends(db_session)):
    """Return a patient's controlled dispensations of the last 12 months (audited)."""
    try:
        return lookup(session, user, body, clock(request))
    except LookupRefused as err:
        raise HTTPException(422, str(err)) from None
