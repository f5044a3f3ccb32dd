"""EWS signal detection over stored signals: the rules, each returning alert drafts.

``centinela.ews.detectors`` wraps each rule as a registered ``Detector`` (``centinela detect``,
the scheduled job and ``centinela ews detect`` run them through the one detection engine).

Detectors (all take ``now``): first appearance of a substance nationally and per department,
aberrations of daily series per department × substance (EARS C1–C3, EWMA, CUSUM), space-time
permutation-scan clusters of overdoses and of seizures, seizures of registry medicines (lot or
serial), and reported names that disagree with the identified structure.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from centinela.alerts.service import AlertDraft, severity_for
from centinela.ews import stats
from centinela.ews.models import Signal
from centinela.ews.registry import registry
from centinela.ews.scan import ScanParams, scan
from centinela.ews.signals import RECORDED_AT, recorded_at
from centinela.lib.clock import lima_day, lima_days
from centinela.reference import ubigeo as ubigeo_ref

CATEGORY_SCORE = {
    "nitazene": 80, "fentanyl_related": 75, "listed_fentanyl_analogue": 70, "u_series": 70,
    "brorphine_like": 70, "fentanyl_scaffold_outside_class": 65, "fentanyl": 55, "precursor": 50,
    "other_opioid": 35, "non_opioid": 20,
    # an unlisted name whose family the name itself says (no structure yet): scored as an
    # unregistered member of that family would be, before a laboratory confirms it
    "reported_nitazene_family": 75, "reported_fentanyl_family": 65,
}
REPORTED_FAMILY = {"fentanyl": "reported_fentanyl_family", "nitazene": "reported_nitazene_family"}
# Highest score of an unusual rise made only of unconfirmed signals (medium): three citizen tips
# on a day with no history is "check this", not a critical alert.
UNCONFIRMED_RISE_CAP = 55.0
VERY_POTENT = {"carfentanil", "lofentanil", "ohmefentanyl", "etonitazepyne", "etonitazene"}
# Non-opioids whose first appearance is still news for an opioid early warning: adulterants
# of the opioid supply. Cocaine, methamphetamine or caffeine appearing in a department is not.
ADULTERANTS_OF_CONCERN = {"xylazine", "medetomidine"}
SEIZURE_KINDS = ("seizure", "lab")
# A signal's source in the Spanish summaries (sent to the authorities as written).
SOURCE_ES = {"seizure": "incautación", "lab": "laboratorio forense",
             "overdose": "intoxicación o sobredosis", "online": "publicación en línea",
             "citizen": "denuncia ciudadana", "detection": "detección"}
SUBJECT_ES = {"lot": "lote", "serial": "serie", "region": "departamento"}


@dataclass
class DetectConfig:
    """Windows and thresholds of the EWS detectors."""

    lookback_days: int = 30  # first appearances and registry-product seizures
    history_days: int = 120  # length of the daily series
    recent_days: int = 7  # an aberration must fall in the last days to raise an alert
    min_methods: int = 2  # methods that must agree on a day (see stats.alert_days)
    require_smoothed: bool = True  # one of them EWMA or CUSUM
    params: stats.Params = field(default_factory=stats.Params)
    scan: ScanParams = field(default_factory=ScanParams)
    scan_study_days: int = 90
    # Late results (a laboratory identification weeks after its seizure): a record known this
    # many days or more after it happened is said to be late in its alert ...
    late_after_days: int = 7
    # ... and one that became known within ``lookback_days`` raises its first-appearance,
    # mismatch or registry-product alert even when it happened earlier, unless it became known
    # more than this many days after it happened (a backfill of history: counted, not news).
    late_max_days: int = 180


def substance_key(sig: Signal) -> str | None:
    """Key a signal by InChIKey, else by the registry entry its reported name names, else by
    the name itself; None when unidentified. A tip of "fentanilo" and a laboratory
    identification of fentanyl share one key."""
    if sig.inchikey:
        return sig.inchikey
    name = (sig.substance or "").strip().lower()
    if name and name not in ("unknown", "desconocido", "desconocida"):
        hit = registry().lookup_name(name)
        return hit.inchikey if hit is not None else "name:" + name
    return None


def confirmed(sig: Signal) -> bool:
    """True for an identification by structure or InChIKey (laboratory, toxicology).

    Reported names (field tests, police reports), suspected substances, citizen tips and online
    posts are lower-confidence: they never raise a first appearance on their own.
    """
    p = sig.payload or {}
    how = p.get("identified_by")
    if how in ("structure", "inchikey"):
        return bool(sig.inchikey)
    if how == "name":
        return sig.source_kind == "overdose" and bool(p.get("confirmed")) and bool(sig.inchikey)
    if sig.source_kind in ("citizen", "online"):
        return False
    if sig.source_kind == "overdose":
        return bool(p.get("confirmed")) and bool(sig.inchikey)
    return bool(sig.inchikey)


def _watched(sig: Signal) -> bool:
    """True when a first appearance of the signal's substance is news for the early warning:
    an opioid, a precursor, an unknown or unlisted substance, or an adulterant of concern."""
    if _category(sig) != "non_opioid":
        return True
    hit = registry().by_inchikey(sig.inchikey) if sig.inchikey else registry().lookup_name(
        sig.substance or "")
    return hit is not None and hit.id in ADULTERANTS_OF_CONCERN


def _category(sig: Signal) -> str | None:
    p = sig.payload or {}
    cat = p.get("category")
    if cat:
        return cat
    if p.get("family_hint") and not sig.inchikey:  # "orto-metilfentanilo", no structure
        return REPORTED_FAMILY.get(p["family_hint"])
    hit = registry().by_inchikey(sig.inchikey) if sig.inchikey else None
    return hit.category if hit else None


def _label(sig: Signal, lang: str = "es") -> str:
    """Name a signal's substance in the page's language: the registry name, else the structure's
    class and formula (a new analogue is never named after the reported text)."""
    hit = registry().by_inchikey(sig.inchikey) if sig.inchikey else None
    if hit is None and sig.substance:
        hit = registry().lookup_name(sig.substance)
    if hit is not None:
        return hit.display_name(lang)
    p = sig.payload or {}
    if sig.inchikey:
        from centinela.ews.classify import CLASS_LABELS

        es, en = CLASS_LABELS.get(p.get("category") or "", ("sustancia no registrada",
                                                             "unregistered substance"))
        what = es if lang == "es" else en
        formula = f" {p['formula']}" if p.get("formula") else ""
        return f"{what[0].lower()}{what[1:]}{formula} (InChIKey {sig.inchikey[:14]})"
    if sig.substance:
        return (f"«{sig.substance}» (nombre reportado, sin confirmar)" if lang == "es"
                else f"'{sig.substance}' (reported name, unconfirmed)")
    return "sustancia no identificada" if lang == "es" else "unidentified substance"


def _dept_name(code: str | None) -> str:
    return ubigeo_ref.departments().get(code or "", code or "?")


def _score(category: str | None, substance: str | None, base_bonus: float = 0.0) -> float:
    score = CATEGORY_SCORE.get(category or "", 30) + base_bonus
    if (substance or "").lower() in VERY_POTENT:
        score = max(score, 90)
    return float(min(100.0, max(0.0, score)))


def load_signals(session: Session, since: dt.datetime, until: dt.datetime,
                 late: DetectConfig | None = None) -> list[Signal]:
    """Return every signal that occurred in [since, until], oldest first; with ``late``, also
    those that occurred earlier but became known in [since, until] (late results, see
    ``known_in_window``)."""
    when = (Signal.occurred_at >= since) & (Signal.occurred_at <= until)
    if late is not None:
        # the payload's ISO time compares as text (written by ``record_signal``)
        known = Signal.payload[RECORDED_AT].as_string()
        when = or_(when, (Signal.occurred_at < since)
                   & (Signal.occurred_at >= since - dt.timedelta(days=late.late_max_days))
                   & (known >= since.isoformat(timespec="seconds"))
                   & (known <= until.isoformat(timespec="seconds")))
    rows = session.scalars(select(Signal).where(when).order_by(Signal.occurred_at, Signal.id))
    if late is None:
        return list(rows)
    return [s for s in rows if s.occurred_at >= since or known_in_window(s, since, until, late)]


def known_in_window(sig: Signal, since: dt.datetime, now: dt.datetime,
                    cfg: DetectConfig) -> bool:
    """True when ``sig`` is news in the window [since, now]: it happened in it, or it became
    known in it (a late result) no more than ``cfg.late_max_days`` after it happened. A record
    known after ``now`` (a replay of the past over data imported since) is judged by when it
    happened only."""
    if since <= sig.occurred_at <= now:
        return True
    known = recorded_at(sig)
    return (known is not None and since <= known <= now and sig.occurred_at <= known
            and known - sig.occurred_at <= dt.timedelta(days=cfg.late_max_days))


def late_evidence(sig: Signal, now: dt.datetime, cfg: DetectConfig) -> dict:
    """The evidence of a late result (``late_result``, ``occurred_date``, ``recorded_date``,
    ``days_late``): ``sig`` became known at least ``cfg.late_after_days`` Lima days after it
    happened, by ``now``; empty otherwise."""
    known = recorded_at(sig)
    if known is None or known > now:
        return {}
    days = (lima_day(known) - lima_day(sig.occurred_at)).days
    if days < cfg.late_after_days:
        return {}
    return {"late_result": True, "occurred_date": lima_day(sig.occurred_at).isoformat(),
            "recorded_date": lima_day(known).isoformat(), "days_late": days}


def _late_es(late: dict) -> str:
    """The sentence a late result adds to an alert's Spanish summary (empty when not late)."""
    if not late:
        return ""
    return (f" Resultado tardío: el hecho ocurrió el {late['occurred_date']} y el registro "
            f"ingresó al sistema el {late['recorded_date']} ({late['days_late']} días después).")


def first_appearances(session: Session, now: dt.datetime, cfg: DetectConfig) -> list[AlertDraft]:
    """Alert on substances seen for the first time nationally or in a department.

    Only a confirmed identification (structure or InChIKey) raises a first appearance; a
    substance known only from reported names or tips raises a lower-confidence
    ``ews_first_reported`` signal, and nothing at all once it has been confirmed before.
    """
    firsts: dict[str, Signal] = {}
    any_first: dict[str, Signal] = {}
    dept_firsts: dict[tuple[str, str], Signal] = {}
    for sig in session.scalars(select(Signal).where(Signal.occurred_at <= now)
                               .order_by(Signal.occurred_at, Signal.id)):
        if sig.source_kind == "detection":
            continue
        try:
            key = substance_key(sig)
            is_confirmed = confirmed(sig)
        except Exception:  # noqa: BLE001 - a malformed stored row never stops detection
            continue
        if key is None or not _watched(sig):
            continue
        any_first.setdefault(key, sig)
        if not is_confirmed:
            continue
        firsts.setdefault(key, sig)
        if sig.department:
            dept_firsts.setdefault((key, sig.department), sig)
    since = now - dt.timedelta(days=cfg.lookback_days)
    drafts = []
    for key, sig in firsts.items():
        if not known_in_window(sig, since, now, cfg):
            continue
        cat = _category(sig)
        start, end = lima_days(lima_day(sig.occurred_at))
        earlier = any_first[key] if any_first[key] is not sig else None
        note = (f" Antes solo había reportes sin confirmar (desde el "
                f"{lima_day(earlier.occurred_at).isoformat()}, fuente: {_source_es(earlier)})."
                if earlier is not None else "")
        label = _label(sig)
        what = "" if _cat_es(cat) == label.lower() else f" ({_cat_es(cat)})"
        late = late_evidence(sig, now, cfg)
        drafts.append(AlertDraft(
            detector="ews_first_national", subject_kind="region",
            subject_id=sig.department or "00", severity=severity_for(_score(cat, sig.substance)),
            score=_score(cat, sig.substance), window_start=start, window_end=end,
            department=sig.department, ubigeo=sig.ubigeo, topics=["ews", cat or "unknown"],
            summary=(f"Primera identificación confirmada en el país de {label}{what} en "
                     f"{_dept_name(sig.department)} el {lima_day(sig.occurred_at).isoformat()} "
                     f"(fuente: {_source_es(sig)})." + _late_es(late) + note),
            variant=key,
            evidence={**_evidence(sig, key, cat), **late, "confirmed": True,
                      "earlier_unconfirmed": _evidence(earlier, key, _category(earlier))
                      if earlier is not None else None},
        ))
    for key, sig in any_first.items():
        if not known_in_window(sig, since, now, cfg) or \
                key in firsts and firsts[key].occurred_at <= sig.occurred_at:
            continue
        cat = _category(sig)
        start, end = lima_days(lima_day(sig.occurred_at))
        score = min(_score(cat, sig.substance, -25), 45.0)
        late = late_evidence(sig, now, cfg)
        drafts.append(AlertDraft(
            detector="ews_first_reported", subject_kind="region",
            subject_id=sig.department or "00", severity=severity_for(score), score=score,
            window_start=start, window_end=end, department=sig.department, ubigeo=sig.ubigeo,
            topics=["ews", cat or "unknown", "unconfirmed"],
            summary=(f"Primer reporte sin confirmar de {_label(sig)} en "
                     f"{_dept_name(sig.department)} el {lima_day(sig.occurred_at).isoformat()} "
                     f"(fuente: {_source_es(sig)}); requiere identificación de laboratorio."
                     + _late_es(late)),
            variant=key, evidence={**_evidence(sig, key, cat), **late, "confirmed": False},
        ))
    for (key, dept), sig in dept_firsts.items():
        if firsts[key] is sig or not known_in_window(sig, since, now, cfg):
            continue
        cat = _category(sig)
        start, end = lima_days(lima_day(sig.occurred_at))
        score = _score(cat, sig.substance, -10)
        late = late_evidence(sig, now, cfg)
        drafts.append(AlertDraft(
            detector="ews_first_department", subject_kind="region", subject_id=dept,
            severity=severity_for(score), score=score, window_start=start, window_end=end,
            department=dept, ubigeo=sig.ubigeo, topics=["ews", cat or "unknown"],
            summary=(f"Primera aparición confirmada de {_label(sig)} en {_dept_name(dept)} el "
                     f"{lima_day(sig.occurred_at).isoformat()}; ya se había detectado en "
                     f"{_dept_name(firsts[key].department)} el "
                     f"{lima_day(firsts[key].occurred_at).isoformat()}." + _late_es(late)),
            variant=key,
            evidence={**_evidence(sig, key, cat), **late,
                      "national_first": {"department": firsts[key].department,
                                         "date": lima_day(firsts[key].occurred_at).isoformat()}},
        ))
    return drafts


def _evidence(sig: Signal, key: str, cat: str | None) -> dict:
    return {"substance": sig.substance, "substance_es": _label(sig, "es"),
            "inchikey": sig.inchikey, "key": key, "category": cat,
            "source_kind": sig.source_kind, "source_id": sig.source_id, "ubigeo": sig.ubigeo,
            "date": lima_day(sig.occurred_at).isoformat()}


def _source_es(sig: Signal) -> str:
    return SOURCE_ES.get(sig.source_kind, sig.source_kind)


def _cat_es(cat: str | None) -> str:
    from centinela.ews.classify import CLASS_LABELS

    return CLASS_LABELS.get(cat or "", ("clase no determinada",))[0].lower()


def series(signals: list[Signal], start: dt.date, n_days: int) -> dict[tuple[str, str], np.ndarray]:
    """Build daily counts per (department, substance key); overdoses also as ('dept', '*od')."""
    out: dict[tuple[str, str], np.ndarray] = defaultdict(lambda: np.zeros(n_days))
    seen_events: set[tuple[str, str]] = set()
    for sig in signals:
        if not sig.department or sig.source_kind == "detection":
            continue
        t = (lima_day(sig.occurred_at) - start).days
        if not 0 <= t < n_days:
            continue
        key = substance_key(sig)
        if key is not None:
            out[(sig.department, key)][t] += 1
        if sig.source_kind == "overdose":
            event = sig.source_id.split("#", 1)[0]
            if (sig.department, event) not in seen_events:
                seen_events.add((sig.department, event))
                out[(sig.department, "*overdose")][t] += 1
    return dict(out)


def aberrations(session: Session, now: dt.datetime, cfg: DetectConfig) -> list[AlertDraft]:
    """Alert on series whose recent days are aberrant for at least one method."""
    today = lima_day(now)
    start = today - dt.timedelta(days=cfg.history_days - 1)
    sigs = load_signals(session, lima_days(start)[0], now)
    keyed = [(s, k) for s in sigs if (k := substance_key(s))]
    names = {k: (_label(s), _category(s)) for s, k in keyed}
    # The recent window's signals per series: a rise made only of unconfirmed signals (citizen
    # tips, online posts, reported names) is worth checking, not a critical alert.
    recent_from = lima_days(today - dt.timedelta(days=cfg.recent_days - 1))[0]
    recent: dict[tuple[str, str], list[Signal]] = defaultdict(list)
    for s, k in keyed:
        if s.department and s.occurred_at >= recent_from and s.source_kind != "detection":
            recent[(s.department, k)].append(s)
    drafts = []
    for (dept, key), x in series(sigs, start, cfg.history_days).items():
        res = stats.run_all(x, cfg.params)
        rule = stats.alert_days(res, cfg.min_methods, cfg.require_smoothed)
        days = [t for t in range(cfg.history_days - cfg.recent_days, cfg.history_days) if rule[t]]
        if not days:
            continue
        fired = {m: [t for t in days if res[m + "_alarm"][t]] for m in stats.METHODS}
        fired = {m: ts for m, ts in fired.items() if ts}
        first, last = start + dt.timedelta(days=days[0]), start + dt.timedelta(days=days[-1])
        substance, cat = names.get(key, (None, None))
        label = "intoxicaciones/sobredosis (todas las sustancias)" if key == "*overdose" else (
            substance or key)
        peak = max(float(res[m][t]) for m, ts in fired.items() for t in ts)
        score = min(100.0, 35 + 8 * len(fired) + 3 * min(peak, 10)
                    + (10 if cat in ("nitazene", "fentanyl_related", "listed_fentanyl_analogue",
                                     "fentanyl") else 0))
        mine = recent.get((dept, key), [])
        n_confirmed = sum(1 for s in mine if confirmed(s))
        unconfirmed = key != "*overdose" and n_confirmed == 0
        if unconfirmed:
            score = min(score, UNCONFIRMED_RISE_CAP)
        kinds: dict[str, int] = defaultdict(int)
        for s in mine:
            kinds[s.source_kind] += 1
        w0, _ = lima_days(first)
        _, w1 = lima_days(last)
        recent_counts = x[-cfg.recent_days:]
        drafts.append(AlertDraft(
            detector="ews_aberration", subject_kind="region", subject_id=dept,
            severity=severity_for(score), score=score, window_start=w0, window_end=w1,
            department=dept, topics=["ews", cat or "unknown"],
            summary=(f"Aumento inusual de {label} en {_dept_name(dept)} entre {first.isoformat()} "
                     f"y {last.isoformat()}: {int(recent_counts.sum())} casos en los últimos "
                     f"{cfg.recent_days} días frente a {stats.baseline(x, len(x) - cfg.recent_days) * cfg.recent_days:.1f} "
                     f"esperados (métodos: {', '.join(sorted(fired))})."
                     + (" Solo señales sin confirmar (denuncias, publicaciones, nombres "
                        "reportados): por verificar." if unconfirmed else "")),
            variant=key,
            evidence={"series": key, "substance": substance, "category": cat,
                      "confirmed_recent": n_confirmed, "unconfirmed_only": unconfirmed,
                      "recent_sources": dict(sorted(kinds.items())),
                      "methods": {m: [(start + dt.timedelta(days=t)).isoformat() for t in ts]
                                  for m, ts in fired.items()},
                      "statistics": {m: round(float(res[m][days[-1]]), 3) for m in stats.METHODS},
                      "last_28_days": [int(v) for v in x[-28:]],
                      "series_start": (start + dt.timedelta(days=cfg.history_days - 28)).isoformat()},
        ))
    return drafts


def clusters(session: Session, now: dt.datetime, cfg: DetectConfig) -> list[AlertDraft]:
    """Alert on significant space-time clusters of overdoses and of seizures."""
    today = lima_day(now)
    start = today - dt.timedelta(days=cfg.scan_study_days - 1)
    sigs = load_signals(session, lima_days(start)[0], now)
    drafts = []
    for label, kinds in (("overdose", ("overdose",)), ("seizure", SEIZURE_KINDS)):
        events: dict[str, Signal] = {}
        for s in sigs:
            if s.source_kind in kinds and s.ubigeo and ubigeo_ref.get(s.ubigeo):
                events.setdefault(s.source_kind + ":" + s.source_id.split("#", 1)[0], s)
        if len(events) < cfg.scan.min_cases:
            continue
        codes = sorted({s.ubigeo for s in events.values()})
        index = {c: i for i, c in enumerate(codes)}
        lat = np.array([ubigeo_ref.get(c).latitude for c in codes])
        lon = np.array([ubigeo_ref.get(c).longitude for c in codes])
        loc = np.array([index[s.ubigeo] for s in events.values()])
        day = np.array([(lima_day(s.occurred_at) - start).days for s in events.values()])
        for cl in scan(loc, day, lat, lon, cfg.scan_study_days, cfg.scan):
            centre = codes[cl.centre]
            dist = ubigeo_ref.get(centre)
            members = [codes[i] for i in cl.locations]
            first = today - dt.timedelta(days=cl.window_days - 1)
            w0, _ = lima_days(first)
            _, w1 = lima_days(today)
            score = min(100.0, 45 + 6 * min(cl.llr, 8) + (10 if cl.p_value <= 0.01 else 0))
            what = "intoxicaciones/sobredosis" if label == "overdose" else "incautaciones"
            drafts.append(AlertDraft(
                detector=f"ews_cluster_{label}", subject_kind="region",
                subject_id=centre[:2], severity=severity_for(score), score=score,
                window_start=w0, window_end=w1, department=centre[:2], ubigeo=centre,
                topics=["ews", label],
                summary=(f"Conglomerado espacio-temporal de {what} alrededor de {dist.district} "
                         f"({dist.department}): {cl.observed} casos observados frente a "
                         f"{cl.expected:.1f} esperados en {cl.window_days} días, radio "
                         f"{cl.radius_km:.0f} km (p = {cl.p_value:.3f})."),
                evidence={"centre_ubigeo": centre, "ubigeos": members,
                          "radius_km": round(cl.radius_km, 1), "window_days": cl.window_days,
                          "observed": cl.observed, "expected": round(cl.expected, 3),
                          "relative_risk": round(cl.relative_risk, 2), "llr": round(cl.llr, 3),
                          "p_value": cl.p_value, "n_sims": cfg.scan.n_sims,
                          "study_days": cfg.scan_study_days, "cases_in_study": len(events)},
            ))
    return drafts


def registry_product_seizures(session: Session, now: dt.datetime,
                              cfg: DetectConfig) -> list[AlertDraft]:
    """Alert on seized units that are registry medicines (diversion from the legal chain)."""
    since = now - dt.timedelta(days=cfg.lookback_days)
    drafts = []
    for sig in load_signals(session, since, now, late=cfg):
        p = sig.payload or {}
        if sig.source_kind not in SEIZURE_KINDS or not p.get("product_code"):
            continue
        kind, subject = ("serial", p["serial"]) if p.get("serial") else (
            ("lot", p["lot"]) if p.get("lot") else ("region", sig.department or "00"))
        start, end = lima_days(lima_day(sig.occurred_at))
        late = late_evidence(sig, now, cfg)
        drafts.append(AlertDraft(
            detector="ews_seized_registry_product", subject_kind=kind, subject_id=subject,
            severity="high", score=70.0, window_start=start, window_end=end,
            department=sig.department, ubigeo=sig.ubigeo, topics=["ews", "diversion"],
            summary=(f"Incautación {sig.source_id} de un medicamento registrado "
                     f"({p['product_code']}, {SUBJECT_ES[kind]} {subject}) en "
                     f"{_dept_name(sig.department)}: "
                     "posible desvío de la cadena legal." + _late_es(late)),
            evidence={"seizure_id": sig.source_id, "product_code": p["product_code"],
                      "lot": p.get("lot"), "serial": p.get("serial"), "units": p.get("units"),
                      "agency": p.get("agency"), "ubigeo": sig.ubigeo, **late},
        ))
    return drafts


def name_mismatches(session: Session, now: dt.datetime, cfg: DetectConfig) -> list[AlertDraft]:
    """Alert when the reported name disagrees with the structure the laboratory identified."""
    since = now - dt.timedelta(days=cfg.lookback_days)
    drafts = []
    for sig in load_signals(session, since, now, late=cfg):
        p = sig.payload or {}
        if not p.get("mismatch"):
            continue
        start, end = lima_days(lima_day(sig.occurred_at))
        late = late_evidence(sig, now, cfg)
        drafts.append(AlertDraft(
            detector="ews_name_mismatch", subject_kind="region",
            subject_id=sig.department or "00", severity="medium", score=45.0,
            window_start=start, window_end=end, department=sig.department, ubigeo=sig.ubigeo,
            topics=["ews", "identification"], variant=sig.source_id,
            summary=(f"En {sig.source_id} la sustancia se informó como "
                     f"{p.get('reported_as')!r} pero el laboratorio identificó "
                     f"{_label(sig)}." + _late_es(late)),
            evidence={"source_id": sig.source_id, "mismatch": p["mismatch"],
                      "inchikey": sig.inchikey, **late},
        ))
    return drafts
