"""Every figure of the quarterly report, computed from what is stored (no clock inside).

``quarter_figures(session, "2026Q3", as_of)`` returns one JSON-ready dict; the HTML, the PDF and
the ``.json`` file are all rendered from it, so the same database and quarter give the same
report. Quarters are Lima calendar quarters (UTC−5); stored times are naive UTC.
"""

from __future__ import annotations

import datetime as dt
import re
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from centinela.alerts.models import OUTCOMES, Alert, Authority, CaseEvent
from centinela.certification.progress import department_status, national, standings
from centinela.certification.rule import HANDLING_ROLES
from centinela.config import get_settings
from centinela.ews.models import Bulletin, Signal
from centinela.ledger.records import ImportRun, Movement, Rejection, Seizure
from centinela.lib import clock
from centinela.online.models import OnlineLead
from centinela.public.models import CitizenReport
from centinela.quarterly.institutions import LABELS, TYPES, institution_type
from centinela.reference.ubigeo import department_population, departments, districts
from centinela.registry.models import Establishment, Product

CONSUMPTION = ("dispense", "administer")
LATE_DAYS = 7  # a movement received more than this after it occurred is "late"
COUNT_LOOKBACK = dt.timedelta(days=62)  # running book for count checks starts this far back
_Q = re.compile(r"^(\d{4})Q([1-4])$")


class QuarterError(ValueError):
    """The quarter is not written YYYYQn."""


@dataclass(frozen=True)
class Quarter:
    year: int
    q: int

    @classmethod
    def parse(cls, text: str) -> Quarter:
        m = _Q.match((text or "").strip().upper())
        if not m:
            raise QuarterError(f"trimestre no válido / not a quarter (YYYYQn): {text!r}")
        year = int(m.group(1))
        if not 1990 <= year <= 2200:  # the report compares with a year before and after
            raise QuarterError(f"año fuera de rango / year out of range (1990-2200): {year}")
        return cls(year, int(m.group(2)))

    @property
    def label(self) -> str:
        return f"{self.year}Q{self.q}"

    @property
    def first_day(self) -> dt.date:
        return dt.date(self.year, 3 * self.q - 2, 1)

    @property
    def last_day(self) -> dt.date:
        nxt = self.shift(1).first_day
        return nxt - dt.timedelta(days=1)

    def shift(self, n: int) -> Quarter:
        i = self.year * 4 + (self.q - 1) + n
        return Quarter(i // 4, i % 4 + 1)

    def utc_bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """Return [start, end) in naive UTC of the Lima calendar quarter."""
        start = clock.lima_midnight(self.first_day)
        end = clock.lima_midnight(self.shift(1).first_day)
        return start, end

    def months(self) -> list[str]:
        return [f"{self.year}-{m:02d}" for m in range(3 * self.q - 2, 3 * self.q + 1)]


def _r(x: float | None, n: int = 3) -> float | None:
    return None if x is None else round(float(x), n)


def _pct(new: float, old: float) -> float | None:
    return None if not old else round(100.0 * (new - old) / old, 1)


def _per100k(mg: float, pop: int) -> float | None:
    return round(mg * 100_000 / pop, 4) if pop else None


class _Registry:
    """Establishments and products, loaded once."""

    def __init__(self, session: Session) -> None:
        self.est = {e.establishment_id: e for e in session.scalars(select(Establishment))}
        self.prod = {p.product_code: p for p in session.scalars(select(Product))}
        self.itype = {eid: institution_type(e.name, e.sector, e.ubigeo) for eid, e in self.est.items()}

    def substance(self, code: str) -> str:
        p = self.prod.get(code)
        return p.substance.strip().lower() if p else "desconocido"

    def mg(self, code: str, qty: float) -> float:
        p = self.prod.get(code)
        return float(qty) * float(p.strength_mg_per_unit or 0.0) if p else 0.0


def _sums(session: Session, types: tuple[str, ...], start: dt.datetime, end: dt.datetime):
    """Yield (establishment, product, quantity) summed over movements of ``types`` in [start, end)."""
    q = (select(Movement.establishment_id, Movement.product_code, func.sum(Movement.quantity))
         .where(Movement.event_type.in_(types), Movement.occurred_at >= start,
                Movement.occurred_at < end)
         .group_by(Movement.establishment_id, Movement.product_code))
    yield from session.execute(q)


def _consumption_period(session: Session, reg: _Registry, quarter: Quarter) -> dict:
    """Return mg by (department, substance), (institution type, substance), (sector, substance),
    (district, substance) for one quarter."""
    start, end = quarter.utc_bounds()
    out = {"dep": defaultdict(float), "inst": defaultdict(float), "sector": defaultdict(float),
           "district": defaultdict(float), "sub": defaultdict(float), "establishments": set()}
    for eid, code, qty in _sums(session, CONSUMPTION, start, end):
        mg = reg.mg(code, qty or 0.0)
        sub = reg.substance(code)
        e = reg.est.get(eid)
        dep = e.department if e else "--"
        out["dep"][(dep, sub)] += mg
        out["inst"][(reg.itype.get(eid, "unregistered"), sub)] += mg
        out["sector"][((e.sector if e else "desconocido"), sub)] += mg
        if e:
            out["district"][(e.ubigeo, sub)] += mg
        out["sub"][sub] += mg
        out["establishments"].add(eid)
    return out


def _split(d: dict, key) -> tuple[float, float]:
    """Return (fentanyl mg, other opioids mg) for ``key`` in a (key, substance) → mg dict."""
    fent = sum(v for (k, s), v in d.items() if k == key and s == "fentanyl")
    other = sum(v for (k, s), v in d.items() if k == key and s != "fentanyl")
    return fent, other


def consumption(session: Session, quarter: Quarter, reg: _Registry) -> dict:
    """National, departmental, institutional and sector consumption against the previous quarter
    and the same quarter a year before, plus five quarters of trend and Lima/Callao districts."""
    pop = department_population()
    names = departments()
    total_pop = sum(pop.values())
    cur = _consumption_period(session, reg, quarter)
    prev = _consumption_period(session, reg, quarter.shift(-1))
    year = _consumption_period(session, reg, quarter.shift(-4))
    subs = sorted(set(cur["sub"]) | set(prev["sub"]) | set(year["sub"]),
                  key=lambda s: (s != "fentanyl", s))
    by_substance = []
    for s in subs:
        mg, p, y = cur["sub"].get(s, 0.0), prev["sub"].get(s, 0.0), year["sub"].get(s, 0.0)
        by_substance.append({"substance": s, "mg": _r(mg), "per_100k": _per100k(mg, total_pop),
                             "previous_mg": _r(p), "change_previous_pct": _pct(mg, p),
                             "year_ago_mg": _r(y), "change_year_ago_pct": _pct(mg, y)})
    fent = cur["sub"].get("fentanyl", 0.0)
    other = sum(v for k, v in cur["sub"].items() if k != "fentanyl")
    nat = {"fentanyl_mg": _r(fent), "fentanyl_per_100k": _per100k(fent, total_pop),
           "other_opioids_mg": _r(other), "other_opioids_per_100k": _per100k(other, total_pop),
           "population": total_pop}
    for tag, per in (("previous", prev), ("year_ago", year)):
        f = per["sub"].get("fentanyl", 0.0)
        o = sum(v for k, v in per["sub"].items() if k != "fentanyl")
        nat[f"{tag}_fentanyl_mg"] = _r(f)
        nat[f"{tag}_other_opioids_mg"] = _r(o)
        nat[f"change_{tag}_fentanyl_pct"] = _pct(fent, f)
        nat[f"change_{tag}_other_opioids_pct"] = _pct(other, o)
    deps = []
    for code in sorted(names):
        f, o = _split(cur["dep"], code)
        pf, po = _split(prev["dep"], code)
        yf, yo = _split(year["dep"], code)
        deps.append({
            "department": code, "name": names[code], "population": pop.get(code, 0),
            "fentanyl_mg": _r(f), "fentanyl_per_100k": _per100k(f, pop.get(code, 0)),
            "other_opioids_mg": _r(o), "other_opioids_per_100k": _per100k(o, pop.get(code, 0)),
            "previous_fentanyl_mg": _r(pf), "change_previous_fentanyl_pct": _pct(f, pf),
            "year_ago_fentanyl_mg": _r(yf), "change_year_ago_fentanyl_pct": _pct(f, yf),
            "previous_other_opioids_mg": _r(po), "year_ago_other_opioids_mg": _r(yo),
        })
    unknown = _split(cur["dep"], "--")
    inst = []
    for t in TYPES:
        f, o = _split(cur["inst"], t)
        pf, _ = _split(prev["inst"], t)
        yf, _ = _split(year["inst"], t)
        inst.append({"institution": t, "label": LABELS[t], "fentanyl_mg": _r(f),
                     "other_opioids_mg": _r(o), "previous_fentanyl_mg": _r(pf),
                     "change_previous_fentanyl_pct": _pct(f, pf), "year_ago_fentanyl_mg": _r(yf),
                     "change_year_ago_fentanyl_pct": _pct(f, yf),
                     "establishments": sum(1 for e in cur["establishments"]
                                           if reg.itype.get(e, "unregistered") == t)})
    sectors = []
    for sec in ("public", "private", "desconocido"):
        f, o = _split(cur["sector"], sec)
        pf, _ = _split(prev["sector"], sec)
        yf, _ = _split(year["sector"], sec)
        if sec == "desconocido" and not (f or o):
            continue
        sectors.append({"sector": sec, "fentanyl_mg": _r(f), "other_opioids_mg": _r(o),
                        "previous_fentanyl_mg": _r(pf), "change_previous_fentanyl_pct": _pct(f, pf),
                        "year_ago_fentanyl_mg": _r(yf), "change_year_ago_fentanyl_pct": _pct(f, yf)})
    trend = []
    for k in range(-4, 1):
        qq = quarter.shift(k)
        per = cur if k == 0 else prev if k == -1 else year if k == -4 else \
            _consumption_period(session, reg, qq)
        f = per["sub"].get("fentanyl", 0.0)
        o = sum(v for s, v in per["sub"].items() if s != "fentanyl")
        has = bool(per["establishments"])  # a quarter with no consumption record: no data
        trend.append({"quarter": qq.label, "fentanyl_mg": _r(f) if has else None,
                      "other_opioids_mg": _r(o) if has else None,
                      "fentanyl_per_100k": _per100k(f, total_pop) if has else None})
    dist = districts()
    lima = []
    for ubi in sorted(u for u in dist if u.startswith(("1501", "0701"))):
        f, _o = _split(cur["district"], ubi)
        lima.append({"ubigeo": ubi, "name": dist[ubi].district, "population": dist[ubi].population,
                     "fentanyl_mg": _r(f), "fentanyl_per_100k": _per100k(f, dist[ubi].population)})
    # A comparison quarter without any consumption record is "no data", not zero.
    has = {"previous": bool(prev["establishments"]), "year_ago": bool(year["establishments"])}
    for rows in ([nat], by_substance, deps, inst, sectors):
        for r in rows:
            for k in list(r):
                if any(not ok and k.startswith(tag + "_") for tag, ok in has.items()):
                    r[k] = None
    return {"comparison_data": has, "national": nat, "by_substance": by_substance,
            "by_department": deps,
            "unknown_department_mg": {"fentanyl_mg": _r(unknown[0]), "other_opioids_mg": _r(unknown[1])},
            "by_institution": inst, "by_sector": sectors, "trend": trend,
            "lima_callao_districts": lima}


def supply(session: Session, quarter: Quarter, reg: _Registry) -> dict:
    """Imports, distribution, receipts, exports, losses (and thefts) and waste of the quarter."""
    start, end = quarter.utc_bounds()
    kinds = ("import", "transfer_out", "receipt", "transfer_in", "export", "loss", "waste")
    out: dict = {}
    for kind in kinds:
        q = (select(Movement.establishment_id, Movement.product_code, func.count(),
                    func.sum(Movement.quantity))
             .where(Movement.event_type == kind, Movement.occurred_at >= start,
                    Movement.occurred_at < end)
             .group_by(Movement.establishment_id, Movement.product_code))
        by_sub: dict[str, float] = defaultdict(float)
        by_dep: dict[str, float] = defaultdict(float)
        n, reporters = 0, set()
        for eid, code, cnt, qty in session.execute(q):
            mg = reg.mg(code, qty or 0.0)
            by_sub[reg.substance(code)] += mg
            e = reg.est.get(eid)
            by_dep[e.department if e else "--"] += mg
            n += cnt
            reporters.add(eid)
        out[kind] = {"movements": n, "establishments": len(reporters),
                     "mg": _r(sum(by_sub.values())),
                     "fentanyl_mg": _r(by_sub.get("fentanyl", 0.0)),
                     "by_substance": {k: _r(v) for k, v in sorted(by_sub.items())},
                     "by_department": {k: _r(v) for k, v in sorted(by_dep.items())}}
    return out


def seizures(session: Session, quarter: Quarter, reg: _Registry) -> dict:
    """Seizures of the quarter: counts, masses by substance, agency, department and Law 32250 tier."""
    from centinela.ews.intake import seizure_payload

    start, end = quarter.utc_bounds()
    stored = {s.source_id: s.payload or {} for s in session.scalars(
        select(Signal).where(Signal.source_kind.in_(("seizure", "lab")),
                             Signal.occurred_at >= start, Signal.occurred_at < end))}
    by_sub: dict[str, list] = defaultdict(lambda: [0, 0.0])
    agency, dep, tiers, ctx = Counter(), Counter(), Counter(), Counter()
    n, fent_mg = 0, 0.0
    for sz in session.scalars(select(Seizure).where(Seizure.occurred_at >= start,
                                                    Seizure.occurred_at < end)
                              .order_by(Seizure.seizure_id)):
        n += 1
        pay = stored.get(sz.seizure_id)
        if pay is None or pay.get("content_hash") != sz.content_hash:
            pay = seizure_payload(sz, reg.prod.get(sz.product_code or ""))
        name = (pay.get("resolved_name") or sz.substance or "sin identificar").strip().lower()
        t = pay.get("tier") or {}
        mass = t.get("mass_mg")
        if mass is None:
            mass = sz.net_mass_mg if sz.net_mass_mg is not None else (
                reg.mg(sz.product_code, sz.units) if sz.product_code and sz.units else None)
        by_sub[name][0] += 1
        by_sub[name][1] += float(mass or 0.0)
        agency[sz.agency] += 1
        dep[sz.ubigeo[:2]] += 1
        ctx[sz.context or "sin dato"] += 1
        if pay.get("fentanyl_class") and t.get("tier"):
            tiers[t["tier"]] += 1
            fent_mg += float(mass or 0.0)
        else:
            tiers["not_applicable" if pay.get("fentanyl_class") is False else "unknown"] += 1
    return {"count": n, "fentanyl_class_mg": _r(fent_mg),
            "by_substance": [{"substance": k, "count": v[0], "mass_mg": _r(v[1])}
                             for k, v in sorted(by_sub.items(), key=lambda kv: (-kv[1][0], kv[0]))],
            "by_tier": dict(sorted(tiers.items())), "by_agency": dict(sorted(agency.items())),
            "by_department": dict(sorted(dep.items())), "by_context": dict(sorted(ctx.items()))}


def early_warning(session: Session, quarter: Quarter) -> dict:
    """Early-warning signals by source and the bulletins issued in the quarter."""
    start, end = quarter.utc_bounds()
    sig = Counter(dict(session.execute(
        select(Signal.source_kind, func.count()).where(Signal.occurred_at >= start,
                                                       Signal.occurred_at < end)
        .group_by(Signal.source_kind)).all()))
    subs = Counter(dict(session.execute(
        select(Signal.substance, func.count()).where(Signal.occurred_at >= start,
                                                     Signal.occurred_at < end,
                                                     Signal.substance.is_not(None))
        .group_by(Signal.substance)).all()))
    bulls = [{"number": b.number, "title": b.title, "severity": b.severity,
              "issued_on": clock.lima_day(b.issued_at).isoformat(), "substance": b.substance,
              "departments": list(b.departments or [])}
             for b in session.scalars(select(Bulletin).where(Bulletin.issued_at >= start,
                                                             Bulletin.issued_at < end)
                                      .order_by(Bulletin.issued_at, Bulletin.number))]
    return {"signals": sum(sig.values()), "signals_by_source": dict(sorted(sig.items())),
            "top_substances": [{"substance": k, "signals": v}
                               for k, v in sorted(subs.items(), key=lambda kv: (-kv[1], kv[0]))[:10]],
            "bulletins": bulls}


def _case_state(alert: Alert, events: list[CaseEvent], as_of: dt.datetime) -> tuple[str, dt.datetime | None]:
    """Return (outcome or 'open', first triage time) as known at ``as_of``."""
    state, first = "open", None
    for ev in events:
        if ev.at > as_of:
            break
        if first is None and ev.from_status == "new" and ev.to_status and ev.to_status != "new":
            first = ev.at
        if ev.to_status == "closed" and ev.outcome in OUTCOMES:
            state = ev.outcome
        elif ev.to_status and ev.to_status != "closed":
            state = "open"
    if not events and alert.status == "closed" and alert.outcome in OUTCOMES:
        state = alert.outcome  # closed outside the case workflow (no event kept)
    return state, first


def alerts(session: Session, quarter: Quarter, as_of: dt.datetime) -> dict:
    """Alerts whose evidence ends in the quarter: by detector and authority, case outcomes at
    ``as_of``, hours to triage, and each detector's precision from its closed cases."""
    from centinela.alerts.authorities import default_authorities
    from centinela.quarterly.words import web

    headline = web().headline

    start, end = quarter.utc_bounds()
    rows = list(session.scalars(select(Alert).where(Alert.window_end >= start, Alert.window_end < end,
                                                    Alert.created_at <= as_of)
                                .order_by(Alert.alert_id)))
    ids = [a.alert_id for a in rows]
    evs: dict[str, list[CaseEvent]] = defaultdict(list)
    for i in range(0, len(ids), 500):
        for ev in session.scalars(select(CaseEvent).where(CaseEvent.alert_id.in_(ids[i:i + 500]))
                                  .order_by(CaseEvent.at, CaseEvent.id)):
            evs[ev.alert_id].append(ev)
    det: dict[str, Counter] = defaultdict(Counter)
    auth: Counter = Counter()
    outcomes: Counter = Counter()
    sev: Counter = Counter()
    hours = []
    outliers = []
    for a in rows:
        state, first = _case_state(a, evs.get(a.alert_id, []), as_of)
        det[a.detector]["raised"] += 1
        det[a.detector][state] += 1
        outcomes[state] += 1
        sev[a.severity] += 1
        for aid in a.routed_to or []:
            auth[aid] += 1
        if first is not None:
            hours.append((first - a.created_at).total_seconds() / 3600.0)
        if a.detector == "regional_outlier":
            outliers.append({"alert_id": a.alert_id, "department": a.department,
                             "subject": (a.evidence or {}).get("area_code") or a.subject_id,
                             "severity": a.severity,
                             "score": _r(a.score, 2), "summary": a.summary,
                             # the stored summary was written at detection time ("4.9 veces");
                             # the headline is the app's, in es-PE formats
                             "headline": headline(a, "es") if a.evidence else a.summary,
                             "state": state})
    by_det = []
    for name in sorted(det):
        c = det[name]
        closed = c["confirmed"] + c["justified"] + c["false_positive"]
        by_det.append({"detector": name, "raised": c["raised"], "confirmed": c["confirmed"],
                       "justified": c["justified"], "false_positive": c["false_positive"],
                       "open": c["open"], "closed": closed,
                       "precision": _r(c["confirmed"] / closed, 3) if closed else None})
    closed = outcomes["confirmed"] + outcomes["justified"] + outcomes["false_positive"]
    hours.sort()
    # Names as registered, else as seeded: the same figures whether or not the registry has
    # been seeded yet (the first delivery seeds it).
    names = {a.authority_id: a.name for a in default_authorities()}
    names.update(session.execute(select(Authority.authority_id, Authority.name)
                                 .where(Authority.authority_id.in_(list(auth)))).all())
    return {
        "raised": len(rows), "by_severity": dict(sorted(sev.items())), "by_detector": by_det,
        "by_authority": [{"authority_id": k, "name": names.get(k), "alerts": v}
                         for k, v in sorted(auth.items(), key=lambda kv: (-kv[1], kv[0]))],
        "outcomes": {k: outcomes[k] for k in ("confirmed", "justified", "false_positive", "open")},
        "precision_closed": _r(outcomes["confirmed"] / closed, 3) if closed else None,
        "triage_hours": {"n": len(hours),
                         "median": _r(statistics.median(hours), 1) if hours else None,
                         "p90": _r(hours[min(len(hours) - 1, int(0.9 * len(hours)))], 1) if hours else None},
        "regional_outliers": outliers,
    }


def online_and_citizens(session: Session, quarter: Quarter) -> dict:
    """Online leads first seen and citizen reports received in the quarter (no identifying data)."""
    start, end = quarter.utc_bounds()
    leads = list(session.execute(select(OnlineLead.department, OnlineLead.status)
                                 .where(OnlineLead.first_seen >= start, OnlineLead.first_seen < end)))
    reps = list(session.execute(select(CitizenReport.department, CitizenReport.kind,
                                       CitizenReport.status, CitizenReport.alert_id)
                                .where(CitizenReport.created_at >= start,
                                       CitizenReport.created_at < end)))
    return {
        "online_leads": {"count": len(leads),
                         "by_department": dict(sorted(Counter(d or "--" for d, _ in leads).items())),
                         "by_status": dict(sorted(Counter(s for _, s in leads).items()))},
        "citizen_reports": {"count": len(reps),
                            "by_department": dict(sorted(Counter(d for d, *_ in reps).items())),
                            "by_kind": dict(sorted(Counter(k for _, k, _, _ in reps).items())),
                            "by_status": dict(sorted(Counter(s for _, _, s, _ in reps).items())),
                            "with_alert": sum(1 for *_, a in reps if a)},
    }


def certification(session: Session, day: dt.date) -> dict:
    """Certification progress on ``day`` by department and by profession (national and regional)."""
    rows = standings(session, day)
    deps = department_status(session, day, rows=rows)
    prof: dict[str, Counter] = defaultdict(Counter)
    for person, st in rows:
        c = prof[person.role]
        c["total"] += 1
        c["certified"] += st.state in ("valid", "expiring")
        c["expiring_60d"] += st.state == "expiring"
        c["expired"] += st.state == "expired"
        c["missing"] += st.state == "missing"
    s = get_settings()
    return {"as_of": day.isoformat(), "deadline": s.certification_deadline.isoformat(),
            "valid_days": s.certification_valid_days,
            "reminder_days": s.certification_reminder_days, "by_department": deps,
            "national": national(deps) if deps else None,
            "by_profession": [{"role": r, "required": r in HANDLING_ROLES, **dict(sorted(prof[r].items())),
                               "percent": round(100.0 * prof[r]["certified"] / prof[r]["total"], 1)
                               if prof[r]["total"] else None}
                              for r in sorted(prof)]}


def data_quality(session: Session, quarter: Quarter, reg: _Registry, as_of: dt.datetime) -> dict:
    """Late and silent reporters, rejected rows and count reconciliation gaps of the quarter."""
    start, end = quarter.utc_bounds()
    in_q = (Movement.occurred_at >= start, Movement.occurred_at < end)
    per_est = dict(session.execute(select(Movement.establishment_id, func.count())
                                   .where(*in_q).group_by(Movement.establishment_id)).all())
    late: Counter = Counter()
    run_ids = list(session.scalars(select(Movement.import_id).distinct().where(*in_q)))
    started = dict(session.execute(select(ImportRun.id, ImportRun.started_at)
                                   .where(ImportRun.id.in_([r for r in run_ids if r is not None]))).all())
    for rid in run_ids:
        if rid not in started:
            continue
        limit = started[rid] - dt.timedelta(days=LATE_DAYS)
        late.update(dict(session.execute(
            select(Movement.establishment_id, func.count())
            .where(*in_q, Movement.import_id == rid, Movement.occurred_at < limit)
            .group_by(Movement.establishment_id)).all()))
    total_mv, late_mv = sum(per_est.values()), sum(late.values())
    reporting = set(per_est)
    late_est = [(e, late[e], per_est[e]) for e in late if late[e] / per_est[e] > 0.5]
    pstart, pend = quarter.shift(-1).utc_bounds()
    before = set(session.scalars(select(Movement.establishment_id).distinct()
                                 .where(Movement.occurred_at >= pstart, Movement.occurred_at < pend)))
    silent = sorted(before - reporting)
    rej = Counter()
    reasons = Counter()
    # Records, not rows: a bad file sent again stores its rejections again (each import keeps
    # its own report), so a record rejected twice for the same reason counts once. Rows with
    # no record key (an unreadable line) cannot be told apart and count each.
    same = func.count(func.distinct(
        Rejection.record_key + "|" + func.coalesce(Rejection.field, "") + "|" + Rejection.reason))
    unkeyed = func.sum(case((Rejection.record_key.is_(None), 1), else_=0))
    for rtype, field, kind, keyed, loose in session.execute(
            select(Rejection.record_type, Rejection.field, Rejection.kind, same, unkeyed)
            .where(Rejection.created_at >= start, Rejection.created_at <= as_of)
            .group_by(Rejection.record_type, Rejection.field, Rejection.kind)):
        n = int(keyed or 0) + int(loose or 0)
        rej[rtype] += n
        reasons[f"{rtype}.{field or '-'} ({kind})"] += n
    runs = session.execute(select(func.count(), func.coalesce(func.sum(ImportRun.accepted), 0),
                                  func.coalesce(func.sum(ImportRun.rejected), 0))
                           .where(ImportRun.started_at >= start, ImportRun.started_at <= as_of)).one()
    checks = _count_checks(session, start, end - dt.timedelta(microseconds=1))
    gaps = [c for c in checks if abs(c.discrepancy_units) > 1e-9]
    gap_dep = Counter()
    for c in gaps:
        e = reg.est.get(c.establishment_id)
        gap_dep[e.department if e else "--"] += 1
    unknown_est = session.scalar(select(func.count(func.distinct(Movement.establishment_id)))
                                 .where(Movement.occurred_at >= start, Movement.occurred_at < end,
                                        ~Movement.establishment_id.in_(select(Establishment.establishment_id))))
    return {
        "movements": total_mv, "reporting_establishments": len(reporting),
        "late_days": LATE_DAYS, "late_movements": late_mv,
        "late_share": _r(late_mv / total_mv, 3) if total_mv else None,
        "late_reporters": [{"establishment_id": e, "late": lt, "movements": n}
                           for e, lt, n in sorted(late_est, key=lambda x: (-x[1], x[0]))[:15]],
        "late_reporters_count": len(late_est),
        "silent_reporters_count": len(silent), "silent_reporters": silent[:15],
        "unregistered_reporters": int(unknown_est or 0),
        "imports": {"runs": runs[0], "accepted": int(runs[1]), "rejected": int(runs[2])},
        "rejections": dict(sorted(rej.items())),
        "top_rejection_reasons": [{"where": k, "count": v}
                                  for k, v in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:10]],
        "counts_checked": len(checks), "count_gaps": len(gaps),
        "count_gap_mg": _r(sum(c.discrepancy_mg for c in gaps)),
        "count_gaps_by_department": dict(sorted(gap_dep.items())),
    }


def _count_checks(session: Session, start: dt.datetime, until: dt.datetime) -> list:
    """Return the ledger's count checks of ``[start, until]``: a running book over the last
    ``COUNT_LOOKBACK`` only, and the full history for the pairs whose first count of the quarter
    has no earlier count in that window (same results as ``reconcile_counts`` over everything)."""
    from centinela.ledger.stock import reconcile_counts

    checks = reconcile_counts(session, since=start, until=until,
                              window_from=start - COUNT_LOOKBACK)
    redo = sorted({(c.establishment_id, c.product_code) for c in checks
                   if c.previous_count_at is None})
    if not redo:
        return checks
    redo_set = set(redo)
    out = [c for c in checks if (c.establishment_id, c.product_code) not in redo_set]
    for eid, code in redo:  # each one reads a single (establishment, product) by its index
        out.extend(reconcile_counts(session, establishment_id=eid, product_code=code,
                                    since=start, until=until))
    out.sort(key=lambda c: (c.establishment_id, c.product_code, c.counted_at, c.lot or ""))
    return out


def data_cutoff(session: Session, quarter: Quarter) -> dt.datetime:
    """Return the default ``as_of``, a function of the database only: the last thing stored
    (import, alert change, case event) — never a date the data have not reached, so a quarter
    still running reads "data until" its last record — else the end of the quarter."""
    _, end = quarter.utc_bounds()
    last = [t for t in (session.scalar(select(func.max(ImportRun.started_at))),
                        session.scalar(select(func.max(Alert.updated_at))),
                        session.scalar(select(func.max(CaseEvent.at)))) if t is not None]
    if not last:
        return end
    # Whole seconds, rounded up: cutting 06:41:29.326 to 06:41:29 left out the alerts written
    # in that last second (the demo's detection run wrote them all then).
    top: dt.datetime = max(last)
    return top.replace(microsecond=0) + dt.timedelta(seconds=1) if top.microsecond else top


def quarter_figures(session: Session, quarter: str | Quarter, as_of: dt.datetime | None = None) -> dict:
    """Return every figure of the report for ``quarter`` with data known at ``as_of`` (naive UTC;
    default ``data_cutoff``: the same database and quarter always give the same figures)."""
    q = quarter if isinstance(quarter, Quarter) else Quarter.parse(quarter)
    as_of = as_of or data_cutoff(session, q)
    reg = _Registry(session)
    cert_day = min(q.last_day, clock.lima_day(as_of))
    return {
        "quarter": q.label, "period": {"first_day": q.first_day.isoformat(),
                                       "last_day": q.last_day.isoformat()},
        "as_of": as_of.isoformat(timespec="seconds"),
        "previous_quarter": q.shift(-1).label, "year_ago_quarter": q.shift(-4).label,
        "consumption": consumption(session, q, reg),
        "supply": supply(session, q, reg),
        "seizures": seizures(session, q, reg),
        "early_warning": early_warning(session, q),
        "alerts": alerts(session, q, as_of),
        "online_and_citizens": online_and_citizens(session, q),
        "certification": certification(session, cert_day),
        "data_quality": data_quality(session, q, reg, as_of),
    }


__all__ = ["Quarter", "QuarterError", "data_cutoff", "quarter_figures"]
