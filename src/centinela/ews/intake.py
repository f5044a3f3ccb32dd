"""Signals intake: overdose/poisoning records (``overdoses.csv``/``.jsonl``) and seizures.

Overdose records follow the same discipline as the spec's files: fixed fields, unknown columns
rejected, clear reasons, idempotent on (reporter, event_id), pseudonymous (no names, no
documents, age in bands). Accepted records become ``overdose`` signals; ``sync_seizures`` turns
stored seizures into ``seizure``/``lab`` signals.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from centinela.ews.classify import classify, classify_smiles
from centinela.ews.models import (
    OVERDOSE_OUTCOMES,
    OVERDOSE_ROUTES,
    OVERDOSE_SETTINGS,
    Overdose,
    Signal,
)
from centinela.ews.registry import resolve
from centinela.ews.signals import record_signal
from centinela.ews.tiers import TierError, tier
from centinela.ingest.files import RecordError, content_hash, read_records
from centinela.lib import clock
from centinela.lib.chem import looks_like_smiles, structure_problem
from centinela.privacy import redact
from centinela.reference import ubigeo as ubigeo_ref

OVERDOSE_FIELDS = (
    "event_id", "occurred_at", "ubigeo", "setting", "suspected_substances",
    "confirmed_substances", "naloxone_given", "outcome", "age_band", "sex", "reporter", "route",
)
REQUIRED = ("event_id", "occurred_at", "ubigeo", "setting", "reporter")
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,59}$")
_DOCUMENT = re.compile(r"^(DNI|CE|PAS)\b|^\d{8}$", re.IGNORECASE)
_AGE_BAND = re.compile(r"^(\d{1,3})-(\d{1,3})$|^(\d{1,3})\+$")
_SMILES_CHARS = re.compile(r"[()=#\[\]@]|\d")


def _bool(value: str) -> bool | None:
    v = value.strip().lower()
    if v in ("", "unknown"):
        return None
    if v in ("true", "1", "yes", "si", "sí"):
        return True
    if v in ("false", "0", "no"):
        return False
    raise RecordError("naloxone_given", f"naloxone_given must be true or false, got {value!r}")


def _substances(field: str, value: str) -> list[str]:
    items = [redact(x.strip()) for x in (value or "").split(";") if x.strip()]
    for i, item in enumerate(items, 1):
        if len(item) > 300:
            raise RecordError(field, f"{field} item {i} is longer than 300 characters")
        if " " in item or not _SMILES_CHARS.search(item) and "*" not in item:
            continue
        if resolve(name=item).substance is not None:
            continue
        if not looks_like_smiles(item) and "*" not in item:
            raise RecordError(field, f"{field} item {i} looks like SMILES but RDKit cannot parse it")
        if (problem := structure_problem(item)) is not None:
            raise RecordError(field, f"{field} item {i}: {problem} / {problem.message_es}")
    return items


def validate_overdose(raw: dict) -> dict:
    """Return the cleaned record or raise ``RecordError`` saying which field and why."""
    unknown = sorted(set(raw) - set(OVERDOSE_FIELDS))
    if unknown:
        raise RecordError(unknown[0], "unknown column(s) " + ", ".join(unknown)
                          + " (overdose records carry no names or documents; see docs/ews.md)")
    rec = {k: ("" if raw.get(k) is None else str(raw.get(k))).strip() for k in OVERDOSE_FIELDS}
    for k in REQUIRED:
        if not rec[k]:
            raise RecordError(k, f"{k} is required")
    if not _CODE.match(rec["event_id"]):
        raise RecordError("event_id", "event_id must be 1-60 letters, digits or ._:/- (no spaces)")
    if not _CODE.match(rec["reporter"]) or _DOCUMENT.search(rec["reporter"]):
        raise RecordError("reporter", "reporter must be an institution code (IPRESS, "
                          "establishment or service id), never a person's name or document")
    try:
        occurred = clock.parse_time(rec["occurred_at"])
    except ValueError:
        raise RecordError("occurred_at", "occurred_at must be ISO 8601, e.g. "
                          "2025-03-14T09:30:00-05:00") from None
    code = rec["ubigeo"].zfill(6) if rec["ubigeo"].isdigit() else rec["ubigeo"]
    if not ubigeo_ref.is_valid(code):
        raise RecordError("ubigeo", f"ubigeo {rec['ubigeo']!r} is not an INEI district code")
    if rec["setting"] not in OVERDOSE_SETTINGS:
        raise RecordError("setting", "setting must be one of " + ", ".join(OVERDOSE_SETTINGS))
    outcome = rec["outcome"] or None
    if outcome is not None and outcome not in OVERDOSE_OUTCOMES:
        raise RecordError("outcome", "outcome must be one of " + ", ".join(OVERDOSE_OUTCOMES))
    if rec["setting"] == "death" and outcome not in (None, "died"):
        raise RecordError("outcome", "setting death requires outcome died (or empty)")
    if rec["setting"] == "death":
        outcome = "died"
    band = rec["age_band"] or None
    if band is not None and band != "unknown":
        m = _AGE_BAND.match(band)
        if not m or (m.group(1) and int(m.group(1)) > int(m.group(2))):
            raise RecordError("age_band", "age_band must be a band like 25-29 or 60+ (exact ages "
                              "are not collected)")
    sex = rec["sex"].upper() or None
    if sex is not None and sex not in ("F", "M", "X"):
        raise RecordError("sex", "sex must be F, M or X")
    route = rec["route"] or None
    if route is not None and route not in OVERDOSE_ROUTES:
        raise RecordError("route", "route must be one of " + ", ".join(OVERDOSE_ROUTES))
    return {
        "event_id": rec["event_id"], "reporter": rec["reporter"], "occurred_at": occurred,
        "ubigeo": code, "setting": rec["setting"],
        "suspected_substances": _substances("suspected_substances", rec["suspected_substances"]),
        "confirmed_substances": _substances("confirmed_substances", rec["confirmed_substances"]),
        "naloxone_given": _bool(rec["naloxone_given"]), "outcome": outcome,
        "age_band": band, "sex": sex, "route": route,
    }


def import_overdoses_file(session: Session, path, import_id: int | None) -> dict:
    """Import one overdoses file inside the caller's transaction; return the counts."""
    from centinela.ledger.records import Rejection

    path = Path(path)
    counts = {"accepted": 0, "duplicates": 0, "conflicts": 0, "rejected": 0}
    existing = {(o.reporter, o.event_id): o for o in session.scalars(select(Overdose))}
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    known = _import_times(session, {import_id}).get(import_id) or now  # when they became known

    def reject(line: int, raw: dict, field: str | None, reason: str, kind: str = "invalid",
               key: str | None = None) -> None:
        safe = {str(k)[:60]: redact(str(v))[:300] for k, v in raw.items() if k != "__error__"}
        session.add(Rejection(import_id=import_id, source=str(path), line=line,
                              record_type="overdose", record_key=key, field=field, kind=kind,
                              reason=redact(reason), record=safe, created_at=now))
        counts["conflicts" if kind == "conflict" else "rejected"] += 1

    for line, raw in read_records(path):
        if "__error__" in raw:
            reject(line, raw, None, raw["__error__"])
            continue
        key = f"{raw.get('reporter', '')}:{raw.get('event_id', '')}"
        try:
            rec = validate_overdose(raw)
        except RecordError as exc:
            reject(line, raw, exc.field, exc.reason, key=redact(key)[:120])
            continue
        digest = content_hash(rec)
        old = existing.get((rec["reporter"], rec["event_id"]))
        if old is not None:
            if old.content_hash == digest:
                counts["duplicates"] += 1
            else:
                reject(line, raw, None, "event_id already received from this reporter with "
                       "different content", kind="conflict", key=key)
            continue
        od = Overdose(department=rec["ubigeo"][:2], content_hash=digest, import_id=import_id, **rec)
        session.add(od)
        existing[(od.reporter, od.event_id)] = od
        session.flush()
        overdose_signals(session, od, recorded_at=known)
        counts["accepted"] += 1
    session.flush()
    return counts


def overdose_signals(session: Session, od: Overdose,
                     recorded_at: dt.datetime | None = None) -> list[Signal]:
    """Record one signal per substance of the event (confirmed first, else suspected);
    ``recorded_at`` is when the event became known (its import's time; default: now)."""
    confirmed = bool(od.confirmed_substances)
    items = od.confirmed_substances or od.suspected_substances or [None]
    base = {"reporter": od.reporter, "event_id": od.event_id, "setting": od.setting,
            "outcome": od.outcome, "naloxone_given": od.naloxone_given, "age_band": od.age_band,
            "sex": od.sex, "route": od.route, "confirmed": confirmed,
            "content_hash": od.content_hash}
    out, keys = [], []
    for i, item in enumerate(items):
        name = inchikey = category = smiles = family = None
        how = None
        extra: dict = {}
        if item and looks_like_smiles(item):  # a mixture counts for its most serious molecule
            cls = classify(item)
            how = "structure"
            if not cls.error and cls.key() and not cls.error:
                name, inchikey, smiles = cls.registry_name, cls.inchikey, cls.smiles
                category, family = cls.category, cls.family
        elif item:
            res = resolve(name=item)  # "heroína con fentanilo" keys fentanyl
            name, inchikey, smiles = res.name, res.inchikey, res.smiles
            how = "name"
            if res.components:
                extra["reported_components"] = res.components
            if res.family_hint:
                extra["family_hint"] = res.family_hint
            if res.smiles:
                cls = classify_smiles(res.smiles)
                category, family = cls.category, cls.family
        keys.append(inchikey)
        sid = f"{od.reporter}:{od.event_id}" + (f"#{i + 1}" if i else "")
        out.append(record_signal(
            session, "overdose", sid, od.occurred_at, ubigeo=od.ubigeo, substance=name,
            inchikey=inchikey, payload={**base, "category": category, "family": family,
                                        "reported_as": item, "smiles": smiles,
                                        "identified_by": how, **extra},
            recorded_at=recorded_at,
        ))
    od.confirmed_inchikeys = [k for k in keys if k] if confirmed else []
    return out


def seizure_payload(seizure, product=None) -> dict:
    """Resolve and classify one seizure; return the payload of its signal (never raises).

    A laboratory structure is classified molecule by molecule (a mixture counts for its most
    serious component); a reported name only is a lower-confidence identification.
    """
    smiles = (seizure.smiles or "").strip()
    cls = classify(smiles) if smiles else None
    if cls is not None:
        cls.key()  # fills the canonical SMILES (or the error) of the most serious component
    if cls is not None and not cls.error:
        res = resolve(name=seizure.substance, smiles=cls.smiles)
    else:
        res = resolve(name=seizure.substance)
    payload: dict = {
        "agency": seizure.agency, "context": seizure.context, "form": seizure.form,
        "units": seizure.units, "net_mass_mg": seizure.net_mass_mg,
        "purity_percent": seizure.purity_percent, "product_code": seizure.product_code,
        "lot": seizure.lot, "serial": seizure.serial, "reported_as": seizure.substance,
        "content_hash": seizure.content_hash, "resolved_name": res.name,
        "inchikey": res.inchikey, "smiles": res.smiles,
        "mismatch": res.mismatch, "structure_error": res.error, "notes": res.notes,
        "identified_by": "name" if res.inchikey else None,
    }
    if res.components:  # what the reported name lists (a mixture, an unlisted name)
        payload["reported_components"] = res.components
    if res.family_hint:
        payload["family_hint"] = res.family_hint
    if cls is not None:
        payload["identified_by"] = "structure" if not cls.error else None
        if cls.error:
            payload.update(structure_error=cls.error, structure_error_es=cls.error_es,
                           inchikey=None, smiles=None, resolved_name=None)
            return payload
        d = cls.as_dict()
        payload.update(inchikey=d["inchikey"], smiles=d["smiles"],
                       resolved_name=d["registry_name"], components=d["components"],
                       review=d["review"], parent=d["parent"])
        if d["error"]:
            payload.update(structure_error=d["error"], inchikey=None, smiles=None)
            return payload
    elif res.smiles:
        cls = classify_smiles(res.smiles)
    if cls is not None:
        controlled, _ = cls.control()
        payload.update(category=cls.category, family=cls.family, controlled=controlled,
                       fentanyl_class=cls.fentanyl_class, formula=cls.formula,
                       clauses=[c.clause for c in cls.clauses])
        strength = product.strength_mg_per_unit if product is not None else None
        try:
            payload["tier"] = tier(seizure.net_mass_mg, seizure.purity_percent, seizure.units,
                                   strength, fentanyl_class=cls.fentanyl_class).as_dict()
        except TierError as exc:
            payload["tier"] = {"error": str(exc)}
    return payload


def _import_times(session: Session, ids) -> dict[int, dt.datetime]:
    """Return when each import of ``ids`` started (the time its records became known)."""
    from centinela.ledger.records import ImportRun

    wanted = sorted({i for i in ids if i is not None})
    out: dict[int, dt.datetime] = {}
    for i in range(0, len(wanted), 500):
        out.update((run_id, started) for run_id, started in session.execute(
            select(ImportRun.id, ImportRun.started_at).where(ImportRun.id.in_(wanted[i:i + 500]))))
    return out


def sync_seizures(session: Session, now: dt.datetime | None = None) -> dict:
    """Turn new or changed seizures into ``seizure``/``lab`` signals (idempotent).

    Each signal records when the seizure became known (``recorded_at``): the time of the import
    that brought it, else ``now`` (default: the current time). A seizure whose identification
    changed since the last sync (a ``seizure`` signal that is now a laboratory result, another
    structure) is known at ``now``: the identification is the news, not the old import.
    """
    from centinela.ledger.records import Seizure
    from centinela.registry.models import Product

    now = now or clock.utcnow()
    signals = {
        s.source_id: s for s in session.scalars(
            select(Signal).where(Signal.source_kind.in_(("seizure", "lab"))))
    }
    products = {p.product_code: p for p in session.scalars(select(Product))}
    counts = {"new": 0, "updated": 0, "unchanged": 0, "errors": 0}
    pending = []
    for sz in session.scalars(select(Seizure).order_by(Seizure.occurred_at)):
        kind = "lab" if (sz.smiles or "").strip() else "seizure"
        old = signals.get(sz.seizure_id)
        if old is not None and old.source_kind == kind and \
                (old.payload or {}).get("content_hash") == sz.content_hash:
            counts["unchanged"] += 1
            continue
        pending.append((sz, kind, old))
    imported = _import_times(session, (sz.import_id for sz, _, _ in pending))
    for sz, kind, old in pending:
        # A first signal is known when its import was; a changed one when the change is seen.
        known = now if old is not None else imported.get(sz.import_id) or now
        if old is not None and old.source_kind != kind:
            session.delete(old)
            session.flush()
        try:
            payload = seizure_payload(sz, products.get(sz.product_code or ""))
        except Exception as exc:  # noqa: BLE001 - one stored row never stops the sync
            payload = {"content_hash": sz.content_hash, "reported_as": sz.substance,
                       "resolved_name": None, "inchikey": None,
                       "structure_error": f"{type(exc).__name__}: {str(exc)[:200]}"}
        if payload.get("structure_error") and kind == "lab":
            counts["errors"] += 1
        record_signal(session, kind, sz.seizure_id, sz.occurred_at, ubigeo=sz.ubigeo,
                      substance=payload["resolved_name"], inchikey=payload["inchikey"],
                      payload=payload, recorded_at=known)
        counts["updated" if old is not None else "new"] += 1
    return counts
