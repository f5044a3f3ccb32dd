"""Patient-level PDMP indicators: multiple providers, overlapping prescriptions, high daily MME."""

from __future__ import annotations

import datetime as dt

import numpy as np
from sqlalchemy.orm import Session

from centinela.alerts.service import AlertDraft
from centinela.detect.base import Detector, day_str, fmt
from centinela.detect.context import DAY, DetectionContext
from centinela.detect.scoring import calibrate
from centinela.detect.util import (
    dispense_daily_mme,
    groups,
    month_bounds,
    month_index,
    pair_key,
    prescriber_exempt,
)
from centinela.lib.clock import LIMA_OFFSET_S


def _patient_place(ctx: DetectionContext, rows: np.ndarray) -> tuple[str | None, str | None]:
    """Return (department, ubigeo) of a patient: their own ubigeo, else the dispensing place."""
    f = ctx.frame
    depts = f.patient_dept[rows]
    if (depts >= 0).any():
        d = f.deptv.name(int(np.bincount(depts[depts >= 0]).argmax()))
        return d, None
    est = int(np.bincount(f.est[rows][f.est[rows] >= 0]).argmax()) if (f.est[rows] >= 0).any() else -1
    return ctx.est_department(est), (ctx.registry.est_ubigeo[est] if est >= 0 else None)


def _dispenses(ctx: DetectionContext) -> np.ndarray:
    f = ctx.frame
    return np.flatnonzero(f.is_type("dispense") & (f.patient >= 0) & (f.product >= 0))


class DispenseHighMME(Detector):
    """A single dispense whose daily dose (CDC formula) exceeds ``EXTREME_MULTIPLE`` ×
    ``mme_threshold`` — 360 MME/day by default, 1.5× the strongest single presentation at label
    use (a 100 mcg/h patch = 240 MME/day), so no one-unit-at-a-time regimen reaches it. Doses
    between the threshold and this level are the prescriber's and pharmacist's PDMP review, not
    an authority alert; ``high_mme`` judges sustained doses. Whether the patient was
    opioid-naïve (no dispense in the previous 60 days) is reported in the evidence. Oncology and
    palliative-care prescriptions are exempt (CDC guideline scope). One alert per patient and month.
    """

    name = "dispense_high_mme"
    group_under = ("prescriber_volume",)
    title = "Dispensación con dosis diaria alta / Single high-dose dispense"
    tolerates = (
        "doses between the threshold and 4x it (clinical PDMP review, not an authority alert)"
        " and oncology or palliative prescriptions, because label use of the strongest "
        "presentation never reaches the bar. A patient whose every prescriber has an open "
        "prescriber_volume alert (medium+) is graded low and listed under that alert."
    )
    subject_kind = "patient"
    realtime = True
    topics = ("patient_safety",)
    settings_used = ("mme_threshold",)
    thresholds = {"daily MME of one dispense": "> 4 × mme_threshold"}
    evidence_fields = ("observed", "expected", "opioid_naive", "prescribers", "event_ids")

    NAIVE_DAYS, EXTREME_MULTIPLE = 60, 4.0

    def run(self, session: Session, now: dt.datetime, ctx: DetectionContext) -> list[AlertDraft]:
        f = ctx.frame
        thr = ctx.settings.mme_threshold
        rows = _dispenses(ctx)
        if len(rows) == 0:
            return []
        daily, _ = dispense_daily_mme(ctx, rows)
        keep = (daily > thr) & ~prescriber_exempt(ctx, f.prescriber[rows]) & ctx.in_scope[rows]
        keep &= daily > self.EXTREME_MULTIPLE * thr
        rows, daily = rows[keep], daily[keep]
        if len(rows) == 0:
            return []
        naive = _opioid_naive(ctx, session, rows, self.NAIVE_DAYS)
        if len(rows) == 0:
            return []
        month = month_index(f.t[rows])
        key = pair_key(f.patient[rows], month - month.min())
        out = []
        for _, pos in groups(key, np.arange(len(rows))):
            grp = rows[pos]
            peak = float(daily[pos].max())
            pid = f.patv.name(int(f.patient[grp[0]]))
            m0, m1 = month_bounds(int(month[pos[0]]))
            ratio = peak / thr
            strength = 0.5 + 0.25 * min(1.0, np.log(ratio / self.EXTREME_MULTIPLE) / np.log(4.0))
            is_naive = bool(naive[pos].any())
            dept, ubigeo = _patient_place(ctx, grp)
            why = ", sin opioides en los 60 días previos" if is_naive else ""
            summary = (f"El paciente {pid} recibió una dispensación de {fmt(peak)} MME/día, más de "
                       f"{self.EXTREME_MULTIPLE:g} veces el umbral de {fmt(thr)} MME/día{why} "
                       f"({day_str(int(f.t[grp].min()))}).")
            out.append(self.draft(
                pid, m0, m1, strength, float(ctx.row_mme[grp].sum()), summary,
                {"metric": "daily MME of one dispense", "observed": peak, "expected": thr,
                 "opioid_naive": is_naive,
                 "prescribers": sorted({f.profv.name(int(p)) for p in f.prescriber[grp] if p >= 0}),
                 **f.events(grp)},
                department=dept, ubigeo=ubigeo,
            ))
        return out


def _opioid_naive(ctx: DetectionContext, session: Session, rows: np.ndarray, days: int) -> np.ndarray:
    """Return, per dispense row, True when the patient had no dispense in the previous ``days``
    days and the data reach back that far (otherwise the history is unknown: False)."""
    from sqlalchemy import func, select

    from centinela.ledger.records import Movement

    f = ctx.frame
    horizon = days * DAY
    first = session.scalar(select(func.min(Movement.occurred_at))
                           .where(Movement.event_type == "dispense"))
    if first is None:
        return np.zeros(len(rows), bool)
    from centinela.detect.frame import to_epoch

    known = f.t[rows] - horizon >= to_epoch(first)
    pats = sorted({f.patv.name(int(p)) for p in f.patient[rows]})
    prior: dict[str, list[int]] = {}
    for k in range(0, len(pats), 2000):
        chunk = pats[k:k + 2000]
        stmt = select(Movement.patient_id, Movement.occurred_at, Movement.event_id).where(
            Movement.event_type == "dispense", Movement.patient_id.in_(chunk),
            Movement.occurred_at >= first)
        for pid, at, _ in session.execute(stmt):
            prior.setdefault(pid, []).append(to_epoch(at))
    out = np.zeros(len(rows), bool)
    for i, r in enumerate(rows):
        t = int(f.t[r])
        times = prior.get(f.patv.name(int(f.patient[r])), [])
        out[i] = known[i] and not any(t - horizon <= x < t for x in times)
    return out


class MultipleProviders(Detector):
    """Multiple-provider episode (PDMP): ≥ ``pdmp_prescribers`` distinct prescribers and
    ≥ ``pdmp_pharmacies`` distinct dispensing establishments within ``pdmp_window_days``.

    The reported window is the episode with the most providers; strength grows with how far the
    counts exceed the thresholds.
    """

    name = "multiple_providers"
    title = "Múltiples prescriptores y farmacias / Multiple-provider episode"
    tolerates = (
        "care teams sharing one pharmacy and patients seen by fewer providers than the PDMP "
        "thresholds."
    )
    subject_kind = "patient"
    topics = ("doctor_shopping",)
    settings_used = ("pdmp_prescribers", "pdmp_pharmacies", "pdmp_window_days")
    evidence_fields = ("prescribers", "pharmacies", "window_days", "event_ids")

    def run(self, session: Session, now: dt.datetime, ctx: DetectionContext) -> list[AlertDraft]:
        f, s = ctx.frame, ctx.settings
        rows = _dispenses(ctx)
        rows = rows[f.t[rows] >= ctx.start_t - s.pdmp_window_days * DAY]
        if len(rows) == 0:
            return []
        pat = f.patient[rows]
        n_pres = _distinct_per(pat, f.prescriber[rows])
        n_est = _distinct_per(pat, f.est[rows])
        cand = np.flatnonzero((n_pres >= s.pdmp_prescribers) & (n_est >= s.pdmp_pharmacies))
        sel = np.isin(pat, cand)
        win = s.pdmp_window_days * DAY
        out = []
        for p, grp in groups(pat[sel], rows[sel]):
            grp = grp[np.argsort(f.t[grp], kind="stable")]
            t = f.t[grp]
            best = None
            for i in range(len(grp)):
                j = int(np.searchsorted(t, t[i] + win, side="left"))
                w = grp[i:j]
                npres = len({int(x) for x in f.prescriber[w] if x >= 0})
                nest = len({int(x) for x in f.est[w] if x >= 0})
                if npres >= s.pdmp_prescribers and nest >= s.pdmp_pharmacies:
                    level = min(npres / s.pdmp_prescribers, nest / s.pdmp_pharmacies)
                    if best is None or level > best[0]:
                        best = (level, w, npres, nest)
            if best is None or not ctx.in_scope[best[1]].any():
                continue
            level, w, npres, nest = best
            pid = f.patv.name(p)
            strength = min(0.9, 0.5 + 0.4 * np.log2(level))
            dept, ubigeo = _patient_place(ctx, w)
            t0, t1 = int(f.t[w].min()), int(f.t[w].max())
            summary = (f"El paciente {pid} obtuvo opioides de {npres} prescriptores y {nest} "
                       f"farmacias distintas en {(t1 - t0) // DAY + 1} días "
                       f"({day_str(t0)} a {day_str(t1)}).")
            out.append(self.draft(
                pid, t0, t1, strength, float(ctx.row_mme[w].sum()), summary,
                {"metric": "distinct prescribers and pharmacies", "observed":
                 {"prescribers": npres, "pharmacies": nest},
                 "expected": {"prescribers": f"< {s.pdmp_prescribers}",
                              "pharmacies": f"< {s.pdmp_pharmacies}"},
                 "window_days": s.pdmp_window_days,
                 "prescribers": sorted({f.profv.name(int(x)) for x in f.prescriber[w] if x >= 0}),
                 "pharmacies": sorted({f.estv.name(int(x)) for x in f.est[w] if x >= 0}),
                 **f.events(w)},
                department=dept, ubigeo=ubigeo,
            ))
        return out


class OverlappingPrescriptions(Detector):
    """Opioid supplies from different prescribers AND different pharmacies that overlap in time.

    Each dispense covers [date, date + days_supply). An overlap event is a dispense that starts
    while one from another prescriber at another pharmacy still has ≥ 7 days left. Flagged when
    ≥ 2 overlap events add up to ≥ 30 overlapping days in the window (PDMP/PQA practice). The same
    prescriber renewing early, or a palliative team sharing one pharmacy, is not an overlap here.

    Severity follows who is involved: overlaps between exactly two prescribers (a specialist and
    a family doctor, a discharge supply overlapping the usual one) are the most common legitimate
    overlap and are the two prescribers' clinical matter, so they stay a ``low`` PDMP notice;
    from three prescribers on (the lower bar of multiple-provider definitions, e.g. ≥ 3
    prescribers and ≥ 3 pharmacies) the finding is graded by overlap and MME as before. A
    patient with an oncology or palliative-care prescription among the overlaps is co-managed
    by care teams (the oncologist's team and a palliative unit, each with its pharmacy, or a
    family doctor beside them): a ``low`` notice too, but only when that care plausibly explains
    the overlaps — the other prescriptions come from at most one co-managing prescriber, or
    the oncology / palliative prescriptions carry at least half of the MME — and never when
    the other prescriptions come from three or more prescribers or three or more pharmacies
    (one palliative visit among a doctor shopper's prescribers does not make the shopping
    care). A high combined dose is judged separately by ``high_mme``.
    """

    name = "overlapping_prescriptions"
    title = "Prescripciones superpuestas / Overlapping prescriptions"
    tolerates = (
        "early renewals by the same prescriber, palliative teams sharing one pharmacy, and "
        "overlaps shorter than 7 days or totalling less than 30 days; overlaps between only "
        "two prescribers, or explained by an oncology or palliative-care team (at most one "
        "other prescriber, or most of the MME from cancer care; not with 3+ other prescribers "
        "or pharmacies), stay a low-severity notice (shared care, discharge supplies, "
        "co-managed cancer pain)."
    )
    subject_kind = "patient"
    topics = ("doctor_shopping",)
    thresholds = {"overlap per event": "≥ 7 days", "overlap events": "≥ 2",
                  "overlapping days": "≥ 30",
                  "cancer-care notice": "≤ 1 other prescriber or ≥ 50 % of MME from "
                                        "oncology/palliative; < 3 other prescribers and "
                                        "pharmacies"}
    evidence_fields = ("overlap_events", "overlap_days", "prescribers", "pharmacies", "pairs")

    MIN_DAYS, MIN_EVENTS, MIN_TOTAL = 7.0, 2, 30.0
    GRADED_PRESCRIBERS = 3  # fewer prescribers in the overlaps: a low notice
    NOTICE_MAX = 35.0  # below the medium band (40)

    def run(self, session: Session, now: dt.datetime, ctx: DetectionContext) -> list[AlertDraft]:
        f = ctx.frame
        rows = _dispenses(ctx)
        rows = rows[(f.t[rows] >= ctx.start_t - 90 * DAY) & (f.prescriber[rows] >= 0)]
        if len(rows) == 0:
            return []
        pat = f.patient[rows]
        cand = np.flatnonzero((_distinct_per(pat, f.prescriber[rows]) >= 2)
                              & (_distinct_per(pat, f.est[rows]) >= 2))
        sel = np.isin(pat, cand)
        rows, pat = rows[sel], pat[sel]
        _, days_all = dispense_daily_mme(ctx, rows)
        days_of = dict(zip(rows.tolist(), days_all.tolist(), strict=True))
        out = []
        for p, grp in groups(pat, rows):
            grp = grp[np.argsort(f.t[grp], kind="stable")]
            start = f.t[grp] / DAY
            end = start + np.array([days_of[int(i)] for i in grp])
            events, partners, pairs, total = [], set(), [], 0.0
            for k in range(1, len(grp)):
                prev = np.arange(k)
                other = (f.prescriber[grp[prev]] != f.prescriber[grp[k]]) & (
                    f.est[grp[prev]] != f.est[grp[k]])
                left = np.minimum(end[prev], end[k]) - start[k]
                ok = other & (left >= self.MIN_DAYS)
                if ok.any():
                    j = prev[ok][np.argmax(left[ok])]
                    events.append(k)
                    partners.add(int(j))
                    total += float(left[j])
                    pairs.append([*f.event_id_list([grp[j], grp[k]]), round(float(left[j]), 1)])
            if len(events) < self.MIN_EVENTS or total < self.MIN_TOTAL:
                continue
            involved = grp[sorted(set(events) | partners)]
            if not ctx.in_scope[involved].any():
                continue
            pid = f.patv.name(p)
            t0, t1 = int(f.t[grp[events[0]]]), int(f.t[grp[events[-1]]])
            strength = min(0.85, 0.45 + 0.1 * (len(events) - 1) + 0.002 * total)
            dept, ubigeo = _patient_place(ctx, grp)
            summary = (f"El paciente {pid} acumuló {len(events)} prescripciones de opioides que se "
                       f"superponen con las de otro prescriptor y otra farmacia ({fmt(total)} días "
                       f"superpuestos) entre {day_str(t0)} y {day_str(t1)}.")
            n_presc = int(len(np.unique(f.prescriber[involved])))
            n_pharm = int(len(np.unique(f.est[involved])))
            score = None
            cancer_care = self._cancer_care_explains(ctx, involved)
            if n_presc < self.GRADED_PRESCRIBERS or cancer_care:
                summary += (" Paciente en cuidado oncológico o paliativo: aviso clínico para que "
                            "los equipos coordinen (PDMP)." if cancer_care else
                            " Solo dos prescriptores: aviso clínico para que coordinen (PDMP).")
                score = min(calibrate(strength, float(ctx.row_mme[involved].sum()))[0],
                            self.NOTICE_MAX)
            out.append(self.draft(
                pid, t0, t1, strength, float(ctx.row_mme[involved].sum()), summary,
                {"metric": "overlapping days from other prescribers and pharmacies",
                 "observed": round(total, 1), "expected": f"< {self.MIN_TOTAL:.0f}",
                 "overlap_events": len(events), "prescribers": n_presc, "pharmacies": n_pharm,
                 "pairs": pairs[:20], **f.events(involved)},
                department=dept, ubigeo=ubigeo, score=score,
            ))
        return out

    def _cancer_care_explains(self, ctx: DetectionContext, involved: np.ndarray) -> bool:
        """Return True when oncology or palliative care plausibly explains the overlaps: at
        most one other (co-managing) prescriber, or the cancer-care prescriptions carry most of
        the MME — and never when the other prescriptions come from three or more prescribers
        or three or more pharmacies (one palliative visit does not cover a doctor shopper)."""
        f = ctx.frame
        onc = prescriber_exempt(ctx, f.prescriber[involved])
        if not onc.any():
            return False
        rest = involved[~onc]
        others = len(np.unique(f.prescriber[rest]))
        if (others >= self.GRADED_PRESCRIBERS
                or len(np.unique(f.est[rest])) >= self.GRADED_PRESCRIBERS):
            return False
        mme = ctx.row_mme[involved]
        return bool(others <= 1 or mme[onc].sum() >= 0.5 * mme.sum())


class HighMME(Detector):
    """Sustained high daily dose with a risk multiplier: concurrent supplies add up to
    ≥ ``mme_threshold`` MME/day for ≥ 14 days, AND during that period either two opioids or two
    prescribers overlap (≥ 7 days), or the peak exceeds 4 × the threshold. A stable high dose
    from one prescriber (typical of cancer pain) is left to the clinician's PDMP review. Oncology
    and palliative-care prescriptions are exempt from the threshold (CDC guideline scope) but not
    from implausibility: a patient with any such prescription in the period is under cancer or
    palliative care (the guideline's scope is the patient, so a family doctor's tablets beside
    the oncologist's patches, or a rotation from one opioid to another, are not unsupervised
    high dosing) and is flagged only when the peak exceeds 4 × the threshold AND two opioids
    overlap. An early refill of the
    same substance starts when the previous supply ends (PQA carry-over), so stockpiling does
    not read as a doubled dose (it shows in the prescriber's and patient's other indicators).
    Harm grows with dose and duration: an acute episode (fewer than 30 days at or above the
    threshold: a post-operative course, a pain crisis bridged by a second prescriber; CDC 2022
    calls opioid use of under a month acute) whose peak stays below 2 × the threshold is a
    ``low`` notice for the patient's clinicians; subacute or chronic use, or a higher peak, is
    graded as usual.
    """

    name = "high_mme"
    group_under = ("prescriber_volume",)
    title = "Dosis diaria alta sostenida / Sustained high daily MME"
    tolerates = (
        "stable high doses from one prescriber (cancer pain), patients under oncology or "
        "palliative care (any such prescription in the period; CDC scope is the patient) "
        "below 4x the threshold or on one opioid (a low notice when every supply came from "
        "that care), and early refills. An acute episode "
        "(< 30 days at or above the threshold) with a peak below 2x the threshold is a low "
        "notice, not an alert for the authorities. A patient whose every prescriber has an "
        "open prescriber_volume alert (medium+) is graded low and listed under that alert "
        "(one root cause, one alert)."
    )
    subject_kind = "patient"
    topics = ("patient_safety",)
    settings_used = ("mme_threshold",)
    thresholds = {"days at or above the threshold": "≥ 14",
                  "graded above low": "≥ 30 days at or above the threshold, or peak ≥ 2 × threshold",
                  "risk multiplier": "2 opioids or 2 prescribers overlapping ≥ 7 days, or peak > 4 × threshold"}
    evidence_fields = ("observed", "expected", "days_above", "risk_factors", "event_ids")

    MIN_DAYS, OVERLAP_DAYS, EXTREME_MULTIPLE = 14, 7, 4.0
    ACUTE_DAYS, ACUTE_MULTIPLE, NOTICE_MAX = 30, 2.0, 35.0  # NOTICE_MAX: below medium (40)

    def run(self, session: Session, now: dt.datetime, ctx: DetectionContext) -> list[AlertDraft]:
        f = ctx.frame
        thr = ctx.settings.mme_threshold
        rows = _dispenses(ctx)
        rows = rows[f.t[rows] >= ctx.start_t - 90 * DAY]
        if len(rows) == 0:
            return []
        exempt = dict(zip(rows.tolist(), prescriber_exempt(ctx, f.prescriber[rows]).tolist(),
                          strict=True))
        daily, days = dispense_daily_mme(ctx, rows)
        start, end = _carry_over(ctx, rows, ctx.row_day[rows], np.ceil(days).astype(np.int64))
        pat = f.patient[rows]
        # Sweep of +dose at start and −dose at end, per patient (global cumsum works because each
        # patient's deltas sum to zero).
        ev_p = np.concatenate([pat, pat])
        ev_d = np.concatenate([start, end])
        ev_v = np.concatenate([daily, -daily])
        order = np.lexsort((ev_v, ev_d, ev_p))
        ev_p, ev_d, ev_v = ev_p[order], ev_d[order], ev_v[order]
        level = np.cumsum(ev_v)
        nxt = np.append(ev_d[1:], ev_d[-1])
        same = np.append(ev_p[1:] == ev_p[:-1], False)
        seg = np.where(same, nxt - ev_d, 0)
        above = (level >= thr - 1e-9) & (seg > 0) & (ev_d + seg > ctx.start_t // DAY)
        days_above = np.bincount(ev_p[above], weights=seg[above], minlength=len(f.patv))
        cand = np.flatnonzero(days_above >= self.MIN_DAYS)
        firsts = np.flatnonzero(np.r_[True, ev_p[1:] != ev_p[:-1]])
        lasts = np.r_[firsts[1:], len(ev_p)]
        cset = set(cand.tolist())
        bounds = {int(ev_p[a]): (int(a), int(b)) for a, b in zip(firsts, lasts, strict=True)
                  if int(ev_p[a]) in cset}
        out = []
        for p, grp in groups(pat[np.isin(pat, cand)], np.flatnonzero(np.isin(pat, cand))):
            lo, hi = bounds[p]
            m = above[lo:hi]
            d0, d1 = int(ev_d[lo:hi][m].min()), int((ev_d[lo:hi] + seg[lo:hi])[m].max())
            peak = float(level[lo:hi][m].max())
            g = rows[grp]
            inside = g[(start[grp] < d1) & (end[grp] > d0)]
            risks = self._risk_factors(ctx, inside, start, end, rows, peak / thr)
            if not risks:
                continue
            cared = [exempt[int(i)] for i in inside]
            if any(cared) and not {"extreme_dose", "two_opioids"} <= set(risks):
                # A patient under cancer or palliative care (the CDC guideline's scope is the
                # patient, not each prescription: a family doctor's tablets beside the
                # oncologist's patches, an opioid rotation): only an implausible regimen.
                continue
            # Every supply from oncology or palliative care: a patch with morphine or methadone
            # for breakthrough pain at a high dose is that care's ordinary regimen, the
            # clinicians' matter (a low notice), not the authorities'.
            palliative_only = bool(cared) and all(cared)
            pid = f.patv.name(p)
            ratio = peak / thr
            strength = min(0.85, 0.45 + 0.15 * np.log2(max(ratio, 1.0)) + 0.05 * len(risks))
            dept, ubigeo = _patient_place(ctx, g)
            t0, t1 = d0 * DAY - LIMA_OFFSET_S, d1 * DAY - LIMA_OFFSET_S - 1
            # "Received supply for", not "kept": the days are those the dispensed supply
            # covers, which may reach past the day of the judgement.
            summary = (f"El paciente {pid} recibió suministro para {fmt(float(days_above[p]))} "
                       f"días de una dosis combinada ≥ {fmt(thr)} MME/día (máximo {fmt(peak)}) "
                       f"entre {day_str(t0)} y "
                       f"{day_str(t1)}, con factores de riesgo: "
                       f"{', '.join(RISK_ES.get(r, r) for r in risks)}.")
            mme_total = float(ctx.row_mme[inside].sum())
            score = None
            if days_above[p] < self.ACUTE_DAYS and ratio < self.ACUTE_MULTIPLE:
                score = min(calibrate(strength, mme_total)[0], self.NOTICE_MAX)
                summary += (" Episodio agudo (menos de 30 días, menos del doble del umbral): "
                            "aviso para los clínicos del paciente.")
            elif (risks == ["two_opioids"] and ratio < self.ACUTE_MULTIPLE
                  and len({int(x) for x in f.prescriber[inside]}) == 1):
                # One prescriber's basal and breakthrough opioids below twice the threshold:
                # a planned regimen, the clinicians' matter.
                score = min(calibrate(strength, mme_total)[0], self.NOTICE_MAX)
                summary = summary[:-1] + (", de un solo prescriptor (régimen de base y rescate): "
                                          "aviso para los clínicos del paciente.")
            elif palliative_only:
                score = min(calibrate(strength, mme_total)[0], self.NOTICE_MAX)
                summary = summary[:-1] + (", todo recetado por oncología o cuidados paliativos: "
                                          "aviso para los clínicos del paciente.")
            out.append(self.draft(
                pid, t0, t1, strength, mme_total, summary,
                {"metric": "concurrent daily MME", "observed": peak, "expected": thr,
                 "days_above": float(days_above[p]), "risk_factors": risks,
                 "prescribers": sorted({f.profv.name(int(x)) for x in f.prescriber[inside] if x >= 0}),
                 **f.events(inside)},
                department=dept, ubigeo=ubigeo, score=score,
            ))
        return out

    def _risk_factors(self, ctx, inside, start, end, rows, ratio) -> list[str]:
        return _risk_factors_impl(ctx, inside, start, end, rows, ratio, self.OVERLAP_DAYS,
                                  self.EXTREME_MULTIPLE)


def _carry_over(ctx: DetectionContext, rows: np.ndarray, start: np.ndarray,
                days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shift each refill of the same patient and substance to start when the previous supply
    ends (PQA proportion-of-days-covered method); return (start, end) day numbers."""
    f, reg = ctx.frame, ctx.registry
    sub_codes = {s: i for i, s in enumerate(sorted({x or "" for x in reg.prod_substance}))}
    sub = np.array([sub_codes[reg.prod_substance[int(p)] or ""] for p in f.product[rows]])
    key = f.patient[rows].astype(np.int64) * (len(sub_codes) + 1) + sub
    order = np.lexsort((start, key))
    s_out = start.astype(np.int64).copy()
    e_out = s_out + days
    prev_key, prev_end = -1, 0
    for i in order:
        if key[i] == prev_key and s_out[i] < prev_end:
            s_out[i] = prev_end
            e_out[i] = prev_end + days[i]
        prev_key, prev_end = key[i], e_out[i]
    return s_out, e_out


# The risk factors as a Spanish summary names them (the evidence keeps the codes).
RISK_ES = {"extreme_dose": "dosis extrema", "two_opioids": "dos opioides a la vez",
           "two_prescribers": "dos prescriptores a la vez"}


MAX_PAIRWISE = 1000  # dispensations of one episode compared pairwise at most (1 M pairs)


def _risk_factors_impl(ctx, inside, start, end, rows, ratio, overlap_days, extreme) -> list[str]:
    f, reg = ctx.frame, ctx.registry
    risks = {"extreme_dose"} if ratio > extreme else set()
    prod = f.product[inside]
    pres = f.prescriber[inside]
    subs = np.array([hash(reg.prod_substance[int(p)]) for p in prod])
    if len(np.unique(subs)) < 2 and len(np.unique(pres)) < 2:
        return sorted(risks)
    pos = np.searchsorted(rows, inside)
    s, e = start[pos], end[pos]
    if len(inside) > MAX_PAIRWISE:
        # The pairwise overlap is O(n²) in memory: a patient with thousands of dispensations
        # in one episode (a runaway batch) is judged on the MAX_PAIRWISE largest supplies.
        keep = np.argsort(-ctx.row_mme[inside], kind="stable")[:MAX_PAIRWISE]
        s, e, subs, pres = s[keep], e[keep], subs[keep], pres[keep]
    overlap = (np.minimum(e[:, None], e[None, :]) - np.maximum(s[:, None], s[None, :])) >= overlap_days
    np.fill_diagonal(overlap, False)
    if (overlap & (subs[:, None] != subs[None, :])).any():
        risks.add("two_opioids")
    if (overlap & (pres[:, None] != pres[None, :])).any():
        risks.add("two_prescribers")
    return sorted(risks)


def _distinct_per(group: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Return, for every group code, the number of distinct non-negative ``value`` codes."""
    ok = value >= 0
    if not ok.any():
        return np.zeros(int(group.max(initial=0)) + 1, np.int64)
    pairs = np.unique(pair_key(group[ok], value[ok]))
    width = int(value[ok].max()) + 1
    return np.bincount((pairs // width).astype(np.int64), minlength=int(group.max(initial=0)) + 1)
