"""Structured JSON export of EWS incidents for regional and international exchange."""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from centinela.ews.detect import lima_day
from centinela.ews.models import Signal
from centinela.reference import ubigeo as ubigeo_ref

FORMAT = "centinela-ews-incidents"
VERSION = 1
INCIDENT_KINDS = ("seizure", "lab", "overdose")
TRAFFICKING_ROUTE = {
    "airport": "air", "port": "maritime", "border": "land border", "parcel": "postal/courier",
    "online": "online market", "street": "street retail", "pharmacy": "pharmacy",
    "hospital": "hospital",
}
LIMA = dt.timezone(dt.timedelta(hours=-5))


def incident_id(sig: Signal) -> str:
    """Return a stable exchange id that reveals no internal record id."""
    digest = hashlib.sha256(f"{sig.source_kind}:{sig.source_id}".encode()).hexdigest()[:16]
    return f"PE-CEN-{digest.upper()}"


def incident(sig: Signal) -> dict:
    """Return the exchange record of one signal."""
    p = sig.payload or {}
    d = ubigeo_ref.get(sig.ubigeo or "")
    tier = p.get("tier") or {}
    is_od = sig.source_kind == "overdose"
    return {
        "incident_id": incident_id(sig),
        "type": "overdose" if is_od else ("forensic_identification" if sig.source_kind == "lab"
                                          else "seizure"),
        "date": lima_day(sig.occurred_at).isoformat(),
        "datetime": sig.occurred_at.replace(tzinfo=dt.UTC).astimezone(LIMA).isoformat(),
        "place": {
            "country": "PE", "ubigeo": sig.ubigeo,
            "department": d.department if d else None, "province": d.province if d else None,
            "district": d.district if d else None,
            "latitude": d.latitude if d else None, "longitude": d.longitude if d else None,
        },
        "substance": {
            "reported_as": p.get("reported_as"), "name": sig.substance, "inchikey": sig.inchikey,
            "smiles": p.get("smiles"), "category": p.get("category"),
            "laboratory_confirmed": sig.source_kind == "lab" or bool(p.get("confirmed")),
        },
        "quantity": None if is_od else {
            "net_mass_mg": p.get("net_mass_mg"), "purity_percent": p.get("purity_percent"),
            "pure_mass_mg": tier.get("mass_mg") if p.get("purity_percent") else None,
            "units": p.get("units"),
        },
        "form": p.get("form"),
        "concealment_context": p.get("context"),
        "trafficking_route": TRAFFICKING_ROUTE.get(p.get("context") or ""),
        "route_of_administration": p.get("route") if is_od else None,
        "agency": p.get("agency"),
        "overdose": {
            "setting": p.get("setting"), "outcome": p.get("outcome"),
            "naloxone_given": p.get("naloxone_given"), "age_band": p.get("age_band"),
            "sex": p.get("sex"),
        } if is_od else None,
    }


def export_incidents(session: Session, since: dt.datetime, until: dt.datetime,
                     now: dt.datetime, department: str | None = None) -> dict:
    """Return the exchange document of every incident between ``since`` and ``until``."""
    q = select(Signal).where(Signal.source_kind.in_(INCIDENT_KINDS), Signal.occurred_at >= since,
                             Signal.occurred_at <= until)
    if department:
        q = q.where(Signal.department == department)
    rows = list(session.scalars(q.order_by(Signal.occurred_at, Signal.id)))
    seen: set[str] = set()
    incidents = []
    for sig in rows:
        rec = incident(sig)
        if rec["incident_id"] in seen:
            continue
        seen.add(rec["incident_id"])
        incidents.append(rec)
    return {
        "format": FORMAT, "version": VERSION, "country": "PE", "producer": "Centinela EWS",
        "generated_at": now.replace(tzinfo=dt.UTC).isoformat(),
        "period": {"from": since.replace(tzinfo=dt.UTC).isoformat(),
                   "to": until.replace(tzinfo=dt.UTC).isoformat()},
        "department": department, "count": len(incidents), "incidents": incidents,
        "notes": "Pseudonymous: no names, documents, reporter or internal record ids. "
                 "Times are America/Lima; quantities in mg.",
    }
