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
from centinela.customs.models import OUTCOMES, Parcel, ParcelImage
from centinela.customs.review import ReviewError, record_outcome
from centinela.web.deps import clock, db_session, lang, render, require_roles
from centinela.web.i18n import translate
from centinela.web.views.customs import parcel_detail, queue_context

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


QUEUE_PAGE = 40  # parcels a page: an officer works down the top of the queue


def _queue_context(session: Session, status: str, limit: int, offset: int = 0) -> dict:
    try:
        return queue_context(session, status, limit, offset)
    except ReviewError as exc:
        raise HTTPException(422, str(exc)) from exc


def _detail(session: Session, tracking_id: str, user: User, now: dt.datetime) -> dict:
    out = parcel_detail(session, tracking_id)
    if out is None:
        raise HTTPException(404, f"unknown parcel {tracking_id}")
    audit.record(session, user.username, "customs.parcel.read", tracking_id, now=now)
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
               user: User = Depends(guard), p: int = 1):
    """Page: the review queue, ``QUEUE_PAGE`` parcels a page (JSON twin: /api/customs/queue)."""
    page = min(max(p, 1), 100000)
    ctx = _queue_context(session, status, QUEUE_PAGE, (page - 1) * QUEUE_PAGE)
    ctx["page"] = page
    return render(request, "customs/queue.html", ctx)


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
                 units: str = Form(""), purity_percent: str = Form(""), note: str = Form(""),
                 session: Session = Depends(db_session), user: User = Depends(guard),
                 now: dt.datetime = Depends(clock)):
    """Form post of the parcel page; back to the parcel."""
    try:
        record_outcome(session, tracking_id, outcome, user.username, now,
                       substance=substance or None, net_mass_mg=_float(net_mass_mg),
                       units=_float(units), purity_percent=_float(purity_percent), note=note)
    except ReviewError as exc:
        session.rollback()
        kept = {"outcome": outcome, "substance": substance, "net_mass_mg": net_mass_mg,
                "units": units, "purity_percent": purity_percent, "note": note}
        return render(request, "customs/parcel.html",
                      {"p": _detail(session, tracking_id, user, now),
                       "error": _review_error(str(exc), lang(request)), "outcomes": OUTCOMES,
                       "kept": kept}, status_code=422)
    return RedirectResponse(f"/customs/parcels/{tracking_id}", status_code=303)
