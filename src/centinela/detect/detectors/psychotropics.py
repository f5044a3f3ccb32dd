"""Opioids with benzodiazepines: the most dangerous combination in the field.

Two detectors over dispensations of controlled medicines (``reference.substances`` classifies
them): patients whose opioid and benzodiazepine supplies overlap for weeks, and prescribers who
co-prescribe the two out of proportion to peers of their own specialty. Data without
benzodiazepines produce no alert.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import numpy as np
from scipy.stats import binom, false_discovery_control
from sqlalchemy import select
from sqlalchemy.orm import Session

from centinela.alerts.service import AlertDraft
from centinela.detect.base import Detector, fmt
from centinela.detect.context import DetectionContext
from centinela.detect.frame import to_epoch
from centinela.ledger.mme import daily_mme, days_covered, unit_mme
from centinela.ledger.records import Movement
from centinela.lib.clock import lima_day
from centinela.reference.substances import diazepam_mg, substance_class
from centinela.registry.models import Establishment, Product, Professional

LOOKBACK_DAYS = 365


def _fills(session: Session, now: dt.datetime) -> list[tuple]:
    """Opioid and benzodiazepine dispensations as tuples: (patient, prescriber, establishment,
    class, first Lima day as ordinal, days covered, daily MME, daily diazepam mg, event_id,
    occurred_at)."""
    since = now - dt.timedelta(days=LOOKBACK_DAYS)
    products = {p.product_code: p for p in session.scalars(select(Product))}
    classes = {c: substance_class(p.substance) for c, p in products.items()}
    if "benzodiazepine" not in classes.values():
        return []
    out = []
    for m in session.scalars(select(Movement).where(
            Movement.event_type == "dispense", Movement.patient_id.is_not(None),
            Movement.occurred_at >= since, Movement.occurred_at <= now)):
        p = products.get(m.product_code)
        if p is None:
            continue
        klass = classes[m.product_code]
        if klass not in ("opioid", "benzodiazepine"):
            continue
        unit = unit_mme(p.substance, p.dosage_form, p.strength_mg_per_unit, p.patch_mcg_per_hour)
        days = int(round(days_covered(unit, m.quantity, m.days_supply)))
        d_mme = daily_mme(unit, m.quantity, m.days_supply) if klass == "opioid" else 0.0
        dz = diazepam_mg(p.substance, m.quantity * p.strength_mg_per_unit) / max(days, 1) \
            if klass == "benzodiazepine" else 0.0
        day = lima_day(m.occurred_at).toordinal()
        out.append((m.patient_id, m.prescriber_id, m.establishment_id, klass, day,
                    max(days, 1), d_mme, dz, m.event_id, m.occurred_at))
    return out


def _overlap(fills: list[tuple]) -> tuple[int, float, float]:
    """Days with an opioid and a benzodiazepine both active; peak MME and diazepam mg then."""
    mme: dict[int, float] = defaultdict(float)
    dz: dict[int, float] = defaultdict(float)
    for f in fills:
        for d in range(f[4], f[4] + f[5]):
            if f[3] == "opioid":
                mme[d] += f[6]
            else:
                dz[d] += f[7]
    both = [d for d in mme if d in dz]
    if not both:
        return 0, 0.0, 0.0
    return len(both), max(mme[d] for d in both), max(dz[d] for d in both)


class OpioidBenzodiazepineOverlap(Detector):
    """A patient whose opioid supply overlaps for ``MIN_DAYS`` days or more with a
    benzodiazepine from a prescriber who gave them no opioid: that prescriber did not see the
    whole picture.

    A prescriber who deliberately combines the two is judged by ``coprescribing_prescriber``
    against peers of the same specialty, not here. Severity rises with the days of overlap,
    a peak ≥ 90 MME/day and separate pharmacies (the combination kept apart).
    """

    name = "opioid_benzodiazepine_overlap"
    title = "Opioide y benzodiacepina superpuestos / Opioid and benzodiazepine overlap"
    subject_kind = "patient"
    topics = ("patient_safety", "prescribing")
    thresholds = {"overlap days": "≥ 14",
                  "with": "a benzodiazepine from a prescriber who gave the patient no opioid"}
    evidence_fields = ("overlap_days", "peak_mme", "peak_diazepam_mg", "prescribers",
                       "establishments", "event_ids")

    MIN_DAYS = 14

    def run(self, session: Session, now: dt.datetime, ctx: DetectionContext) -> list[AlertDraft]:
        by_patient: dict[str, list[tuple]] = defaultdict(list)
        for f in _fills(session, now):
            by_patient[f[0]].append(f)
        out = []
        for psn, fills in sorted(by_patient.items()):
            if {f[3] for f in fills} != {"opioid", "benzodiazepine"}:
                continue
            opioids = [f for f in fills if f[3] == "opioid"]
            opioid_by = {f[1] for f in opioids}
            # Benzodiazepines from prescribers who gave this patient no opioid: nobody who
            # prescribed them saw the opioid (a prescriber who combines both is judged by
            # coprescribing_prescriber).
            outside = [f for f in fills if f[3] == "benzodiazepine" and f[1] not in opioid_by]
            if not outside:
                continue
            days, peak_mme, peak_dz = _overlap(opioids + outside)
            if days < self.MIN_DAYS:
                continue
            prescribers = sorted({f[1] for f in fills if f[1]})
            apart = not ({f[2] for f in opioids} & {f[2] for f in outside})
            strength = (0.2 + 0.15 * apart + 0.15 * (peak_mme >= 90)
                        + min(0.2, days / 365))
            ests = sorted({f[2] for f in fills})
            t0 = to_epoch(min(f[9] for f in fills))
            t1 = to_epoch(max(f[9] for f in fills))
            summary = (f"Paciente {psn}: opioide y benzodiacepina a la vez durante {days} días "
                       f"(hasta {fmt(peak_mme)} MME/día y {fmt(peak_dz)} mg de diazepam/día), "
                       f"de {len(prescribers)} prescriptor(es) en {len(ests)} establecimiento(s).")
            est = session.get(Establishment, ests[0])
            out.append(self.draft(
                psn, t0, t1, strength, peak_mme * days, summary,
                {"overlap_days": days, "peak_mme": round(peak_mme, 1),
                 "peak_diazepam_mg": round(peak_dz, 1), "prescribers": prescribers,
                 "establishments": ests, "separate_pharmacies": apart,
                 "event_ids": [f[8] for f in fills][:50]},
                department=est.department if est else None, ubigeo=est.ubigeo if est else None))
        return out


class CoprescribingPrescriber(Detector):
    """A prescriber who gives both an opioid and a benzodiazepine, overlapping, to a larger share
    of their opioid patients than peers of the same specialty do.

    Binomial tail against the pooled rate of the specialty's other prescribers (the national
    rate when the specialty has fewer than 5 prescribers), Benjamini–Hochberg at q = 5 % over
    prescribers; at least 3 such patients and twice the peer rate.
    """

    name = "coprescribing_prescriber"
    title = ("Coprescripción de opioides y benzodiacepinas / "
             "Opioid and benzodiazepine co-prescribing")
    subject_kind = "professional"
    topics = ("prescribing", "patient_safety")
    thresholds = {"patients with both": "≥ 3 and ≥ 2× the peer rate", "BH q": "5 %",
                  "opioid patients": "≥ 10"}
    evidence_fields = ("coprescribed_patients", "opioid_patients", "rate", "peer_rate", "p_value",
                       "specialty")

    MIN_PATIENTS = 10
    Q = 0.05

    def run(self, session: Session, now: dt.datetime, ctx: DetectionContext) -> list[AlertDraft]:
        fills = _fills(session, now)
        if not fills:
            return []
        per: dict[str, dict[str, list[tuple]]] = defaultdict(lambda: defaultdict(list))
        for f in fills:
            if f[1]:
                per[f[1]][f[0]].append(f)
        stats: dict[str, tuple[int, int]] = {}
        for pid, patients in per.items():
            opioid = [p for p, fs in patients.items() if any(f[3] == "opioid" for f in fs)]
            both = [p for p in opioid if _overlap(patients[p])[0] > 0]
            stats[pid] = (len(both), len(opioid))
        pros = {p.professional_id: p for p in session.scalars(select(Professional).where(
            Professional.professional_id.in_(list(stats))))}
        spec = {pid: (pros[pid].specialty if pid in pros else None) or "unknown" for pid in stats}
        total_k = sum(k for k, _ in stats.values())
        total_n = sum(n for _, n in stats.values())
        cand, pvals = [], []
        for pid, (k, n) in stats.items():
            if n < self.MIN_PATIENTS or k < 3:
                continue
            peers = [q for q in stats if q != pid and spec[q] == spec[pid]]
            pk = sum(stats[q][0] for q in peers)
            pn = sum(stats[q][1] for q in peers)
            if len(peers) < 5 or pn == 0:
                pk, pn = total_k - k, total_n - n
            rate0 = max(pk / pn if pn else 0.0, 0.5 / max(pn, 1))
            if k / n < 2 * rate0:
                continue
            cand.append((pid, k, n, rate0))
            pvals.append(float(binom.sf(k - 1, n, rate0)))
        if not cand:
            return []
        q = false_discovery_control(np.array(pvals))
        out = []
        t0 = to_epoch(now - dt.timedelta(days=LOOKBACK_DAYS))
        for (pid, k, n, rate0), p, qv in zip(cand, pvals, q, strict=True):
            if qv > self.Q:
                continue
            pro = pros.get(pid)
            name = pro.full_name if pro else pid
            summary = (f"{name} ({pid}) dio opioide y benzodiacepina superpuestos a {k} de sus "
                       f"{n} pacientes con opioides ({fmt(100 * k / n)} %), frente a "
                       f"{fmt(100 * rate0)} % entre sus pares de {spec[pid]}.")
            out.append(self.draft(
                pid, t0, to_epoch(now), min(1.0, 0.5 + 0.1 * np.log2(k / n / rate0)), 0.0,
                summary, {"coprescribed_patients": k, "opioid_patients": n,
                          "rate": round(k / n, 3), "peer_rate": round(rate0, 3),
                          "p_value": p, "q_value": float(qv), "specialty": spec[pid]},
                department=pro.department if pro else None,
                ubigeo=pro.ubigeo if pro else None))
        return out
