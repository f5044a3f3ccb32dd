"""Contexts of the customs pages (the review queue, one parcel); the API returns them as is."""

from __future__ import annotations

from sqlalchemy.orm import Session

from centinela.config import get_settings
from centinela.customs.models import OUTCOMES, Parcel, ParcelImage
from centinela.customs.review import queue, rank_cutoff
from centinela.reference import ubigeo as ubigeo_ref


def parcel_summary(p: Parcel, cutoff: float | None = None) -> dict:
    """One row of the review queue (scores, top factors, outcome)."""
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


def queue_context(session: Session, status: str, limit: int, offset: int = 0) -> dict:
    """The review queue, highest combined score first, ``limit`` parcels from ``offset``;
    ReviewError on an unknown status."""
    rate = get_settings().customs_inspection_rate
    rows = queue(session, limit=limit, status=status, offset=offset)
    cutoff = rank_cutoff(session, rate)
    return {"status": status, "inspection_rate": rate, "cutoff": cutoff,
            "synthetic_note": True, "outcomes": list(OUTCOMES), "offset": offset,
            "limit": limit, "parcels": [parcel_summary(p, cutoff) for p in rows]}


def parcel_detail(session: Session, tracking_id: str) -> dict | None:
    """One parcel with every factor and image region; None when the parcel is unknown."""
    p = session.get(Parcel, tracking_id)
    if p is None:
        return None
    out = parcel_summary(p, rank_cutoff(session, get_settings().customs_inspection_rate))
    out.update(factors=p.factors or [], regions=p.regions or [],
               has_image=session.get(ParcelImage, tracking_id) is not None,
               dimensions_cm=[p.length_cm, p.width_cm, p.height_cm] if p.length_cm else None,
               model_version=p.model_version, outcome_by=p.outcome_by,
               outcome_at=p.outcome_at.isoformat() if p.outcome_at else None,
               outcome_note=p.outcome_note, seizure_id=p.seizure_id)
    return out
