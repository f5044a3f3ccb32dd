"""Structured JSON export of EWS incidents for regional and international exchange."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

from sqlalchemy import select
from sqlalchemy.orm import Session

from centinela.config import get_settings
from centinela.ews.control import family_of
from centinela.ews.detect import confirmed, substance_key
from centinela.ews.models import Signal
from centinela.ews.registry import registry
from centinela.lib import clock
from centinela.lib.clock import lima_day
from centinela.reference import ubigeo as ubigeo_ref

FORMAT = "centinela-ews-incidents"
VERSION = 2
# EU EWS / UNODC EWA sample types from the seizure's ``form``
SAMPLE_TYPE = {
    "powder": "powder", "tablet": "tablet", "pill": "tablet", "capsule": "capsule",
    "liquid": "liquid", "solution": "liquid", "ampoule": "liquid (ampoule)", "vial": "liquid (vial)",
    "patch": "transdermal patch", "blotter": "blotter", "paste": "paste", "herbal": "herbal material",
    "crystal": "crystals", "rock": "crystals",
}
INCIDENT_KINDS = ("seizure", "lab", "overdose")
TRAFFICKING_ROUTE = {
    "airport": "air", "port": "maritime", "border": "land border", "parcel": "postal/courier",
    "online": "online market", "street": "street retail", "pharmacy": "pharmacy",
    "hospital": "hospital",
}


def incident_id(sig: Signal, key: str | None = None) -> str:
    """Return a stable exchange id that reveals no internal record id.

    Keyed with the ``exchange_key`` secret (HMAC-SHA256): without the key, the ids cannot be
    recomputed from guessed reporter codes or event numbers.
    """
    secret = (key or get_settings().exchange_key).encode()
    digest = hmac.new(secret, f"{sig.source_kind}:{sig.source_id}".encode(),
                      hashlib.sha256).hexdigest()[:20]
    return f"PE-CEN-{digest.upper()}"


def _sample_type(sig: Signal, p: dict) -> str:
    if sig.source_kind == "overdose":
        return "biological sample (toxicology)" if p.get("confirmed") else "none (clinical case)"
    return SAMPLE_TYPE.get((p.get("form") or "").lower(), p.get("form") or "not reported")


def _method(sig: Signal, p: dict) -> str:
    if p.get("analytical_method"):
        return p["analytical_method"]
    if sig.source_kind == "lab":
        return "laboratory identification (structure reported; technique not reported)"
    if sig.source_kind == "overdose":
        return ("toxicological confirmation (technique not reported)" if p.get("confirmed")
                else "clinical suspicion (no analysis)")
    return "not analysed (reported name)"


def _components(p: dict) -> list[dict]:
    """The mixture's components: from the structure when one was given, else from the
    reported name ("heroína + fentanilo + xilacina"), each with its registry identity."""
    if p.get("components"):
        return [{k: c.get(k) for k in ("smiles", "role", "counter_ion", "family", "name",
                                       "inchikey")} for c in p["components"]]
    out = []
    reg = registry()
    for c in p.get("reported_components") or []:
        hit = reg.by_key_id.get(c.get("registry_id") or "")
        out.append({"smiles": hit.canonical_smiles if hit else None, "role": "reported",
                    "counter_ion": None,
                    "family": family_of(hit.category) if hit else c.get("family_hint"),
                    "name": hit.name if hit else c.get("reported"),
                    "inchikey": hit.inchikey if hit else None})
    return out


def incident(sig: Signal, first_dates: dict | None = None) -> dict:
    """Return the exchange record of one signal (EU EWS / UNODC EWA fields, docs/ews.md)."""
    p = sig.payload or {}
    hit = registry().by_inchikey(sig.inchikey) if sig.inchikey else None
    key = substance_key(sig)
    first = (first_dates or {}).get(key)
    d = ubigeo_ref.get(sig.ubigeo or "")
    tier = p.get("tier") or {}
    is_od = sig.source_kind == "overdose"
    return {
        "incident_id": incident_id(sig),
        "type": "overdose" if is_od else ("forensic_identification" if sig.source_kind == "lab"
                                          else "seizure"),
        "date": lima_day(sig.occurred_at).isoformat(),
        "datetime": clock.lima_iso(sig.occurred_at),
        "place": {
            "country": "PE", "ubigeo": sig.ubigeo,
            "department": d.department if d else None, "province": d.province if d else None,
            "district": d.district if d else None,
            "latitude": d.latitude if d else None, "longitude": d.longitude if d else None,
        },
        "substance": {
            "reported_as": p.get("reported_as"), "name": hit.name if hit else sig.substance,
            "name_es": hit.name_es if hit else None,
            "iupac_name": (hit.iupac or None) if hit else None,
            "cas_number": (hit.cas or None) if hit else None,
            "molecular_formula": p.get("formula") or (hit.formula if hit else None),
            "inchikey": sig.inchikey, "smiles": p.get("smiles"), "category": p.get("category"),
            "family": p.get("family"), "controlled": p.get("controlled"),
            "laboratory_confirmed": confirmed(sig),
            "identified_by": p.get("identified_by"),
            "components": _components(p),
            "first_detection_date": first,
        },
        "analytical_method": _method(sig, p),
        "sample_type": _sample_type(sig, p),
        "purity_percent": None if is_od else p.get("purity_percent"),
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
    first_dates = first_detection_dates(session, until)
    seen: set[str] = set()
    incidents = []
    for sig in rows:
        rec = incident(sig, first_dates)
        if rec["incident_id"] in seen:
            continue
        seen.add(rec["incident_id"])
        incidents.append(rec)
    substances: dict[str, dict] = {}
    for rec in incidents:
        sub = rec["substance"]
        if not sub["inchikey"]:
            continue
        row = substances.setdefault(sub["inchikey"], {
            k: sub[k] for k in ("name", "name_es", "iupac_name", "cas_number", "molecular_formula",
                                "inchikey", "smiles", "category", "family", "controlled",
                                "first_detection_date")} | {"incidents": 0})
        row["incidents"] += 1
    return {
        "format": FORMAT, "version": VERSION, "country": "PE", "producer": "Centinela EWS",
        "aligned_with": ["EU Early Warning System reporting form (EUDA)",
                         "UNODC Early Warning Advisory on NPS"],
        "substances": sorted(substances.values(), key=lambda r: r["first_detection_date"] or ""),
        "generated_at": now.replace(tzinfo=dt.UTC).isoformat(),
        "period": {"from": since.replace(tzinfo=dt.UTC).isoformat(),
                   "to": until.replace(tzinfo=dt.UTC).isoformat()},
        "department": department, "count": len(incidents), "incidents": incidents,
        "notes": "Pseudonymous: no names, documents, reporter or internal record ids; incident "
                 "ids are keyed (HMAC) and cannot be recomputed without Centinela's key. Times "
                 "are America/Lima; quantities in mg. Fields documented in docs/ews.md.",
    }


def first_detection_dates(session: Session, until: dt.datetime) -> dict[str, str]:
    """Return the first confirmed detection date in the country of every substance key."""
    out: dict[str, str] = {}
    q = select(Signal).where(Signal.occurred_at <= until, Signal.source_kind != "detection")
    for sig in session.scalars(q.order_by(Signal.occurred_at, Signal.id)):
        if not sig.inchikey or not confirmed(sig):
            continue
        out.setdefault(substance_key(sig), lima_day(sig.occurred_at).isoformat())
    return out
