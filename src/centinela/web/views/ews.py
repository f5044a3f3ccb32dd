"""Typed contexts of the EWS pages; the API returns the same dicts (JSON twins)."""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter

from sqlalchemy import select
from sqlalchemy.orm import Session

from centinela.alerts.models import Alert
from centinela.alerts.payload import alert_json
from centinela.ews.bulletins import bulletin_json
from centinela.ews.classify import CLASS_LABELS, classify_smiles
from centinela.ews.detect import _label, substance_key
from centinela.ews.models import Bulletin, Signal
from centinela.ews.registry import registry
from centinela.lib.clock import lima_day
from centinela.reference import ubigeo as ubigeo_ref
from centinela.web.evidence import headline
from centinela.web.i18n import current_lang

log = logging.getLogger(__name__)


def signal_json(sig: Signal) -> dict:
    """Return the public shape of a signal (pseudonymous by construction)."""
    p = dict(sig.payload or {})
    p.pop("content_hash", None)
    return {
        "id": sig.id, "source_kind": sig.source_kind, "source_id": sig.source_id,
        "occurred_at": sig.occurred_at.isoformat(), "date": lima_day(sig.occurred_at).isoformat(),
        "ubigeo": sig.ubigeo, "department": sig.department,
        "department_name": ubigeo_ref.departments().get(sig.department or "", None),
        "substance": sig.substance, "substance_es": _label(sig, "es"),
        "substance_en": _label(sig, "en"), "inchikey": sig.inchikey, "weight": sig.weight,
        "category": p.get("category"), "payload": p,
    }


def _scoped(q, column, departments: list[str] | None):
    return q if departments is None else q.where(column.in_(departments or ["--"]))


def list_signals(session: Session, now: dt.datetime, days: int = 30, kind: str | None = None,
                 department: str | None = None, departments: list[str] | None = None,
                 inchikey: str | None = None, limit: int = 500) -> list[dict]:
    """Return recent signals, newest first, within the caller's departments."""
    q = select(Signal).where(Signal.occurred_at >= now - dt.timedelta(days=days),
                             Signal.occurred_at <= now)
    if kind:
        q = q.where(Signal.source_kind == kind)
    if department:
        q = q.where(Signal.department == department)
    if inchikey:
        q = q.where(Signal.inchikey == inchikey)
    q = _scoped(q, Signal.department, departments)
    rows = session.scalars(q.order_by(Signal.occurred_at.desc(), Signal.id.desc()).limit(limit))
    return [signal_json(s) for s in rows]


def ews_alerts(session: Session, departments: list[str] | None = None, open_only: bool = True,
               detector_prefix: str = "ews_", limit: int = 200,
               localize: bool = False) -> list[dict]:
    """Return EWS alerts (detector ``ews_*``), highest score first; ``localize``: each alert's
    headline in the reader's language, as its page says it (pages), not the stored Spanish
    summary (JSON)."""
    q = select(Alert).where(Alert.detector.like(detector_prefix + "%"))
    if open_only:
        q = q.where(Alert.status != "closed")
    q = _scoped(q, Alert.department, departments)
    lang = current_lang.get()
    out = []
    for a in session.scalars(q.order_by(Alert.score.desc(), Alert.updated_at.desc()).limit(limit)):
        row = alert_json(a)
        if localize:  # the alert page's headline (the JSON keeps the stored Spanish summary)
            try:
                row["summary"] = headline(a, lang)
            except Exception:  # noqa: BLE001 - odd stored evidence keeps its stored summary
                log.warning("no %s headline for alert %s", lang, a.alert_id, exc_info=True)
        out.append(row)
    return out


def dashboard(session: Session, now: dt.datetime, departments: list[str] | None = None,
              days: int = 30, localize: bool = False) -> dict:
    """Return the EWS dashboard: recent signals, first appearances, open alerts, bulletins."""
    signals = list_signals(session, now, days=days, departments=departments, limit=200)
    alerts = ews_alerts(session, departments, localize=localize)
    firsts = [a for a in alerts if a["detector"].startswith("ews_first")]
    by_kind = Counter(s["source_kind"] for s in signals)
    by_substance = Counter(s["substance_es"] for s in signals)
    bulletins = [bulletin_json(b) for b in session.scalars(
        select(Bulletin).order_by(Bulletin.issued_at.desc(), Bulletin.id.desc()).limit(10))]
    return {
        "now": now.isoformat(), "days": days, "departments": departments,
        "counts": {"signals": len(signals), **by_kind},
        "top_substances": by_substance.most_common(10),
        "signals": signals[:50], "first_appearances": firsts,
        "alerts": [a for a in alerts if not a["detector"].startswith("ews_first")],
        "bulletins": bulletins,
    }


def substances(session: Session, departments: list[str] | None = None) -> list[dict]:
    """Return the registry with first/last seen and signal counts from stored signals."""
    seen: dict[str, dict] = {}
    q = _scoped(select(Signal).where(Signal.inchikey.is_not(None)), Signal.department, departments)
    for s in session.scalars(q.order_by(Signal.occurred_at)):
        row = seen.setdefault(s.inchikey, {"first_seen": None, "last_seen": None, "signals": 0})
        row["first_seen"] = row["first_seen"] or lima_day(s.occurred_at).isoformat()
        row["last_seen"] = lima_day(s.occurred_at).isoformat()
        row["signals"] += 1
    out = []
    for sub in registry().substances:
        out.append({**sub.as_dict(), **seen.pop(sub.inchikey, {"first_seen": None,
                                                                "last_seen": None, "signals": 0})})
    for key, row in seen.items():  # structures seen but not in the registry
        out.append({"id": None, "name": None, "name_es": None, "category": None,
                    "inchikey": key, "smiles": None, **row})
    return out


def substance_detail(session: Session, inchikey: str, now: dt.datetime,
                     departments: list[str] | None = None) -> dict | None:
    """Return one substance: registry entry, classification, signals by department, alerts."""
    hit = registry().by_inchikey(inchikey)
    q = _scoped(select(Signal).where(Signal.inchikey == inchikey), Signal.department, departments)
    sigs = list(session.scalars(q.order_by(Signal.occurred_at)))
    if hit is None and not sigs:
        return None
    smiles = hit.canonical_smiles if hit else next(
        ((s.payload or {}).get("smiles") for s in sigs if (s.payload or {}).get("smiles")), None)
    cls = classify_smiles(smiles).as_dict() if smiles else None
    by_dept = Counter(s.department for s in sigs if s.department)
    key = inchikey
    alerts = [a for a in ews_alerts(session, departments, open_only=False)
              if (a["evidence"] or {}).get("inchikey") == key
              or (a["evidence"] or {}).get("series") == key]
    names = {s.substance for s in sigs if s.substance}
    return {
        "inchikey": inchikey, "registry": hit.as_dict() if hit else None,
        "name": hit.name if hit else (sorted(names)[0] if names else inchikey),
        "classification": cls,
        "label_es": CLASS_LABELS.get((cls or {}).get("category", ""), ("",))[0],
        "first_seen": lima_day(sigs[0].occurred_at).isoformat() if sigs else None,
        "last_seen": lima_day(sigs[-1].occurred_at).isoformat() if sigs else None,
        "by_department": [{"department": d, "name": ubigeo_ref.departments().get(d, d), "signals": n}
                          for d, n in by_dept.most_common()],
        "signals": [signal_json(s) for s in sigs[::-1][:100]],
        "alerts": alerts, "series_key": substance_key(sigs[0]) if sigs else inchikey,
        "now": now.isoformat(),
    }
