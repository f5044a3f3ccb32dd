"""Customs review queue: parcels by combined score, parcel page with X-ray and factors, outcomes."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from centinela import audit
from centinela.accounts.models import User
from centinela.accounts.policy import roles_for
from centinela.config import get_settings
from centinela.customs.models import OUTCOMES, Parcel, ParcelImage
from centinela.customs.review import ReviewError, queue, rank_cutoff, record_outcome
from centinela.reference import ubigeo as ubigeo_ref
from centinela.web.deps import clock, db_session, lang, render, require_roles
from centinela.web.i18n import translate

router = APIRouter(tags=["customs"])
guard = require_roles(*roles_for("customs"))


class OutcomeIn(BaseModel):
    outcome: str = Field(..., pattern="^(" + "|".join(OUTCOMES) + ")$")
    substance: str | None = Field(None, max_length=120)
    net_mass_mg: float | None = Field(None, ge=0)
    purity_percent: float | None = Field(None, gt=0, le=100)
    units: float | None = Field(None, ge=0)
    form: str = "powder"
    note: str = Field("", max_length=4000)


def _summary(p: Parcel, cutoff: float | None = None) -> dict:
    d = ubigeo_ref.get(p.ubigeo)
    return {
        "tracking_id": p.tracking_id, "carrier": p.carrier,
        "arrived_at": p.arrived_at.isoformat(), "origin_country": p.origin_country,
        "origin_city": p.origin_city, "transit": p.transit, "sender_name": p.sender_name,
        "consignee": p.consignee_key, "ubigeo": p.ubigeo,
        "district": f"{d.district}, {d.department}" if d else p.ubigeo,
        "declared_content": p.declared_content, "hs_code": p.hs_code,
        "declared_value_usd": p.declared_value_usd, "weight_kg": p.weight_kg,
        "manifest_score": p.manifest_score, "image_score": p.image_score,
        "combined_score": p.combined_score,
        "in_inspection_top": cutoff is not None and p.combined_score is not None
        and p.combined_score >= cutoff,
        "top_factors": [f["factor"] for f in (p.factors or [])[:3]],
        "has_regions": bool(p.regions), "outcome": p.outcome,
    }


def _queue_context(session: Session, status: str, limit: int) -> dict:
    rate = get_settings().customs_inspection_rate
    try:
        rows = queue(session, limit=limit, status=status)
    except ReviewError as exc:
        raise HTTPException(422, str(exc)) from exc
    cutoff = rank_cutoff(session, rate)
    return {"status": status, "inspection_rate": rate, "cutoff": cutoff,
            "synthetic_note": True, "outcomes": list(OUTCOMES),
            "parcels": [_summary(p, cutoff) for p in rows]}


def _detail(session: Session, tracking_id: str, user: User, now: dt.datetime) -> dict:
    p = session.get(Parcel, tracking_id)
    if p is None:
        raise HTTPException(404, f"unknown parcel {tracking_id}")
    audit.record(session, user.username, "customs.parcel.read", tracking_id, now=now)
    out = _summary(p, rank_cutoff(session, get_settings().customs_inspection_rate))
    out.update(factors=p.factors or [], regions=p.regions or [],
               has_image=session.get(ParcelImage, tracking_id) is not None,
               dimensions_cm=[p.length_cm, p.width_cm, p.height_cm] if p.length_cm else None,
               model_version=p.model_version, outcome_by=p.outcome_by,
               outcome_at=p.outcome_at.isoformat() if p.outcome_at else None,
               outcome_note=p.outcome_note, seizure_id=p.seizure_id)
    return out


@router.get("/api/customs/queue")
def api_queue(status: str = "open", limit: int = 100, session: Session = Depends(db_session),
              user: User = Depends(guard)) -> dict:
    """The review queue, highest combined score first."""
    return _queue_context(session, status, min(max(limit, 1), 1000))


@router.get("/api/customs/parcels/{tracking_id}")
def api_parcel(tracking_id: str, session: Session = Depends(db_session),
               user: User = Depends(guard), now: dt.datetime = Depends(clock)) -> dict:
    """One parcel with every factor and image region (audited read)."""
    return _detail(session, tracking_id, user, now)


@router.get("/customs/parcels/{tracking_id}/image.png", include_in_schema=False)
def parcel_image(tracking_id: str, session: Session = Depends(db_session),
                 user: User = Depends(guard)) -> Response:
    """The parcel's X-ray as PNG with the detector's regions drawn."""
    from centinela.customs.imaging.render import png
    from centinela.customs.intake import load_image

    im = session.get(ParcelImage, tracking_id)
    if im is None:
        raise HTTPException(404, "no image for this parcel")
    p = session.get(Parcel, tracking_id)
    data = png(load_image(im.data, im.fmt), p.regions if p else [])
    return Response(data, media_type="image/png", headers={"Cache-Control": "private, max-age=60"})


@router.post("/api/customs/parcels/{tracking_id}/outcome")
def api_outcome(tracking_id: str, body: OutcomeIn, session: Session = Depends(db_session),
                user: User = Depends(guard), now: dt.datetime = Depends(clock)) -> dict:
    """Record cleared, inspected_negative or seized (a seizure feeds the early warning)."""
    try:
        record_outcome(session, tracking_id, body.outcome, user.username, now,
                       substance=body.substance, net_mass_mg=body.net_mass_mg,
                       purity_percent=body.purity_percent, units=body.units, form=body.form,
                       note=body.note)
    except ReviewError as exc:
        raise HTTPException(404 if "unknown parcel" in str(exc) else 422, str(exc)) from exc
    return _detail(session, tracking_id, user, now)


@router.get("/customs", include_in_schema=False)
def page_home(user: User = Depends(guard)) -> RedirectResponse:
    """The area's menu entry: the queue."""
    return RedirectResponse("/customs/queue", status_code=303)


@router.get("/customs/queue", include_in_schema=False)
def page_queue(request: Request, status: str = "open", session: Session = Depends(db_session),
               user: User = Depends(guard)):
    """Page: the review queue (JSON twin: /api/customs/queue)."""
    return render(request, "customs/queue.html", _queue_context(session, status, 200))


@router.get("/customs/parcels/{tracking_id}", include_in_schema=False)
def page_parcel(tracking_id: str, request: Request, session: Session = Depends(db_session),
                user: User = Depends(guard), now: dt.datetime = Depends(clock)):
    """Page: one parcel (JSON twin: /api/customs/parcels/{tracking_id})."""
    return render(request, "customs/parcel.html",
                  {"p": _detail(session, tracking_id, user, now), "error": None,
                   "outcomes": OUTCOMES})


def _float(value: str) -> float | None:
    value = value.strip().replace(",", ".")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise ReviewError(f"{value!r} is not a number") from None


# ReviewError messages (English, for the API) → the page's catalogue keys, by their start.
_REVIEW_ERRORS = (("substance:", "customs.error.substance"),
                  ("net_mass_mg or units:", "customs.error.quantity"),
                  ("net_mass_mg must", "customs.error.mass"),
                  ("purity_percent", "customs.error.purity"),
                  ("this parcel's seizure is already recorded", "customs.error.already_seized"))


def _review_error(message: str, lng: str) -> str:
    if message.endswith("is not a number"):
        return translate("customs.error.number", lng, value=message.split(" is not")[0])
    for start, key in _REVIEW_ERRORS:
        if message.startswith(start):
            return translate(key, lng)
    return message


@router.post("/customs/parcels/{tracking_id}/outcome", include_in_schema=False)
def page_outcome(tracking_id: str, request: Request, outcome: str = Form(...),
                 substance: str = Form(""), net_mass_mg: str = Form(""),
                 purity_percent: str = Form(""), note: str = Form(""),
                 session: Session = Depends(db_session), user: User = Depends(guard),
                 now: dt.datetime = Depends(clock)):
    """Form post of the parcel page; back to the parcel."""
    try:
        record_outcome(session, tracking_id, outcome, user.username, now,
                       substance=substance or None, net_mass_mg=_float(net_mass_mg),
                       purity_percent=_float(purity_percent), note=note)
    except ReviewError as exc:
        session.rollback()
        kept = {"outcome": outcome, "substance": substance, "net_mass_mg": net_mass_mg,
                "purity_percent": purity_percent, "note": note}
        return render(request, "customs/parcel.html",
                      {"p": _detail(session, tracking_id, user, now),
                       "error": _review_error(str(exc), lang(request)), "outcomes": OUTCOMES,
                       "kept": kept}, status_code=422)
    return RedirectResponse(f"/customs/parcels/{tracking_id}", status_code=303)
