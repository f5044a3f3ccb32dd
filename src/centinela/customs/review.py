"""The officers' review queue and its outcomes; a seizure becomes a Centinela seizure and signal."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from centinela import audit
from centinela.customs.evaluation import average_precision
from centinela.customs.models import OUTCOMES, Parcel
from centinela.ews.signals import record_signal
from centinela.ingest.files import RecordError, read_records
from centinela.lib.clock import parse_time
from centinela.privacy import redact

AGENCY = "SUNAT-ADUANAS"
SEIZURE_FORMS = ("powder", "pill", "ampoule", "patch", "liquid", "blotter")


class ReviewError(ValueError):
    """An outcome that cannot be recorded (unknown parcel, missing quantity, …)."""


def queue(session: Session, limit: int = 100, status: str = "open",
          offset: int = 0) -> list[Parcel]:
    """Return parcels by combined score, highest first (``open``: no outcome yet)."""
    q = select(Parcel).where(Parcel.combined_score.is_not(None))
    if status == "open":
        q = q.where(Parcel.outcome.is_(None))
    elif status in OUTCOMES:
        q = q.where(Parcel.outcome == status)
    elif status != "all":
        raise ReviewError(f"status must be open, all or one of {', '.join(OUTCOMES)}")
    return list(session.scalars(q.order_by(Parcel.combined_score.desc(), Parcel.tracking_id)
                                .offset(offset).limit(limit)))


def rank_cutoff(session: Session, rate: float) -> float | None:
    """Return the combined score at the inspection rate (the queue's affordable top)."""
    n = session.scalar(select(func.count()).select_from(Parcel).where(
        Parcel.combined_score.is_not(None))) or 0
    k = max(1, int(round(n * rate)))
    if not n:
        return None
    return session.scalar(select(Parcel.combined_score).where(Parcel.combined_score.is_not(None))
                          .order_by(Parcel.combined_score.desc()).offset(k - 1).limit(1))


def record_outcome(session: Session, tracking_id: str, outcome: str, actor: str,
                   now: dt.datetime, substance: str | None = None,
                   net_mass_mg: float | None = None, purity_percent: float | None = None,
                   units: float | None = None, form: str | None = "powder",
                   note: str = "") -> Parcel:
    """Record an officer's outcome; ``seized`` also stores a Seizure and its early-warning signal."""
    parcel = session.get(Parcel, tracking_id)
    if parcel is None:
        raise ReviewError(f"unknown parcel {tracking_id}")
    if outcome not in OUTCOMES:
        raise ReviewError(f"outcome must be one of {', '.join(OUTCOMES)}")
    if parcel.outcome == "seized" and outcome != "seized":
        raise ReviewError("this parcel's seizure is already recorded; correct it in the "
                          "seizures records, not here")
    if outcome == "seized":
        if not (substance or "").strip():
            raise ReviewError("substance: name what was found (e.g. fentanyl, unknown white "
                              "powder); the laboratory result can follow")
        if net_mass_mg is None and units is None:
            raise ReviewError("net_mass_mg or units: the quantity is needed for the Law 32250 "
                              "tier")
        for name, v in (("net_mass_mg", net_mass_mg), ("units", units)):
            if v is not None and not (0 <= v < 1e9):
                raise ReviewError(f"{name} must be zero or more")
        if purity_percent is not None and not 0 < purity_percent <= 100:
            raise ReviewError("purity_percent must be in (0, 100]")
        if form not in SEIZURE_FORMS:
            raise ReviewError(f"form must be one of {', '.join(SEIZURE_FORMS)}")
    parcel.outcome, parcel.outcome_by, parcel.outcome_at = outcome, actor, now
    parcel.outcome_note = redact(note.strip())[:4000]
    details: dict = {"outcome": outcome}
    if outcome == "seized":
        seizure = _seizure(session, parcel, substance.strip(), net_mass_mg, purity_percent,
                           units, form, now)
        details["seizure_id"] = seizure.seizure_id
    audit.record(session, actor, "customs.outcome", tracking_id, details=details, now=now)
    session.flush()
    return parcel


def _seizure(session: Session, parcel: Parcel, substance: str, net_mass_mg, purity, units,
             form, now: dt.datetime):
    from centinela.ews.intake import seizure_payload
    from centinela.ledger.records import Seizure

    sid = f"CUS-{parcel.tracking_id}"[:80]
    body = json.dumps([substance, net_mass_mg, purity, units, form, parcel.ubigeo], default=str)
    digest = hashlib.sha256(body.encode()).hexdigest()[:32]
    sz = session.get(Seizure, sid) or Seizure(seizure_id=sid)
    sz.occurred_at, sz.ubigeo, sz.agency, sz.context = now, parcel.ubigeo, AGENCY, "parcel"
    sz.substance, sz.form, sz.units = substance[:120], form, units
    sz.net_mass_mg, sz.purity_percent, sz.content_hash = net_mass_mg, purity, digest
    session.add(sz)
    session.flush()
    payload = seizure_payload(sz)
    payload.update(tracking_id=parcel.tracking_id, origin_country=parcel.origin_country,
                   customs_score=parcel.combined_score)
    record_signal(session, "seizure", sid, now, ubigeo=parcel.ubigeo,
                  substance=payload["resolved_name"] or substance, inchikey=payload["inchikey"],
                  payload=payload)
    parcel.seizure_id = sid
    return sz


def import_outcomes_file(session: Session, path: Path, actor: str, now: dt.datetime) -> dict:
    """Apply ``outcomes.csv``/``.jsonl`` (tracking_id, outcome, decided_at, substance, …)."""
    from centinela.ledger.records import Rejection

    counts = {"applied": 0, "duplicates": 0, "rejected": 0}
    allowed = {"tracking_id", "outcome", "decided_at", "substance", "net_mass_mg",
               "purity_percent", "units", "form", "note"}
    for line, raw in read_records(Path(path)):
        try:
            if "__error__" in raw:
                raise RecordError(None, raw["__error__"])
            unknown = sorted(set(raw) - allowed)
            if unknown:
                raise RecordError(unknown[0], "unknown column(s) " + ", ".join(unknown))
            rec = {k: str(raw.get(k) or "").strip() for k in allowed}
            when = parse_time(rec["decided_at"]) if rec["decided_at"] else now
            current = session.get(Parcel, rec["tracking_id"])
            if current is not None and current.outcome == rec["outcome"]:
                counts["duplicates"] += 1  # re-sent outcome: nothing to do
                continue

            record_outcome(session, rec["tracking_id"], rec["outcome"], actor, when,
                           substance=rec["substance"] or None, net_mass_mg=_num(rec, "net_mass_mg"),
                           purity_percent=_num(rec, "purity_percent"), units=_num(rec, "units"),
                           form=rec["form"] or "powder", note=rec["note"])
            counts["applied"] += 1
        except (RecordError, ReviewError, ValueError) as exc:
            session.add(Rejection(source=str(path), line=line, record_type="parcel_outcome",
                                  record_key=redact(str(raw.get("tracking_id", "")))[:120],
                                  field=getattr(exc, "field", None), kind="invalid",
                                  reason=redact(str(exc)),
                                  record={str(k)[:60]: redact(str(v))[:300] for k, v in raw.items()},
                                  created_at=now))
            counts["rejected"] += 1
    session.flush()
    return counts


def _num(rec: dict, key: str) -> float | None:
    try:
        return float(rec[key]) if rec[key] else None
    except ValueError:
        raise RecordError(key, f"{key} must be a number, got {rec[key]!r}") from None


def outcome_evaluation(session: Session) -> dict:
    """Measure the scores against officers' outcomes (only decided parcels are labelled)."""
    rows = session.execute(select(Parcel.outcome, Parcel.manifest_score, Parcel.image_score,
                                  Parcel.combined_score).where(
        Parcel.outcome.is_not(None), Parcel.combined_score.is_not(None))).all()
    counts = {o: sum(1 for r in rows if r[0] == o) for o in OUTCOMES}
    out: dict = {"decided": len(rows), "outcomes": counts,
                 "note": "only parcels an officer decided are labelled; they were chosen by the "
                         "score, so these figures are biased toward the inspected top"}
    if not rows:
        return out
    y = np.array([r[0] == "seized" for r in rows])
    inspected = [r for r in rows if r[0] != "cleared"]
    out["seizure_rate_of_inspected"] = round(
        sum(r[0] == "seized" for r in inspected) / len(inspected), 4) if inspected else None
    for name, idx in (("manifest", 1), ("combined", 3)):
        ap = average_precision(np.array([r[idx] for r in rows]), y)
        out[f"ap_{name}"] = None if np.isnan(ap) else round(ap, 4)
    imaged = [(r[2], r[0] == "seized") for r in rows if r[2] is not None]
    if imaged:
        ap = average_precision(np.array([a for a, _ in imaged]), np.array([b for _, b in imaged]))
        out["ap_image"] = None if np.isnan(ap) else round(ap, 4)
    return out
